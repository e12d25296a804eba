"""Build an env, policy or algorithm from its plugin name and config section."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vlarl.config import validate_section
from vlarl.errors import PluginError
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


def resolve(
    kind: Kind, name: str, section: Any, registry: Registry | None = None, check_requirements: bool = True
) -> tuple[Provided, Any]:
    """Find the plugin, validate its config section, check its requirements."""
    provided = (registry or get_registry()).get(kind, name)
    config = validate_section(
        provided.spec.config, section, where={"env": "env", "policy": "policy", "algo": "algorithm", "dataset": "dataset"}[kind]
    )
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


def build_env(name: str, section: Any = None, registry: Registry | None = None) -> ChunkedVectorEnv:
    provided, config = resolve("env", name, section, registry)
    return factory_of(provided)(config)


def build_policy(
    name: str,
    section: Any,
    observation_spec: ObservationSpec,
    action_spec: ActionSpec,
    registry: Registry | None = None,
) -> ChunkedPolicy:
    provided, config = resolve("policy", name, section, registry)
    return factory_of(provided)(config, observation_spec=observation_spec, action_spec=action_spec)


def build_algo(name: str, section: Any = None, registry: Registry | None = None) -> Algorithm:
    provided, config = resolve("algo", name, section, registry)
    return factory_of(provided)(config)
