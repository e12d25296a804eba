"""Fake ``FrankaCubeStackVisuomotorCosmosEnvCfg``: the visuomotor cfg with 200x200 cameras."""

from . import stack_ik_rel_visuomotor_env_cfg


class FrankaCubeStackVisuomotorCosmosEnvCfg(stack_ik_rel_visuomotor_env_cfg.FrankaCubeStackVisuomotorEnvCfg):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.scene.wrist_cam = stack_ik_rel_visuomotor_env_cfg.CameraCfg(200, 200)
        self.scene.table_cam = stack_ik_rel_visuomotor_env_cfg.CameraCfg(200, 200)
