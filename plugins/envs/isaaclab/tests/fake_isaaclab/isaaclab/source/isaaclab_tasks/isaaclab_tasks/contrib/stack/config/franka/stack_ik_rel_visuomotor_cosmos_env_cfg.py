from isaaclab_tasks._stack_cfgs import FrankaCubeStackVisuomotorCosmosEnvCfg

__all__ = ["FrankaCubeStackVisuomotorCosmosEnvCfg"]
