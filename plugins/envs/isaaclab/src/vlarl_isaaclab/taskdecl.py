"""IsaacLab task declarations and the hook that lets any installed package add its own.

Light: stdlib and vlarl only, so listing plugins never imports torch or the simulator.

A task package declares its tasks from a module named by an entry point in the
``vlarl.extensions`` group::

    [project.entry-points."vlarl.extensions"]
    my_tasks = "my_isaaclab_task.vlarl_tasks"

    # my_isaaclab_task/vlarl_tasks.py
    import vlarl
    from vlarl_isaaclab.taskdecl import TaskDecl

    @vlarl.hookimpl(optionalhook=True)
    def vlarl_isaaclab_tasks():
        return [TaskDecl(id="My-Reach-v0", module="my_isaaclab_task.tasks", description="reach the red dot")]
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, fields
from typing import Any

import vlarl
from vlarl.errors import PluginError

HOOK_NAME = "vlarl_isaaclab_tasks"
STATE_TRANSFORMS = ("raw", "axis_angle", "axis_angle_wxyz", "axis_angle_xyzw")
"""How a state term is turned into ``states`` columns: as is, or a quaternion -> axis-angle (3).

``axis_angle`` reads the quaternion in the installed IsaacLab's order (wxyz up to 2.x, xyzw from 3.0);
``axis_angle_wxyz`` / ``axis_angle_xyzw`` force an order (for terms a task computes itself)."""


@dataclass(frozen=True)
class TaskDecl:
    """One IsaacLab task as vlarl sees it: the gym id, how to map observations and actions.

    ``module`` is imported inside the worker after the app launcher started (it
    must call ``gymnasium.register`` with an ``env_cfg_entry_point``).
    """

    id: str
    module: str | None = None
    description: str = ""
    aliases: tuple[str, ...] = ()
    obs_group: str = "policy"
    image_term: str | None = "table_cam"
    """Observation term of ``obs_group`` holding the main camera (uint8 [N, H, W, 3]) -> ``images``."""
    wrist_image_term: str | None = "wrist_cam"
    """Observation term holding the wrist camera -> ``wrist_images`` (None: no wrist camera)."""
    image_sensor: str | None = "table_cam"
    """Scene camera whose height/width are overridden by ``image_size`` (``env_cfg.scene.<name>``)."""
    wrist_image_sensor: str | None = "wrist_cam"
    state_terms: tuple[tuple[str, str], ...] = (
        ("eef_pos", "raw"),
        ("eef_quat", "axis_angle"),
        ("gripper_pos", "raw"),
    )
    """(observation term, transform) pairs concatenated into ``states``."""
    action_names: tuple[str, ...] = ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper")
    action_low: tuple[float, ...] = (-1.0,) * 7
    action_high: tuple[float, ...] = (1.0,) * 7
    gripper_index: int | None = 6
    gripper: str = "open_positive"
    """IsaacLab's BinaryJointPositionAction closes for a negative command and opens otherwise."""
    hold_action: tuple[float, ...] | None = None
    """Action sent to sub-envs whose episode already ended inside a chunk (default: zeros)."""
    success_term: str | None = "success"
    """Termination term whose value is the task's success (None: no success signal)."""
    reward: str = "success"
    """``success``: sparse 1.0 on the sub-step the success term fires; ``env``: IsaacLab's reward."""
    max_episode_steps: int = 256
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.action_names)
        if not self.id:
            raise ValueError("TaskDecl.id must be a non-empty gym id")
        if len(self.action_low) != n or len(self.action_high) != n:
            raise ValueError(f"task {self.id}: action_low/high must have {n} entries like action_names")
        if self.hold_action is not None and len(self.hold_action) != n:
            raise ValueError(f"task {self.id}: hold_action must have {n} entries")
        for term, how in self.state_terms:
            if how not in STATE_TRANSFORMS:
                raise ValueError(
                    f"task {self.id}: state term {term!r} has transform {how!r}; use one of {STATE_TRANSFORMS}"
                )
        if self.reward not in ("success", "env"):
            raise ValueError(f"task {self.id}: reward must be 'success' or 'env', got {self.reward!r}")
        if self.reward == "success" and self.success_term is None:
            raise ValueError(f"task {self.id}: reward='success' needs a success_term")

    @classmethod
    def coerce(cls, value: Any) -> TaskDecl:
        """Accept a TaskDecl or a plain dict (so task packages need not import this module)."""
        if isinstance(value, TaskDecl):
            return value
        if isinstance(value, dict):
            valid = {f.name for f in fields(cls)}
            unknown = sorted(set(value) - valid)
            if unknown:
                raise ValueError(f"unknown TaskDecl key(s) {unknown}; valid: {sorted(valid)}")
            tuples = {
                k: tuple(tuple(x) if isinstance(x, list) else x for x in v)
                for k, v in value.items()
                if isinstance(v, list)
            }
            return cls(**{**value, **tuples})
        raise TypeError(f"expected TaskDecl or dict, got {type(value).__name__}")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class TaskHookSpecs:
    @vlarl.hookspec
    def vlarl_isaaclab_tasks(self) -> list[TaskDecl | dict[str, Any]]:
        """Declare IsaacLab tasks (TaskDecl or dicts of its fields). Light: no simulator imports."""


