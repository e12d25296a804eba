"""Read LIBERO-format HDF5 demonstrations into one in-memory dataset of (observation, action chunk) samples."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from vlarl.contracts.dataset import DemoBatch, DemoDataset, action_chunks
from vlarl.contracts.spaces import ObservationSpec
from vlarl.errors import ConfigError
from vlarl_libero_hdf5.layout import CAMERA_KEYS, LIBERO_ACTION_SPEC, OBJECT_KEY, ROBOT_STATE_NAMES
from vlarl_libero_hdf5.register import LiberoHDF5Config


@dataclass
class Episode:
    task: str
    actions: np.ndarray  # [T, A] float32
    robot_states: np.ndarray  # [T, 8] float32
    objects: dict[str, np.ndarray]  # state name -> [T] (privileged dims)
    images: dict[str, np.ndarray]  # observation key -> [T, 3, H, W] uint8, upright


def list_files(paths: list[str]) -> list[Path]:
    if not paths:
        raise ConfigError("dataset.paths is empty.", "Set dataset.paths to LIBERO .hdf5 files or directories of them.")
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(p.glob("*.hdf5"))
            if not found:
                raise ConfigError(
                    f"Dataset directory {p} holds no .hdf5 file.", "Collect demonstrations into it first."
                )
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise ConfigError(f"Dataset path {p} does not exist.", "Fix dataset.paths.")
    return files


def _require(group: Any, key: str, file: Path, expected: str) -> Any:
    if key not in group:
        raise ConfigError(
            f"{file}: key '{group.name.rstrip('/')}/{key}' is missing (expected {expected}).",
            "Pass a LIBERO-format HDF5 file (data/demo_<i>/actions, obs/ee_states, obs/gripper_states, ...).",
        )
    return group[key]


def _task_description(data: Any, file: Path) -> str:
    # The collector stores the env's own task text (LIBERO's task.language); problem_info's instruction is the
    # BDDL's wording, which can differ from what the env returns and so from a task embedding's vocabulary.
    own = data.attrs.get("vlarl_task_description")
    if own:
        return " ".join(str(own).split())
    info = data.attrs.get("problem_info")
    if info is not None:
        text = json.loads(info).get("language_instruction")
        if text:
            return " ".join(str(text).split())
    # LIBERO names its files after the task: pick_up_the_black_bowl_..._demo.hdf5
    return file.stem.removesuffix("_demo").replace("_", " ")


def _demo_names(data: Any, file: Path) -> list[str]:
    names = sorted((k for k in data if k.startswith("demo_")), key=lambda k: int(k.split("_")[1]))
    if not names:
        raise ConfigError(
            f"{file}: no demonstrations (no data/demo_<i> groups).", "Collect or download demonstrations."
        )
    return names


def _read_episode(demo: Any, file: Path, task: str, cfg: LiberoHDF5Config, upside_down: bool) -> Episode:
    where = f"{file}: {demo.name}"
    actions = np.asarray(_require(demo, "actions", file, "float [T, 7]"), dtype=np.float32)
    if actions.ndim != 2 or actions.shape[1] != LIBERO_ACTION_SPEC.dim or len(actions) == 0:
        raise ConfigError(
            f"{where}/actions has shape {actions.shape}; expected [T, {LIBERO_ACTION_SPEC.dim}] with T >= 1.",
            "LIBERO actions are 7-dim delta end-effector commands plus the gripper.",
        )
    obs = _require(demo, "obs", file, "a group of observations")
    if "ee_states" in obs:
        ee = np.asarray(obs["ee_states"], dtype=np.float32)
    else:
        pos = np.asarray(_require(obs, "ee_pos", file, "float [T, 3]"), dtype=np.float32)
        ee = np.concatenate([pos, np.asarray(_require(obs, "ee_ori", file, "float [T, 3]"), dtype=np.float32)], 1)
    grip = np.asarray(_require(obs, "gripper_states", file, "float [T, 2]"), dtype=np.float32)
    robot = np.concatenate([ee, grip], axis=1) if ee.ndim == 2 and grip.ndim == 2 else ee
    if robot.shape != (len(actions), len(ROBOT_STATE_NAMES)):
        raise ConfigError(
            f"{where}: obs/ee_states + obs/gripper_states give {robot.shape}; expected [{len(actions)}, 8].",
            "Observations and actions must have one row per step.",
        )
    objects: dict[str, np.ndarray] = {}
    if cfg.privileged_state:
        ds = _require(obs, "object", file, "float [T, 7 x objects] with a 'names' attribute (privileged_state)")
        names = [str(n) for n in ds.attrs.get("names", [])]
        values = np.asarray(ds, dtype=np.float32)
        if values.shape != (len(actions), len(names)):
            raise ConfigError(
                f"{where}/{OBJECT_KEY.split('/')[1]} has shape {values.shape} and {len(names)} names; expected "
                f"[{len(actions)}, {len(names)}].",
                "Collect the demonstrations with privileged_state on (python -m vlarl_libero.collect ...).",
            )
        objects = {n: values[:, j] for j, n in enumerate(names)}
    images: dict[str, np.ndarray] = {}
    for camera in cfg.cameras:
        key, obs_key = CAMERA_KEYS[camera]
        frames = np.asarray(_require(obs, key.split("/")[1], file, "uint8 [T, H, W, 3]"))
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[0] != len(actions) or frames.shape[3] != 3:
            raise ConfigError(f"{where}/{key} is {frames.dtype} {frames.shape}; expected uint8 [{len(actions)}, H, W, 3].",
                              "Store RGB frames, one per step.")  # fmt: skip
        if upside_down:  # robosuite renders with OpenGL's origin; the env flips both axes, so do we
            frames = frames[:, ::-1, ::-1]
        images[obs_key] = np.ascontiguousarray(frames.transpose(0, 3, 1, 2))
    return Episode(task, actions, robot, objects, images)


def read_file(file: Path, cfg: LiberoHDF5Config) -> list[Episode]:
    try:
        handle = h5py.File(file, "r")
    except OSError as exc:
        raise ConfigError(
            f"{file} is not an HDF5 file ({exc}).", "Pass LIBERO-format .hdf5 demonstration files."
        ) from exc
    with handle:
        data = _require(handle, "data", file, "the group of demonstrations")
        task = _task_description(data, file)
        upside_down = str(data.attrs.get("macros_image_convention", "opengl")) != "opencv"
        names = _demo_names(data, file)
        if cfg.max_demos_per_task is not None:
            names = names[: cfg.max_demos_per_task]
        return [_read_episode(data[n], file, task, cfg, upside_down) for n in names]


def object_layout(episodes: list[Episode]) -> list[str]:
    """Object dims of all episodes: objects sorted by name, each object's dims in their stored order."""
    dims: dict[str, list[str]] = {}
    for ep in episodes:
        for name in ep.objects:
            own = dims.setdefault(name.split(".", 1)[0], [])
            if name not in own:
                own.append(name)
    return [n for obj in sorted(dims) for n in dims[obj]]


