"""Registers the fake stack-cube ids, like the real ``config/franka/__init__.py`` does."""

import gymnasium as gym

from . import stack_ik_rel_visuomotor_cosmos_env_cfg, stack_ik_rel_visuomotor_env_cfg

gym.register(
    id="Isaac-Stack-Cube-Franka-IK-Rel-Visuomotor-v0",
    entry_point="isaaclab.envs:ManagerBasedRLEnv",
    kwargs={"env_cfg_entry_point": stack_ik_rel_visuomotor_env_cfg.FrankaCubeStackVisuomotorEnvCfg},
    disable_env_checker=True,
)
gym.register(
    id="Isaac-Stack-Cube-Franka-IK-Rel-Visuomotor-Cosmos-v0",
    entry_point="isaaclab.envs:ManagerBasedRLEnv",
    kwargs={"env_cfg_entry_point": stack_ik_rel_visuomotor_cosmos_env_cfg.FrankaCubeStackVisuomotorCosmosEnvCfg},
    disable_env_checker=True,
)
