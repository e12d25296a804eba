"""Fake of ``isaaclab_tasks.utils``: ``load_cfg_from_registry`` and ``parse_env_cfg`` with each release's signature.

2.3: ``parse_env_cfg(task_name, device="cuda:0", num_envs=None, use_fabric=None)``;
3.0: ``parse_env_cfg(task_name, device=None, num_envs=None, use_fabric=None, overrides=())`` (device left
unchanged when None; ``overrides`` are Hydra-style ``key=value`` strings, here dotted attributes).
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
from isaaclab._version import GENERATION


def load_cfg_from_registry(task_name: str, entry_point_key: str) -> Any:
    cfg_entry_point = gym.spec(task_name).kwargs.get(entry_point_key)
    if cfg_entry_point is None:
        raise ValueError(
            f"Could not find configuration for the environment: '{task_name}'."
            f" Please check that the gym registry has the entry point: '{entry_point_key}'."
        )
    if isinstance(cfg_entry_point, str):
        mod_name, attr_name = cfg_entry_point.split(":")
        cfg_cls = getattr(importlib.import_module(mod_name), attr_name)
    else:
        cfg_cls = cfg_entry_point
    return cfg_cls() if callable(cfg_cls) else cfg_cls


def _apply(cfg: Any, override: str) -> None:
    key, _, value = override.partition("=")
    *path, leaf = key.strip().split(".")
    target = cfg
    for part in path:
        target = getattr(target, part)
    if not hasattr(target, leaf):
        raise KeyError(f"override {override!r}: the env cfg has no '{key}'")
    setattr(target, leaf, ast.literal_eval(value.strip()))


def _finish(cfg: Any, task_name: str, device: str | None, num_envs: int | None) -> Any:
    if isinstance(cfg, dict):
        raise RuntimeError(f"Configuration for the task: '{task_name}' is not a class. Please provide a class.")
    if device is not None:
        cfg.sim.device = device
    if num_envs is not None:
        cfg.scene.num_envs = num_envs
    return cfg


if GENERATION >= 3:

    def parse_env_cfg(
        task_name: str,
        device: str | None = None,
        num_envs: int | None = None,
        use_fabric: bool | None = None,
        overrides: Sequence[str] = (),
    ) -> Any:
        if isinstance(overrides, str):
            raise TypeError(f"'overrides' must be a list or tuple of 'key=value' strings, not {overrides!r}")
        cfg = load_cfg_from_registry(task_name, "env_cfg_entry_point")
        for override in overrides:
            _apply(cfg, override)
        return _finish(cfg, task_name, device, num_envs)

else:

    def parse_env_cfg(  # type: ignore[misc]
        task_name: str, device: str = "cuda:0", num_envs: int | None = None, use_fabric: bool | None = None
    ) -> Any:
        return _finish(load_cfg_from_registry(task_name, "env_cfg_entry_point"), task_name, device, num_envs)
