"""The remote end of a chunked env: any env plugin, built from its config section, answering wire calls.

Used by env worker processes (``env.runtime.python`` / ``env.runtime.workers``) and by
``vlarl env-server``. Specs travel as plain maps (:func:`specs_to_wire` / :func:`specs_from_wire`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from vlarl.contracts.spaces import ActionDim, ActionSpec, ObservationSpec

METHODS = frozenset({"reset", "chunk_step", "render_frames", "close"})
"""What a TCP client may call on a served env."""


def specs_to_wire(env: Any) -> dict[str, Any]:
    obs: ObservationSpec = env.observation_spec
    act: ActionSpec = env.action_spec
    return {
        "num_envs": int(env.num_envs),
        "max_episode_steps": int(env.max_episode_steps),
        "observation": {
            "states": obs.states,
            "images": obs.images,
            "wrist_images": obs.wrist_images,
            "extra": dict(obs.extra),
            "state_names": obs.state_names,
            "tasks": obs.tasks,
        },
        "action": {"dims": [dataclasses.asdict(d) for d in act.dims], "gripper": act.gripper},
    }


def _tuple(x: Any) -> tuple | None:
    return None if x is None else tuple(x)


def specs_from_wire(d: dict[str, Any]) -> tuple[ObservationSpec, ActionSpec]:
    o, a = d["observation"], d["action"]
    obs = ObservationSpec(
        states=_tuple(o.get("states")),
        images=_tuple(o.get("images")),
        wrist_images=_tuple(o.get("wrist_images")),
        extra={str(k): tuple(v) for k, v in (o.get("extra") or {}).items()},
        state_names=_tuple(o.get("state_names")),
        tasks=_tuple(o.get("tasks")),
    )
    act = ActionSpec(tuple(ActionDim(**dim) for dim in a["dims"]), a.get("gripper", "none"))
    return obs, act


def step_to_wire(step: Any) -> dict[str, Any]:
    return {
        "observations": dict(step.observations),
        "rewards": step.rewards,
        "terminations": step.terminations,
        "truncations": step.truncations,
        "valid": step.valid,
        "infos": step.infos,
    }


class EnvService:
    """Builds ``name`` from ``section`` through this interpreter's plugin registry and serves it."""

    def __init__(self, name: str, section: dict[str, Any] | None = None) -> None:
        from vlarl.plugins.build import call_factory, resolve

        self.provided, config = resolve("env", name, section or {})
        self.env = call_factory(self.provided, config)

    def info(self) -> dict[str, Any]:
        import platform

        import numpy

        import vlarl

        p = self.provided
        return {
            "env": {"name": p.spec.name, "distribution": p.distribution, "version": p.version},
            "vlarl": vlarl.__version__,
            "python": platform.python_version(),
            "numpy": numpy.__version__,
            "specs": specs_to_wire(self.env),
        }

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> list[Any]:
        obs, infos = self.env.reset(seed=seed, options=options)
        return [dict(obs), infos]

    def chunk_step(self, actions: Any) -> dict[str, Any]:
        return step_to_wire(self.env.chunk_step(actions))

    def render_frames(self) -> Any:
        return self.env.render_frames()

    def close(self) -> None:
        self.env.close()


def list_plugins() -> list[dict[str, Any]]:
    """This interpreter's env plugins, as ``vlarl plugins --json`` rows (for a host listing a runtime)."""
    from vlarl.plugins.registry import get_registry

    rows = []
    for p in get_registry().list("env"):
        missing = p.spec.missing_requirements()
        rows.append(
            {
                "kind": "env",
                "name": p.spec.name,
                "distribution": p.distribution,
                "version": p.version,
                "description": p.spec.description,
                "ok": not missing,
                "missing": [{"what": r.missing(), "fix": r.fix} for r in missing],
            }
        )
    return rows


class PluginLister:
    """Worker target that only lists this interpreter's env plugins (``vlarl plugins`` with a runtime)."""

    def info(self) -> dict[str, Any]:
        import platform

        import numpy

        import vlarl

        return {"plugins": list_plugins(), "python": platform.python_version(), "numpy": numpy.__version__,
                "vlarl": vlarl.__version__}  # fmt: skip