def ensure_hookspecs(pluginmanager: Any) -> None:
    """Add the task hookspec once (idempotent: the host may or may not have called vlarl_addhooks)."""
    caller = getattr(pluginmanager.hook, HOOK_NAME, None)
    if caller is None or not caller.has_spec():
        pluginmanager.add_hookspecs(TaskHookSpecs)


@dataclass(frozen=True)
class ProvidedTask:
    decl: TaskDecl
    distribution: str


class TaskTable:
    """Every declared task, keyed by id and alias, with the distribution that declared it."""

    def __init__(self, provided: list[ProvidedTask], failures: list[str] | None = None) -> None:
        self.tasks = provided
        self.failures = failures or []
        self.by_name: dict[str, list[ProvidedTask]] = {}
        for p in provided:
            for name in (p.decl.id, *p.decl.aliases):
                owners = self.by_name.setdefault(name, [])
                if all(o.distribution != p.distribution or o.decl.id != p.decl.id for o in owners):
                    owners.append(p)

    def duplicates(self) -> dict[str, list[str]]:
        return {n: sorted({p.distribution for p in ps}) for n, ps in self.by_name.items() if len(ps) > 1}

    def resolve(self, name: str) -> ProvidedTask:
        owners = self.by_name.get(name, [])
        if len(owners) > 1:
            dists = sorted({p.distribution for p in owners})
            raise PluginError(
                f"The IsaacLab task '{name}' is registered by several distributions: {', '.join(dists)}.",
                f"Uninstall one of them, or disable its vlarl.extensions entry point with "
                f"VLARL_DISABLE_PLUGINS=<entry point or distribution> (e.g. VLARL_DISABLE_PLUGINS={dists[-1]}).",
            )
        if not owners:
            listing = "; ".join(f"{p.decl.id} ({p.distribution})" for p in self.tasks) or "(none)"
            close = difflib.get_close_matches(name, list(self.by_name), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            broken = "".join(f" Task provider failed: {f}." for f in self.failures)
            raise PluginError(
                f"No IsaacLab task '{name}' is registered. Registered tasks (distribution): {listing}.{hint}{broken}",
                "Install the package that declares it (its vlarl.extensions entry point implements "
                "vlarl_isaaclab_tasks), or for an unpackaged task list its module in env.extra_task_packages "
                "and declare it with env.task_module.",
            )
        return owners[0]


def collect_tasks(registry: Any) -> TaskTable:
    """Call the task hook on every plugin of ``registry`` (a vlarl Registry)."""
    ensure_hookspecs(registry.pm)
    provided: list[ProvidedTask] = []
    failures: list[str] = []
    for dist, result in _results(registry):
        try:
            for item in result or []:
                provided.append(ProvidedTask(TaskDecl.coerce(item), dist))
        except Exception as exc:  # one broken provider must not hide the others' tasks
            failures.append(f"{dist}: {type(exc).__name__}: {exc}")
    return TaskTable(provided, failures)


def _results(registry: Any) -> list[tuple[str, Any]]:
    out = []
    for impl in getattr(registry.pm.hook, HOOK_NAME).get_hookimpls():
        dist = registry.pm.get_name(impl.plugin).rsplit(":", 1)[-1]
        try:
            out.append((dist, impl.function()))
        except Exception as exc:
            out.append((dist, _Raise(exc)))
    return out


class _Raise:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def __iter__(self) -> Any:
        raise self.exc


def describe_tasks(registry: Any) -> list[dict[str, Any]]:
    """Rows for ``vlarl plugins``: each registered IsaacLab task, its aliases and its distribution."""
    table = collect_tasks(registry)
    dups = table.duplicates()
    rows = [
        {
            "task": p.decl.id,
            "aliases": list(p.decl.aliases),
            "distribution": p.distribution,
            "module": p.decl.module,
            "description": p.decl.description,
            "duplicate_of": [d for d in dups.get(p.decl.id, []) if d != p.distribution],
        }
        for p in table.tasks
    ]
    rows += [{"task": None, "error": f} for f in table.failures]
    return rows
