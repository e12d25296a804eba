"""Registration of the ``behavior`` env plugin (light: imports no OmniGibson, torch or numpy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import vlarl


@dataclass
class BehaviorEnvConfig:
    activity_name: str = "turning_on_radio"
    """A BEHAVIOR-1K activity, e.g. one of the 50 tasks of the 2025 challenge."""
    instance_ids: list[int] = field(default_factory=lambda: [0])
    """Cached task instances to draw from: a reset with seed s loads ``instance_ids[s % len]``."""
    activity_definition_id: int = 0
    scene_model: str | None = None
    """Scene of the cached instances; found from the task-instance folders when left unset."""
    num_envs: int = 2
    envs_per_worker: int = 2
    """OmniGibson environments per worker process (they share one Kit app and one physics scene)."""
    max_episode_steps: int = 2000
    image_size: int = 224
    """Side of the square ``images`` / ``wrist_images`` returned (resized from the camera resolution)."""
    head_resolution: int = 720
    wrist_resolution: int = 480
    physics_frequency: float = 120.0
    action_frequency: float = 30.0
    rendering_frequency: float = 30.0
    proprio_obs: list[str] | None = None
    """R1 Pro proprioception keys concatenated into ``states``; None = the full 256-dim challenge layout."""
    reward_coef: float = 1.0
    """Sparse reward: ``reward_coef`` on the step the task's success condition holds, else 0."""
    ignore_terminations: bool = False
    """Keep running after success (success_at_end then tells whether it still holds at the end)."""
    task_description: str = ""
    """Overrides the instruction looked up for the activity."""
    task_descriptions_file: str = ""
    """A JSONL file of {"task_name": ..., "task": ...} lines (e.g. the challenge's tasks.jsonl)."""
    gpu_id: int | None = None
    """GPU for the workers' Kit apps (OMNIGIBSON_GPU_ID); None lets Isaac Sim choose."""
    allow_non_rtx_gpu: bool = False
    """Start on GPUs without RT cores (A100, H100...): it runs, but renders badly."""
    settle_steps: int = 25
    """Physics steps after loading a cached instance, so objects come to rest."""
    isolate_resets: bool = True
    """Envs of a worker share one physics scene: save the state of the envs not being reset and restore it after
    the reset's physics steps, so their episodes do not move unrecorded."""
    startup_retries: int = 3
    startup_retry_delay: float = 5.0
    startup_backoff: float = 2.0
    startup_timeout: float = 900.0
    """Seconds a worker may take to launch Isaac Sim and load its scenes."""
    step_timeout: float = 300.0
    omni_overrides: dict[str, Any] = field(default_factory=dict)
    """Merged last into the OmniGibson config dict (sections env/render/scene/robots/task)."""


REQUIREMENTS = (
    vlarl.Requirement(
        "python",
        "omnigibson",
        "install BEHAVIOR-1K 3.7 or current main (git clone https://github.com/StanfordVL/BEHAVIOR-1K && "
        "./setup.sh --omnigibson --bddl --joylo --dataset)",
    ),
    vlarl.Requirement(
        "env_var",
        "ISAAC_PATH",
        "install the Isaac Sim BEHAVIOR-1K's setup.sh names (4.5 for 3.7) and export ISAAC_PATH=/path/to/isaac-sim",
        path=True,
    ),
    vlarl.Requirement(
        "env_var",
        "OMNIGIBSON_DATA_PATH",
        "export OMNIGIBSON_DATA_PATH=/path/to/BEHAVIOR-1K-datasets and download the robot assets, the "
        "BEHAVIOR-1K assets and the 2025 challenge task instances (omnigibson.utils.asset_utils)",
        path=True,
    ),
    vlarl.Requirement(
        "command",
        "nvidia-smi",
        "run on a machine with an RTX-class NVIDIA GPU (driver >= 535.129; >= 570 on Hopper/Blackwell)",
    ),
)


@vlarl.hookimpl
def vlarl_register() -> list[vlarl.PluginSpec]:
    return [
        vlarl.PluginSpec(
            kind="env",
            name="behavior",
            factory="vlarl_behavior.env:make_env",
            description=(
                "BEHAVIOR-1K household activities on the R1 Pro (OmniGibson / Isaac Sim): head + 2 wrist cameras, "
                "23-dim whole-body action, sparse success reward."
            ),
            config=BehaviorEnvConfig,
            requirements=REQUIREMENTS,
        )
    ]
