from isaaclab_tasks._stack_cfgs import CameraCfg, FrankaCubeStackVisuomotorEnvCfg, TerminationsCfg

__all__ = ["CameraCfg", "FrankaCubeStackVisuomotorEnvCfg", "TerminationsCfg"]
