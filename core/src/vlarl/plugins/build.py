"""Build an env, policy or algorithm from its plugin name and config section."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vlarl.config import validate_section
from vlarl.errors import ConfigError, PluginError, VlarlError
from vlarl.plugins.registry import Provided, Registry, get_registry
from vlarl.plugins.spec import Kind

if TYPE_CHECKING:
    from vlarl.contracts.algorithm import Algorithm
    from vlarl.contracts.env import ChunkedVectorEnv
    from vlarl.contracts.policy import ChunkedPolicy
    from vlarl.contracts.spaces import ActionSpec, ObservationSpec


def require(provided: Provided) -> None:
    """Raise a PluginError listing every unmet requirement and its fix."""
    missing = provided.spec.missing_requirements()
    if not missing:
        return
    lines = [f"- {r.missing()}; fix: {r.fix}" for r in missing]
    raise PluginError(
        f"The {provided.spec.kind} '{provided.spec.name}' ({provided.distribution} {provided.version}) "
        f"cannot start; missing:\n" + "\n".join(lines),
        "Install or set what is listed above, then check with 'vlarl doctor'.",
    )


SECTION_OF = {"env": "env", "policy": "policy", "algo": "algorithm", "dataset": "dataset"}
COUNT_KEYS = {"env": ("num_envs",), "policy": ("num_action_chunks",)}
"""Settings the host relies on (env.num_envs sub-envs, policy.num_action_chunks actions per chunk): >= 1."""


def _check_counts(kind: Kind, config: Any) -> None:
    where = SECTION_OF[kind]
    for key in COUNT_KEYS.get(kind, ()):
        value = getattr(config, key, None)
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise ConfigError(f"{where}.{key}={value}: it must be >= 1.", f"Set {where}.{key} to a positive number, e.g. {where}.{key}=2.")


def _plugin_validation(provided: Provided, config: Any, registry: Registry) -> None:
    """``PluginSpec.extra["validate_config"] = "module:attr"``: a light ``(config, registry) -> None`` that raises
    ConfigError for values only the plugin understands (e.g. an unknown task id), run before requirements are
    checked, so a misspelling is named even where the simulator is not installed."""
    target = provided.spec.extra.get("validate_config")
    if not target:
        return
    import importlib

    module, _, attr = str(target).partition(":")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except Exception as exc:
        raise PluginError(
            f"The {provided.spec.kind} '{provided.spec.name}' ({provided.distribution}) names a config validator "
            f"{target} that cannot be imported: {type(exc).__name__}: {exc}",
            f"Reinstall {provided.distribution} (pip install --force-reinstall {provided.distribution}).",
        ) from exc
    fn(config, registry)


def resolve(
    kind: Kind, name: str, section: Any, registry: Registry | None = None, check_requirements: bool = True
) -> tuple[Provided, Any]:
    """Find the plugin, validate its config section, check its requirements."""
    if kind == "env":  # env.runtime: the plugin runs (and is validated) in another interpreter or on a server
        from vlarl.envs.runtime import resolve_runtime

        found, section = resolve_runtime(name, section)
        if found is not None:
            return found
    registry = registry or get_registry()
    provided = registry.get(kind, name)
    config = validate_section(provided.spec.config, section, where=SECTION_OF[kind])
    _check_counts(kind, config)
    _plugin_validation(provided, config, registry)
    if check_requirements:
        require(provided)
    return provided, config


def factory_of(provided: Provided) -> Any:
    try:
        return provided.spec.load_factory()
    except Exception as exc:
        raise PluginError(
            f"Could not import {provided.spec.factory} for the {provided.spec.kind} '{provided.spec.name}' "
            f"({provided.distribution} {provided.version}): {type(exc).__name__}: {exc}",
            f"Reinstall {provided.distribution} with its dependencies (pip install --force-reinstall {provided.distribution}).",
        ) from exc


def call_factory(provided: Provided, *args: Any, **kwargs: Any) -> Any:
    """Build a plugin's object; a failure names the plugin (a VlarlError from the plugin passes as it is)."""
    factory = factory_of(provided)
    try:
        return factory(*args, **kwargs)
    except VlarlError:
        raise
    except Exception as exc:
        s = provided.spec
        raise PluginError(
            f"The {s.kind} '{s.name}' ({provided.distribution} {provided.version}) failed to start: "
            f"{type(exc).__name__}: {exc}",
            f"Check the '{SECTION_OF[s.kind]}' settings against the plugin's README; if they are right, run with "
            f"--debug for the traceback and report it to the authors of {provided.distribution}.",
        ) from exc


def build_env(name: str, section: Any = None, registry: Registry | None = None) -> ChunkedVectorEnv:
    provided, config = resolve("env", name, section, registry)
    return call_factory(provided, config)


def build_policy(
    name: str,
    section: Any,
    observation_spec: ObservationSpec,
    action_spec: ActionSpec,
    registry: Registry | None = None,
) -> ChunkedPolicy:
    provided, config = resolve("policy", name, section, registry)
    return call_factory(provided, config, observation_spec=observation_spec, action_spec=action_spec)


def build_algo(name: str, section: Any = None, registry: Registry | None = None) -> Algorithm:
    provided, config = resolve("algo", name, section, registry)
    return call_factory(provided, config)
