"""Fake of ``isaaclab_tasks.utils``: ``load_cfg_from_registry`` and ``parse_env_cfg`` (IsaacLab 2.x signatures)."""

from __future__ import annotations

import importlib
from typing import Any

import gymnasium as gym


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


def parse_env_cfg(task_name: str, device: str = "cuda:0", num_envs: int | None = None, use_fabric: bool | None = None):
    cfg = load_cfg_from_registry(task_name, "env_cfg_entry_point")
    if isinstance(cfg, dict):
        raise RuntimeError(f"Configuration for the task: '{task_name}' is not a class. Please provide a class.")
    cfg.sim.device = device
    if num_envs is not None:
        cfg.scene.num_envs = num_envs
    return cfg