class LiberoHDF5Dataset(DemoDataset):
    """Every step of every demonstration is a sample: its observation and the next ``chunk_len`` actions."""

    def __init__(self, cfg: LiberoHDF5Config) -> None:
        unknown = sorted(set(cfg.cameras) - set(CAMERA_KEYS))
        if unknown:
            raise ConfigError(f"dataset.cameras has unknown camera(s) {unknown}.", f"Use any of {sorted(CAMERA_KEYS)}.")
        if cfg.max_demos_per_task is not None and cfg.max_demos_per_task < 1:
            raise ConfigError(
                "dataset.max_demos_per_task must be >= 1.", "Set it to K demos per task, or null for all."
            )
        files = list_files(cfg.paths)
        self.source = ", ".join(str(f) for f in files)
        episodes = [ep for f in files for ep in read_file(f, cfg)]
        # One layout for every task: the sorted union of object dims, zeros where a task lacks an object
        # (the libero env's rule for privileged states over several tasks).
        objects = object_layout(episodes)
        self._tasks = tuple(sorted({ep.task for ep in episodes}))
        self._num_episodes = len(episodes)
        lengths = np.array([len(ep.actions) for ep in episodes])
        self._end = np.repeat(np.cumsum(lengths), lengths)  # per sample: one past its episode's last step
        self._actions = np.concatenate([ep.actions for ep in episodes])
        states = [np.concatenate([ep.robot_states, self._object_block(ep, objects)], 1) for ep in episodes]
        self._states = np.concatenate(states).astype(np.float32)
        self._task_of = np.repeat([self._tasks.index(ep.task) for ep in episodes], lengths)
        self._images = {}
        for key in {k for ep in episodes for k in ep.images}:
            shapes = {ep.images[key].shape[1:] for ep in episodes}
            if len(shapes) != 1:
                raise ConfigError(f"Images '{key}' have different sizes across files: {sorted(shapes)}.",
                                  "Use demonstrations recorded at one image size.")  # fmt: skip
            self._images[key] = np.concatenate([ep.images[key] for ep in episodes])
        self.observation_spec = ObservationSpec(
            states=(self._states.shape[1],),
            images=self._images["images"].shape[1:] if "images" in self._images else None,
            wrist_images=self._images["wrist_images"].shape[1:] if "wrist_images" in self._images else None,
            state_names=ROBOT_STATE_NAMES + tuple(objects),
            tasks=self._tasks,
        )
        self.action_spec = LIBERO_ACTION_SPEC

    @staticmethod
    def _object_block(ep: Episode, names: list[str]) -> np.ndarray:
        out = np.zeros((len(ep.actions), len(names)), dtype=np.float32)
        for j, n in enumerate(names):
            if n in ep.objects:
                out[:, j] = ep.objects[n]
        return out

    def __len__(self) -> int:
        return len(self._actions)

    @property
    def num_episodes(self) -> int:
        return self._num_episodes

    @property
    def task_descriptions(self) -> tuple[str, ...]:
        return self._tasks

    def get_batch(self, indices: np.ndarray, chunk_len: int) -> DemoBatch:
        idx = np.asarray(indices, dtype=np.int64)
        actions, mask = action_chunks(self._actions, self._end, idx, chunk_len)
        obs: dict[str, Any] = {
            "states": self._states[idx],
            "task_descriptions": [self._tasks[t] for t in self._task_of[idx]],
        }
        for key, frames in self._images.items():
            obs[key] = frames[idx]
        return DemoBatch(obs, actions, mask)  # type: ignore[arg-type]


def make_dataset(cfg: LiberoHDF5Config) -> LiberoHDF5Dataset:
    """Plugin factory (``vlarl_libero_hdf5.dataset:make_dataset``)."""
    return LiberoHDF5Dataset(cfg)
