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
    resolve("algo", name, section)
    return check_algorithm(
        lambda: build_algo(name, section),
        lambda env: build_policy(policy_name, {}, env.observation_spec, env.action_spec),
        lambda: build_env(env_name, {"num_envs": 4}),
        name=name,
    )
