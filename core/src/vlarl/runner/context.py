"""Build the pieces of a run (env, policy, algorithm, device, run directory) from a validated spec."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf

from vlarl.errors import ConfigError
from vlarl.plugins.build import call_factory
from vlarl.runner.logger import unwritable
from vlarl.runner.setup import RunSpec


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def parse_device(name: str) -> torch.device | None:
    """``runner.device`` as a torch device (None for ``auto``); a name torch does not know is a ConfigError."""
    if name == "auto":
        return None
    try:
        return torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise ConfigError(
            f"runner.device={name!r} is not a device.", "Use auto, cpu, cuda, cuda:N (a GPU index) or mps."
        ) from None


def pick_device(name: str) -> torch.device:
    device = parse_device(name)
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"runner.device={name} but no CUDA GPU is visible.", "Set runner.device=cpu (or auto).")
    return device


def make_run_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unwritable(path, exc) from exc
    return path


def run_dir(spec: RunSpec) -> Path:
    return make_run_dir(Path(spec.runner.logger.log_path) / spec.runner.logger.experiment_name)


def write_config(raw: Any, path: Path) -> None:
    try:
        (path / "config.yaml").write_text(OmegaConf.to_yaml(raw, resolve=True))
    except OSError as exc:
        raise unwritable(path, exc) from exc


def save_resolved_config(spec: RunSpec, path: Path) -> None:
    write_config(spec.raw, path)


def build_env(spec: RunSpec) -> Any:
    provided, config, _ = spec.plugins["env"]
    return call_factory(provided, config)


def build_policy(spec: RunSpec, env: Any, device: torch.device) -> Any:
    provided, config, _ = spec.plugins["policy"]
    policy = call_factory(provided, config, observation_spec=env.observation_spec, action_spec=env.action_spec)
    if spec.init_checkpoint:
        from vlarl.runner.checkpoint import load_init_weights, resolve_init_checkpoint

        load_init_weights(resolve_init_checkpoint(spec.init_checkpoint), policy)
    return policy.to(device)


def build_algorithm(spec: RunSpec, policy: Any) -> Any:
    provided, config, _ = spec.plugins["algorithm"]
    algo = call_factory(provided, config)
    if algo.requires_critic and not policy.has_critic:
        raise ConfigError(
            f"algorithm '{provided.spec.name}' needs a critic but the policy has none.",
            "Enable the policy's value head (e.g. policy.critic=true) or use a critic-free algorithm such as grpo.",
        )
    algo.setup(policy)
    return algo
