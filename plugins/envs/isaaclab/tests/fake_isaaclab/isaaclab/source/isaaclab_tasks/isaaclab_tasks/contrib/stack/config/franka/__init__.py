"""Registers the fake 3.0 stack-cube ids, like the real ``contrib/stack/config/franka/__init__.py`` (no -v0)."""

import gymnasium as gym

gym.register(
    id="IsaacContrib-Stack-Cube-Franka-IK-Rel-Visuomotor",
    entry_point="isaaclab.envs:ManagerBasedRLEnv",
    kwargs={"env_cfg_entry_point": f"{__name__}.stack_ik_rel_visuomotor_env_cfg:FrankaCubeStackVisuomotorEnvCfg"},
    disable_env_checker=True,
)
gym.register(
    id="IsaacContrib-Stack-Cube-Franka-IK-Rel-Visuomotor-Cosmos",
    entry_point="isaaclab.envs:ManagerBasedRLEnv",
    kwargs={
        "env_cfg_entry_point": (
            f"{__name__}.stack_ik_rel_visuomotor_cosmos_env_cfg:FrankaCubeStackVisuomotorCosmosEnvCfg"
        )
    },
    disable_env_checker=True,
)
