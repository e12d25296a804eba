"""Read a LeRobot dataset (v2.1 / v3.0 on disk) into one in-memory dataset of (observation, action chunk) samples."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vlarl.contracts.dataset import DemoBatch, DemoDataset, action_chunks
from vlarl.contracts.spaces import ActionDim, ActionSpec, ObservationSpec
from vlarl.errors import ConfigError
from vlarl_lerobot.layout import INFO, MODALITY, EpisodeRef, Meta, read_meta
from vlarl_lerobot.modality import read_modality
from vlarl_lerobot.register import LeRobotConfig
from vlarl_lerobot.video import VideoFile

GRIPPER_CONVENTIONS = ("none", "close_positive", "open_positive")
NUMERIC = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")


@dataclass(frozen=True)
class Source:
    """One slice of a numeric column: ``key[start:end]`` (the whole column when end is None)."""

    key: str
    start: int = 0
    end: int | None = None
    label: str = ""  # the config entry that asked for it, for messages


def column(table: pa.Table, key: str, where: str) -> np.ndarray:
    """A numeric parquet column as float64 [T, D] (scalar columns become [T, 1])."""
    arr = table.column(key).combine_chunks()
    if pa.types.is_list(arr.type) or pa.types.is_fixed_size_list(arr.type) or pa.types.is_large_list(arr.type):
        values = arr.flatten().to_numpy(zero_copy_only=False).astype(np.float64)
        if len(arr) and len(values) % len(arr):
            raise ConfigError(f"{where}: column '{key}' has rows of different lengths.", "Rewrite the episode's data.")
        return values.reshape(len(arr), -1)
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_boolean(arr.type):
        return arr.to_numpy(zero_copy_only=False).astype(np.float64).reshape(-1, 1)
    raise ConfigError(
        f"{where}: column '{key}' is {arr.type}, not numeric.", "Map only numeric features to states/actions."
    )


def _names(meta: Meta, src: Source) -> list[str]:
    ft = meta.features[src.key]
    raw = ft.get("names")
    width = int(np.prod(ft.get("shape", [1])))
    if isinstance(raw, dict) and len(raw) == 1:  # older datasets: {"motors": [...]}
        raw = next(iter(raw.values()))
    names = (
        [str(n) for n in raw]
        if isinstance(raw, list) and len(raw) == width
        else [f"{src.key}.{i}" for i in range(width)]
    )
    return names[src.start : src.end]


class LeRobotDataset(DemoDataset):
    """Every recorded frame of every episode is a sample: its observation and the next ``chunk_len`` actions."""

    def __init__(self, cfg: LeRobotConfig) -> None:
        self.cfg = cfg
        _check_config(cfg)
        self.meta = meta = read_meta(cfg.root)
        self.source = str(meta.root)
        self.modality = read_modality(meta) if cfg.modality else None
        states, actions, self.cameras, self.task_key = self._mapping()
        episodes = self._select(meta.episodes)
        size = tuple(cfg.image_size) if cfg.image_size else None
        parts: dict[str, list[np.ndarray]] = {"states": [], "actions": [], "images": [], "wrist": []}
        task_text: list[str] = []
        cache: dict[str, VideoFile] = {}
        data_cache: dict[Path, pa.Table] = {}
        for ep in episodes:
            table = self._episode_rows(ep, data_cache, states + actions)
            where = f"{ep.data_file} (episode {ep.index})"
            if states:
                parts["states"].append(np.concatenate([self._slice(table, s, where) for s in states], 1))
            parts["actions"].append(np.concatenate([self._slice(table, s, where) for s in actions], 1))
            task_text += self._tasks(table, ep, where)
            times = self._times(table)
            views = []
            for key in self.cameras:
                path, offset, end = ep.videos[key]
                if cache.get(key) is None or cache[key].path != path:  # v3.0: episodes of one file come together
                    cache[key] = VideoFile(path, key, size)  # type: ignore[arg-type]
                rows = f"the {len(table)} rows of {where}"
                views.append(cache[key].at(times + offset, cfg.video_tolerance_s, rows, end).transpose(0, 3, 1, 2))
            if self.cameras:
                shapes = {v.shape[1:] for v in views}
                if len(shapes) != 1:
                    raise ConfigError(f"Cameras {self.cameras} of episode {ep.index} have different sizes {sorted(shapes)}.",
                                      "Set dataset.image_size: [H, W] to decode them at one size.")  # fmt: skip
                if self.has_main:
                    parts["images"].append(np.ascontiguousarray(views[0]))
                wrist = views[1:] if self.has_main else views
                if wrist:
                    parts["wrist"].append(np.ascontiguousarray(wrist[0] if len(wrist) == 1 else np.stack(wrist, 1)))
        self._finish(parts, task_text, episodes, states, actions)

    # ---- the config's mapping, checked against meta/info.json before any data is read ----------------------------
    def _mapping(self) -> tuple[list[Source], list[Source], list[str], str | None]:
        cfg, meta, mod = self.cfg, self.meta, self.modality
        if mod is not None:
            for option in ("states", "actions"):
                if getattr(cfg, option) is not None:
                    raise ConfigError(
                        f"dataset.{option} is set but dataset.modality=true takes the {option} from {meta.root / MODALITY}.",
                        f"Remove dataset.{option}, or set dataset.modality=false.",
                    )
            states = [Source(g.original_key, g.start, g.end, f"{MODALITY} state.{g.name}") for g in mod.state]
            actions = [Source(g.original_key, g.start, g.end, f"{MODALITY} action.{g.name}") for g in mod.action]
        else:
            states = [
                Source(k, label="dataset.states") for k in (["observation.state"] if cfg.states is None else cfg.states)
            ]
            actions = [Source(k, label="dataset.actions") for k in (["action"] if cfg.actions is None else cfg.actions)]
        if not actions:
            raise ConfigError("dataset.actions is empty.", "Name the action feature(s), e.g. [action].")
        cams = ([cfg.images] if cfg.images else []) + list(cfg.wrist_images)
        self.has_main = bool(cfg.images)
        if mod is not None and not cams:  # GR00T's camera order: the first video group is the main camera
            cams, self.has_main = list(mod.video.values()), True
        for src in states + actions:
            self._require(src.key, src.label, NUMERIC)
        for i, key in enumerate(cams):
            label = "dataset.images" if i == 0 and self.has_main else "dataset.wrist_images"
            self._require(key, label if not cfg.modality or cfg.images else f"{MODALITY} video", ("video",))
        task_key = cfg.task_key
        if mod is not None and mod.annotation:
            task_key = next(iter(mod.annotation.values()))
        return states, actions, cams, task_key

    def _require(self, key: str, label: str, dtypes: tuple[str, ...]) -> None:
        meta = self.meta
        ft = meta.features.get(key)
        if ft is None:
            similar = [k for k in meta.features if k.split(".")[0] == key.split(".")[0]] or sorted(meta.features)
            raise ConfigError(
                f"{meta.info_path}: feature '{key}' ({label}) is not in the dataset; its features: {sorted(meta.features)}.",
                f"Set {label} to feature keys the dataset has (e.g. {', '.join(similar[:4])}).",
            )
        if ft.get("dtype") not in dtypes:
            hint = ("images stored in parquet (dtype image) are not read; convert them to videos with LeRobot"
                    if ft.get("dtype") == "image" else f"map a feature of dtype {' / '.join(dtypes)}")  # fmt: skip
            raise ConfigError(
                f"{meta.info_path}: feature '{key}' ({label}) has dtype {ft.get('dtype')}.",
                hint[0].upper() + hint[1:] + ".",
            )

    def _select(self, episodes: list[EpisodeRef]) -> list[EpisodeRef]:
        if self.cfg.episodes is None:
            return episodes
        by_index = {e.index: e for e in episodes}
        missing = [i for i in self.cfg.episodes if i not in by_index]
        if missing:
            raise ConfigError(f"dataset.episodes names {missing}, which {self.meta.root} does not have "
                              f"(episodes {min(by_index)}..{max(by_index)}).", "Fix dataset.episodes.")  # fmt: skip
        return [by_index[i] for i in self.cfg.episodes]

    # ---- one episode --------------------------------------------------------------------------------------------
    def _episode_rows(self, ep: EpisodeRef, cache: dict[Path, pa.Table], sources: list[Source]) -> pa.Table:
        if ep.data_file not in cache:
            if not ep.data_file.is_file():
                raise ConfigError(f"{ep.data_file}: the data of episode {ep.index} is missing.",
                                  "Restore the dataset's data/ folder, or leave the episode out with dataset.episodes.")  # fmt: skip
            cache.clear()  # one file at a time: v3.0 episodes of a file are consecutive
            cache[ep.data_file] = pq.read_table(ep.data_file)
        table = cache[ep.data_file]
        for src in sources:
            if src.key not in table.column_names:
                raise ConfigError(
                    f"{ep.data_file}: column '{src.key}' ({src.label}) is missing, though {INFO} lists it.",
                    "Restore the episode's data file, or map another feature.",
                )
        if "episode_index" in table.column_names:
            mask = pc.equal(table.column("episode_index"), ep.index)
            table = table.filter(mask)
        if "frame_index" in table.column_names:
            table = table.sort_by("frame_index")
        if len(table) != ep.length or len(table) == 0:
            raise ConfigError(
                f"{ep.data_file}: episode {ep.index} has {len(table)} rows but the episode table says length {ep.length}.",
                "Restore the dataset (data and meta/episodes must agree), or leave the episode out with dataset.episodes.",
            )
        return table

    def _slice(self, table: pa.Table, src: Source, where: str) -> np.ndarray:
        values = column(table, src.key, where)
        return values[:, src.start : src.end]

    def _times(self, table: pa.Table) -> np.ndarray:
        if "timestamp" in table.column_names:
            return column(table, "timestamp", "")[:, 0]
        return column(table, "frame_index", "")[:, 0] / self.meta.fps

    def _tasks(self, table: pa.Table, ep: EpisodeRef, where: str) -> list[str]:
        key = self.task_key
        if key and key in table.column_names:
            idx = column(table, key, where)[:, 0].astype(np.int64)
            unknown = sorted(set(idx.tolist()) - set(self.meta.tasks))
            if unknown:
                raise ConfigError(f"{where}: '{key}' has task indices {unknown[:5]} the tasks table lacks.",
                                  "Restore meta/tasks (jsonl or parquet) of the dataset.")  # fmt: skip
            return [" ".join(self.meta.tasks[int(i)].split()) for i in idx]
        if ep.tasks:
            return [" ".join(str(ep.tasks[0]).split())] * len(table)
        raise ConfigError(f"{where}: no column '{key}' and no tasks in the episode table.",
                          "Set dataset.task_key to the column of task indices.")  # fmt: skip

    # ---- arrays and specs -----------------------------------------------------------------------------------------
    def _finish(self, parts: dict[str, list[np.ndarray]], tasks: list[str], episodes: list[EpisodeRef],
                states: list[Source], actions: list[Source]) -> None:  # fmt: skip
        cfg, meta = self.cfg, self.meta
        lengths = np.array([e.length for e in episodes])
        self._num_episodes = len(episodes)
        self._end = np.repeat(np.cumsum(lengths), lengths)
        self._actions = np.concatenate(parts["actions"]).astype(np.float32)
        self._states = np.concatenate(parts["states"]).astype(np.float32) if states else None
        self._tasks = tuple(sorted(set(tasks)))
        self._task_of = np.array([self._tasks.index(t) for t in tasks]) if tasks else np.zeros(0, np.int64)
        self._images = {}
        if parts["images"]:
            self._images["images"] = np.concatenate(parts["images"])
        if parts["wrist"]:
            self._images["wrist_images"] = np.concatenate(parts["wrist"])
        state_names = tuple(n for s in states for n in _names(meta, s)) if states else None
        self.observation_spec = ObservationSpec(
            states=(self._states.shape[1],) if self._states is not None else None,
            images=self._images["images"].shape[1:] if "images" in self._images else None,
            wrist_images=self._images["wrist_images"].shape[1:] if "wrist_images" in self._images else None,
            state_names=state_names,
            tasks=self._tasks,
        )
        names = [n for s in actions for n in _names(meta, s)]
        width = self._actions.shape[1]
        bad = [d for d in cfg.gripper_dims if not 0 <= d < width]
        if bad:
            raise ConfigError(
                f"dataset.gripper_dims {bad} are outside the {width} action dims.", f"Use dims in 0..{width - 1}."
            )
        lo, hi = (
            (self._actions.min(0), self._actions.max(0))
            if cfg.action_bounds == "data"
            else (-np.ones(width), np.ones(width))
        )
        dims = tuple(ActionDim(names[i], float(lo[i]), float(hi[i]), "gripper" if i in cfg.gripper_dims else "continuous")
                     for i in range(width))  # fmt: skip
        keys = ", ".join(f"{s.key}[{s.start}:{s.end if s.end is not None else ''}]" for s in actions)
        self.action_spec = ActionSpec(dims, cfg.gripper_convention, source=f"{meta.info_path}: {keys}")

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
        obs: dict[str, Any] = {"task_descriptions": [self._tasks[t] for t in self._task_of[idx]]}
        if self._states is not None:
            obs["states"] = self._states[idx]
        for key, frames in self._images.items():
            obs[key] = frames[idx]
        return DemoBatch(obs, actions, mask)  # type: ignore[arg-type]


def _check_config(cfg: LeRobotConfig) -> None:
    if not cfg.root:
        raise ConfigError(
            "dataset.root is not set.", "Set dataset.root to the LeRobot dataset directory (with meta/info.json)."
        )
    if cfg.action_bounds not in ("data", "unit"):
        raise ConfigError(f"dataset.action_bounds={cfg.action_bounds!r} is unknown.", "Use data or unit.")
    if cfg.gripper_convention not in GRIPPER_CONVENTIONS:
        raise ConfigError(
            f"dataset.gripper_convention={cfg.gripper_convention!r} is unknown.", f"Use one of {GRIPPER_CONVENTIONS}."
        )
    if cfg.gripper_convention != "none" and not cfg.gripper_dims:
        raise ConfigError("dataset.gripper_convention is set but dataset.gripper_dims is empty.",
                          "Name the gripper's action dim(s), e.g. gripper_dims: [6].")  # fmt: skip
    if cfg.image_size is not None and (len(cfg.image_size) != 2 or min(cfg.image_size) < 1):
        raise ConfigError(f"dataset.image_size={cfg.image_size} is not [H, W].", "Set it to e.g. [224, 224], or null.")
    if cfg.video_tolerance_s <= 0:
        raise ConfigError("dataset.video_tolerance_s must be positive.", "Use LeRobot's 1e-4 (the default).")


def make_dataset(cfg: LeRobotConfig) -> LeRobotDataset:
    """Plugin factory (``vlarl_lerobot.dataset:make_dataset``)."""
    return LeRobotDataset(cfg)
