"""Fake recorder manager: terms' ``record_pre_reset(env_ids) -> (key, value)`` run before ``_reset_idx``."""

from __future__ import annotations

import enum
from typing import Any


class DatasetExportMode(enum.IntEnum):
    EXPORT_NONE = 0
    EXPORT_ALL = 1
    EXPORT_SUCCEEDED_FAILED_IN_SEPARATE_FILES = 2
    EXPORT_SUCCEEDED_ONLY = 3


class RecorderTerm:
    def __init__(self, cfg: RecorderTermCfg, env: Any) -> None:
        self.cfg = cfg
        self._env = env

    def record_pre_reset(self, env_ids: Any) -> tuple[str | None, Any]:
        return None, None

    def record_post_reset(self, env_ids: Any) -> tuple[str | None, Any]:
        return None, None

    def record_post_step(self) -> tuple[str | None, Any]:
        return None, None


class RecorderTermCfg:
    def __init__(self, class_type: type[RecorderTerm] | None = None) -> None:
        self.class_type = class_type


class RecorderManagerBaseCfg:
    def __init__(self) -> None:
        self.dataset_export_dir_path = "/tmp/isaaclab/logs"
        self.dataset_filename = "dataset"
        self.dataset_export_mode = DatasetExportMode.EXPORT_ALL
        self.export_in_record_pre_reset = True
        self.export_in_close = False


_SETTINGS = (
    "dataset_file_handler_class_type",
    "dataset_filename",
    "dataset_export_dir_path",
    "dataset_export_mode",
    "export_in_record_pre_reset",
    "export_in_close",
)


class RecorderManager:
    def __init__(self, cfg: RecorderManagerBaseCfg | None, env: Any) -> None:
        self._terms: dict[str, RecorderTerm] = {}
        self.episodes: dict[int, dict[str, list[Any]]] = {}
        if not cfg:
            return
        for name, value in cfg.items() if isinstance(cfg, dict) else vars(cfg).items():
            if name in _SETTINGS or value is None:
                continue
            if not isinstance(value, RecorderTermCfg):
                raise TypeError(f"Configuration for the term '{name}' is not of type RecorderTermCfg.")
            self._terms[name] = value.class_type(value, env)
        if not self._terms:
            return
        if not isinstance(cfg, RecorderManagerBaseCfg):
            raise TypeError("Configuration for the recorder manager is not of type RecorderManagerBaseCfg.")
        if cfg.dataset_export_mode != DatasetExportMode.EXPORT_NONE:
            # the real manager opens an HDF5 file here; the fake refuses so tests notice
            raise RuntimeError("fake recorder manager: dataset export is not supported, use EXPORT_NONE")

    @property
    def active_terms(self) -> list[str]:
        return list(self._terms)

    def add_to_episodes(self, key: str | None, value: Any, env_ids: Any) -> None:
        if key is None:
            return
        for i in list(env_ids):
            self.episodes.setdefault(int(i), {}).setdefault(key, []).append(value)

    def record_pre_reset(self, env_ids: Any) -> None:
        if not self._terms:
            return
        env_ids = env_ids.tolist() if hasattr(env_ids, "tolist") else list(env_ids)
        for term in self._terms.values():
            key, value = term.record_pre_reset(env_ids)
            self.add_to_episodes(key, value, env_ids)

    def record_post_reset(self, env_ids: Any) -> None:
        for term in self._terms.values():
            term.record_post_reset(env_ids)
