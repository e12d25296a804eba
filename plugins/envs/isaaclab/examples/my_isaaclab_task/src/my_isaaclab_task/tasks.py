"""Registers the task with gymnasium (imported inside the simulator worker, after the app launched)."""

import gymnasium as gym
from isaaclab.utils import configclass

try:  # IsaacLab 3.x moved the stack task to isaaclab_tasks/contrib
    from isaaclab_tasks.contrib.stack.config.franka.stack_ik_rel_visuomotor_env_cfg import (
        FrankaCubeStackVisuomotorEnvCfg,
    )
except ImportError:  # IsaacLab 2.x
    from isaaclab_tasks.manager_based.manipulation.stack.config.franka.stack_ik_rel_visuomotor_env_cfg import (
        FrankaCubeStackVisuomotorEnvCfg,
    )


@configclass
class ReachEnvCfg(FrankaCubeStackVisuomotorEnvCfg):
    """The stack-cube scene with a shorter episode; a real task would change scene and terms here."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.episode_length_s = 10.0


gym.register(
    id="Vlarl-Example-Reach-Franka-v0",
    entry_point="isaaclab.envs:ManagerBasedRLEnv",
    kwargs={"env_cfg_entry_point": f"{__name__}:ReachEnvCfg"},
    disable_env_checker=True,
)
