"""Validate a whole config before anything starts, then build env, policy and algorithm."""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from vlarl.config import validate_section
from vlarl.errors import ConfigError
from vlarl.plugins.build import resolve
from vlarl.plugins.registry import Provided
from vlarl.runner.schema import HOST_SECTIONS, PLUGIN_SECTIONS, ClusterConfig, RolloutConfig, RunnerConfig, VideoConfig

TOP_LEVEL = [*PLUGIN_SECTIONS, *HOST_SECTIONS, "checkpoint", "dataset", "sft"]
HOST_POLICY_KEYS = ("init_checkpoint",)
"""Keys of the policy section the host reads (not the plugin): where the weights start from."""


@dataclass
class RunSpec:
    """A validated config: host sections as dataclasses, plugin sections resolved."""

    raw: DictConfig
    runner: RunnerConfig
    rollout: RolloutConfig
    cluster: ClusterConfig
    video: VideoConfig
    plugins: dict[str, tuple[Provided, Any, dict[str, Any]]]
    """section -> (provided, validated config instance, raw section without 'name')."""
    init_checkpoint: str | None = None
    """``policy.init_checkpoint``: weights the policy starts from (e.g. a ``vlarl sft`` run)."""

    def section(self, name: str) -> dict[str, Any]:
        return self.plugins[name][2]


def _check_top_level(cfg: DictConfig) -> None:
    for key in cfg:
        if key not in TOP_LEVEL:
            close = difflib.get_close_matches(str(key), TOP_LEVEL, n=1)
            raise ConfigError(
                f"Unknown top-level config section '{key}'.",
                (f"Did you mean '{close[0]}'? " if close else "") + f"Valid sections: {', '.join(TOP_LEVEL)}.",
            )


def resolve_section(
    cfg: DictConfig, section: str, kind: str, check_requirements: bool = True
) -> tuple[Provided, Any, dict[str, Any]]:
    """Find the plugin a section names and validate the section against its schema."""
    raw = cfg.get(section)
    if raw is None or "name" not in raw:
        raise ConfigError(
            f"The config has no {section}.name.",
            f"Add a '{section}:' section with 'name: <plugin>' (list them with 'vlarl plugins --kind {kind}').",
        )
    body = OmegaConf.to_container(raw, resolve=True)
    name = body.pop("name")
    if section == "policy":
        for key in HOST_POLICY_KEYS:
            body.pop(key, None)
    provided, config = resolve(kind, str(name), body, check_requirements=check_requirements)  # type: ignore[arg-type]
    return provided, config, body


def _init_checkpoint(cfg: DictConfig) -> str | None:
    policy = cfg.get("policy")
    value = policy.get("init_checkpoint") if policy is not None else None
    return None if value in (None, "", "none") else str(value)


def validate(cfg: DictConfig, check_requirements: bool = True) -> RunSpec:
    _check_top_level(cfg)
    plugins = {}
    for section, kind in PLUGIN_SECTIONS.items():
        raw = cfg.get(section)
        if section == "policy" and raw is None and _external_trainer(cfg):
            continue  # e.g. stable-baselines3 builds its own policy
        plugins[section] = resolve_section(cfg, section, kind, check_requirements)
    host = {k: validate_section(schema, cfg.get(k), k) for k, schema in HOST_SECTIONS.items()}
    spec = RunSpec(
        cfg, host["runner"], host["rollout"], host["cluster"], host["video_cfg"], plugins, _init_checkpoint(cfg)
    )
    _check_consistency(spec)
    return spec


def _external_trainer(cfg: DictConfig) -> bool:
    """Whether the algorithm runs its own training loop (``PluginSpec.extra["external_trainer"]``)."""
    from vlarl.plugins.registry import get_registry

    algo = cfg.get("algorithm")
    if algo is None or "name" not in algo:
        return False
    return bool(get_registry().get("algo", str(algo.name)).spec.extra.get("external_trainer"))


def check_runner(r: RunnerConfig) -> None:
    """The runner settings both ``vlarl train`` and ``vlarl eval`` read."""
    checks = [
        (r.max_epochs >= 1, "runner.max_epochs", "Set runner.max_epochs to the number of training iterations."),
        (r.save_interval >= 1, "runner.save_interval", "Set runner.save_interval to a number of iterations, e.g. 10."),
        (r.log_interval >= 1, "runner.log_interval", "Set runner.log_interval, e.g. 1 (a line per iteration)."),
        (r.eval_episodes is None or r.eval_episodes >= 1, "runner.eval_episodes",
         "Set runner.eval_episodes to a number of episodes per task, e.g. 10, or null for the env's protocol."),
        (r.keep_checkpoints is None or r.keep_checkpoints >= 1, "runner.keep_checkpoints",
         "Set runner.keep_checkpoints=3 (the newest three), or null to keep every checkpoint."),
    ]  # fmt: skip
    for ok, key, fix in checks:
        if not ok:
            value = r
            for part in key.split(".")[1:]:
                value = getattr(value, part)
            raise ConfigError(f"{key}={value}: it must be >= 1.", fix)
    if r.max_minutes is not None and not r.max_minutes > 0:
        raise ConfigError(f"runner.max_minutes={r.max_minutes}: it must be > 0.", "Set a time budget in minutes, or null.")
    if r.torch_threads < 0:
        raise ConfigError(f"runner.torch_threads={r.torch_threads}: it must be >= 0.", "Use 0 (torch's default) or a count.")
    if r.keep_best_mode not in ("max", "min"):
        raise ConfigError(f"runner.keep_best_mode={r.keep_best_mode!r} is invalid.", "Use 'max' or 'min'.")
    from vlarl.runner.context import parse_device

    parse_device(r.device)


def _check_consistency(spec: RunSpec) -> None:
    check_runner(spec.runner)
    if spec.rollout.n_chunks < 1:
        raise ConfigError(
            "rollout.n_chunks must be >= 1.", "Set rollout.n_chunks to the chunks per sub-env per rollout."
        )
    if spec.cluster.backend not in ("local", "ray"):
        raise ConfigError(f"cluster.backend={spec.cluster.backend!r} is invalid.", "Use 'local' or 'ray'.")
    if spec.cluster.component_placement and spec.cluster.backend == "local":
        print(
            "warning: cluster.component_placement is ignored with cluster.backend=local (one process; the policy "
            "runs on runner.device). Set cluster.backend=ray to place components on devices.",
            file=sys.stderr,
            flush=True,
        )
    if spec.rollout.pipeline_stage_num < 1:
        raise ConfigError("rollout.pipeline_stage_num must be >= 1.", "Use 1 (no pipelining) or 2.")
    unknown = set(spec.runner.logger.logger_backends) - {"tensorboard", "wandb"}
    if unknown:
        raise ConfigError(f"Unknown runner.logger.logger_backends: {sorted(unknown)}.", "Use tensorboard and/or wandb.")
    env_cfg = spec.plugins["env"][1]
    algo_cfg = spec.plugins["algorithm"][1]
    num_envs = getattr(env_cfg, "num_envs", None)
    group = getattr(algo_cfg, "group_size", None)
    if num_envs is not None and group and num_envs % group:
        raise ConfigError(
            f"algorithm.group_size={group} does not divide env.num_envs={num_envs}.",
            "Set env.num_envs to a multiple of algorithm.group_size.",
        )
    stages = spec.rollout.pipeline_stage_num
    if num_envs is not None and num_envs % stages:
        raise ConfigError(
            f"rollout.pipeline_stage_num={stages} does not divide env.num_envs={num_envs}.",
            "Use a num_envs divisible by the number of pipeline stages.",
        )
