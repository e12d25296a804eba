"""The fake stack cfgs (shared by the 2.3 and 3.0 trees): 200x200 table_cam and wrist_cam, terminations incl.
'success', no reward terms, like ``stack_ik_rel_visuomotor_env_cfg.py`` / ``..._cosmos_env_cfg.py`` of both wheels."""

from isaaclab.envs import ManagerBasedRLEnvCfg
from isaaclab.managers import TerminationTermCfg

from isaaclab_tasks import _stack_mdp as mdp


class CameraCfg:
    def __init__(self, height: int, width: int) -> None:
        self.height = height
        self.width = width


class TerminationsCfg:
    def __init__(self) -> None:
        self.time_out = TerminationTermCfg(func=mdp.time_out, time_out=True)
        self.cube_1_dropping = TerminationTermCfg(func=mdp.eef_below, params={"minimum_height": -0.2})
        self.cube_2_dropping = TerminationTermCfg(func=mdp.eef_below, params={"minimum_height": -0.3})
        self.cube_3_dropping = TerminationTermCfg(func=mdp.eef_below, params={"minimum_height": -0.4})
        self.success = TerminationTermCfg(func=mdp.cubes_stacked)


class FrankaCubeStackVisuomotorEnvCfg(ManagerBasedRLEnvCfg):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.terminations = TerminationsCfg()
        self.rewards = None  # the real stack cfg has no reward terms
        self.scene.wrist_cam = CameraCfg(200, 200)
        self.scene.table_cam = CameraCfg(200, 200)
        self.image_obs_list = ["table_cam", "wrist_cam"]


class FrankaCubeStackVisuomotorCosmosEnvCfg(FrankaCubeStackVisuomotorEnvCfg):
    """Adds segmentation / normals / depth terms in the real one; same cameras (200x200)."""
