"""``vlarl check``: build a plugin by name and run the conformance kit on it."""

from __future__ import annotations

from typing import Any

from vlarl.config import parse_overrides
from vlarl.contracts.spaces import ActionDim, ActionSpec, ObservationSpec
from vlarl.plugins.build import build_algo, build_env, build_policy, factory_of, resolve
from vlarl.plugins.registry import get_registry
from vlarl.testing import Report, check_algorithm, check_env, check_policy

# Specs used to check a policy when its plugin names none: a LIBERO-like robot arm.
DEFAULT_CHECK_OBSERVATION = ObservationSpec(states=(8,), images=(3, 64, 64), wrist_images=(3, 64, 64))
DEFAULT_CHECK_ACTION = ActionSpec(
    (*(ActionDim(n) for n in ("x", "y", "z", "roll", "pitch", "yaw")), ActionDim("gripper", -1.0, 1.0, "gripper")),
    gripper="close_positive",
)


def policy_check_setup(name: str, config: Any) -> tuple[Any, ObservationSpec, ActionSpec]:
    """Config and specs to check a policy with.

    A plugin may name ``extra["check_setup"] = "module:attr"``, a callable ``(config) -> (config,
    observation_spec, action_spec)`` that completes the config (e.g. an embodiment for the specs).
    """
    provided = get_registry().get("policy", name)
    target = provided.spec.extra.get("check_setup")
    if target is None:
        return config, DEFAULT_CHECK_OBSERVATION, DEFAULT_CHECK_ACTION
    import importlib

    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)(config)


def run_check(
    kind: str,
    name: str,
    overrides: list[str],
    chunk_len: int = 4,
    env_name: str = "gymnasium",
    policy_name: str = "mlp",
) -> Report:
    section = parse_overrides(overrides)
    if kind == "env":
        resolve("env", name, section)  # fail fast on unknown names and bad config
        return check_env(lambda: build_env(name, section), chunk_len=chunk_len, name=name)
    if kind == "policy":
        provided, config = resolve("policy", name, section)
        config, obs_spec, act_spec = policy_check_setup(name, config)
        factory = factory_of(provided)
        return check_policy(
            lambda: factory(config, observation_spec=obs_spec, action_spec=act_spec), obs_spec, name=name
        )
    provided, _ = resolve("algo", name, section)
    if provided.spec.extra.get("external_trainer"):
        return check_external_trainer(name, section, env_name)
    group = (build_algo(name, section).reset_options() or {}).get("group_size") or 0
    num_envs = max(4, 2 * group)  # at least two groups when the algorithm compares rollouts in groups
    return check_algorithm(
        lambda: build_algo(name, section),
        lambda env: build_policy(policy_name, {}, env.observation_spec, env.action_spec),
        lambda: build_env(env_name, {"num_envs": num_envs}),
        name=name,
    )


def check_external_trainer(name: str, section: Any, env_name: str, steps: int = 256) -> Report:
    """An algorithm with its own loop: it trains on a real env and reports finite metrics."""
    import math

    report = Report(f"algorithm '{name}' (own training loop)")
    logged: list[dict[str, float]] = []

    def learns() -> str:
        env = build_env(env_name, {"num_envs": 2})
        try:
            build_algo(name, section).learn(env, total_timesteps=steps, log=lambda m, step: logged.append(dict(m)))
        finally:
            env.close()
        if not logged:
            raise AssertionError("learn() logged no metrics")
        bad = [k for m in logged for k, v in m.items() if not math.isfinite(float(v))]
        if bad:
            raise AssertionError(f"non-finite metrics: {sorted(set(bad))}")
        return f"{steps} steps, {len(logged)} metric records"

    report.run("learn() on a real env logs finite metrics", learns)
    return report
