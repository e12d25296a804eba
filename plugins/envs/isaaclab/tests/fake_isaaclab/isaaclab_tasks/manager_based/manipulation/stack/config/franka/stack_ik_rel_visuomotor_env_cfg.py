"""Fake ``FrankaCubeStackVisuomotorEnvCfg``: 84x84 table_cam and wrist_cam, terminations incl. 'success'."""

from isaaclab.envs import ManagerBasedRLEnvCfg
from isaaclab.managers import TerminationTermCfg

from isaaclab_tasks.manager_based.manipulation.stack import mdp


class CameraCfg:
    def __init__(self, height: int, width: int) -> None:
        self.height = height
        self.width = width


class TerminationsCfg:
    def __init__(self) -> None:
        self.time_out = TerminationTermCfg(func=mdp.time_out, time_out=True)
        self.cube_1_dropping = TerminationTermCfg(func=mdp.eef_below, params={"minimum_height": -0.2})
        self.success = TerminationTermCfg(func=mdp.cubes_stacked)


class FrankaCubeStackVisuomotorEnvCfg(ManagerBasedRLEnvCfg):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.terminations = TerminationsCfg()
        self.rewards = None  # the real stack cfg has no reward terms
        self.scene.wrist_cam = CameraCfg(84, 84)
        self.scene.table_cam = CameraCfg(84, 84)
        self.image_obs_list = ["table_cam", "wrist_cam"]
