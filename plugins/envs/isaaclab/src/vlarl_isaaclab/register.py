"""Registration of the ``isaaclab`` env plugin (light: no torch, no simulator).

Also adds the ``vlarl_isaaclab_tasks`` hookspec for task packages, and
declares the built-in stack-cube tasks through that same hook.
"""

from __future__ import annotations

import difflib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import vlarl
from vlarl.errors import ConfigError
from vlarl_isaaclab import versions
from vlarl_isaaclab.taskdecl import TaskDecl, collect_tasks, describe_tasks, ensure_hookspecs

__all__ = [
    "IsaacLabEnvConfig",
    "describe_tasks",
    "validate_config",
    "vlarl_addhooks",
    "vlarl_isaaclab_tasks",
    "vlarl_register",
]

FAKE_MARKER = "VLARL_TEST_FAKE"
"""A file of this name inside an ``isaaclab`` package marks the CPU test fake (it needs no GPU)."""

STACK_DESCRIPTION = "Stack the red block on the blue block, then stack the green block on the red block."


@dataclass
class IsaacLabEnvConfig:
    task: str = "Isaac-Stack-Cube-Franka-IK-Rel-Visuomotor-Cosmos-v0"
    """A registered IsaacLab task id or alias (see 'vlarl plugins'); 2.x and 3.x ids both resolve."""
    num_envs: int = 8
    image_size: int = 256
    """Height and width of the main camera (``table_cam`` for stack-cube)."""
    wrist_image_size: int = 256
    max_episode_steps: int | None = None
    """Truncation horizon in sub-steps (default: the task's)."""
    task_description: str | None = None
    """Overrides the task's declared description."""
    device: str = "cuda:0"
    """Simulation device; observations and rewards come back as torch tensors on it."""
    extra_task_packages: list[str] = field(default_factory=list)
    """Modules imported inside the worker after launch, for tasks that are not packaged."""
    task_module: str | None = None
    """For a task id no package declares: the module registering it (default mapping = stack-cube's)."""
    startup_timeout_s: float = 900.0
    step_timeout_s: float = 300.0
    launcher_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra launcher arguments (AppLauncher on 2.x, launch_simulation on 3.x); headless, enable_cameras and
    device are always set by vlarl."""
    cfg_overrides: list[str] = field(default_factory=list)
    """Hydra-style ``key=value`` overrides passed to ``parse_env_cfg`` (IsaacLab 3.x only)."""


class _GpuRequirement(vlarl.Requirement):
    """An NVIDIA GPU, waived only for the CPU test fake of ``isaaclab`` (it ships a marker file)."""

    def missing(self) -> str | None:
        if _is_test_fake():
            return None
        return super().missing()


class _PythonVersionRequirement(vlarl.Requirement):
    """The Python the installed IsaacLab release line runs on (2.x: 3.10/3.11, 3.x: 3.12); waived for the fake."""

    def missing(self) -> str | None:
        if _is_test_fake():
            return None
        install = versions.detect()
        ok = versions.pythons_for(install)
        if sys.version_info[:2] in ok:
            return None
        wanted = "/".join(f"{a}.{b}" for a, b in ok)
        which = f"IsaacLab {install.version} needs" if install.version else "IsaacLab needs"
        return f"Python {sys.version_info[0]}.{sys.version_info[1]} ({which} Python {wanted})"


class _TasksRequirement(vlarl.Requirement):
    """``isaaclab_tasks`` importable, or the Kit extension the PyPI 2.3 wheel loads when the app starts."""

    def missing(self) -> str | None:
        return None if versions.detect().tasks_present() else super().missing()


def _is_test_fake() -> bool:
    try:
        spec = importlib.util.find_spec("isaaclab")
    except (ImportError, ValueError):
        return False
    locations = list(spec.submodule_search_locations or []) if spec else []
    return any((Path(loc) / FAKE_MARKER).exists() for loc in locations)


_SIM_FIX = (
    'pip install "vlarl-isaaclab[sim]" --extra-index-url https://pypi.nvidia.com '
    "(Python 3.11: IsaacLab 2.3, Python 3.12: IsaacLab 3.0; or from source: https://isaac-sim.github.io/IsaacLab)"
)
REQUIREMENTS: tuple[vlarl.Requirement, ...] = (
    _PythonVersionRequirement(
        "python",
        "python3.10|3.11|3.12",
        "use Python 3.11 (IsaacLab 2.3, Isaac Sim 5.x), 3.10 (Isaac Sim 4.5) or 3.12 (IsaacLab 3.0, Isaac Sim 6)",
    ),
    vlarl.Requirement("python", "isaacsim", _SIM_FIX),
    vlarl.Requirement("python", "isaaclab", _SIM_FIX),
    _TasksRequirement("python", "isaaclab_tasks", _SIM_FIX),
    _GpuRequirement(
        "gpu", "nvidia-rtx", "run on a machine with an RTX-class NVIDIA GPU and driver (Isaac Sim renders with RTX)"
    ),
)


@vlarl.hookimpl
def vlarl_register() -> list[vlarl.PluginSpec]:
    return [
        vlarl.PluginSpec(
            kind="env",
            name="isaaclab",
            factory="vlarl_isaaclab.env:make_env",
            description="IsaacLab tasks (stack-cube; any package's tasks via the vlarl_isaaclab_tasks hook), "
            "GPU-batched, simulator in a spawned worker.",
            config=IsaacLabEnvConfig,
            requirements=REQUIREMENTS,
            extra={"validate_config": "vlarl_isaaclab.register:validate_config"},
        )
    ]


def validate_config(cfg: IsaacLabEnvConfig, registry: Any) -> None:
    """Name an unknown task id before the requirements are checked: task declarations are light, so a
    misspelling gets 'did you mean' even where Isaac Sim is not installed (the host calls this first)."""
    table = collect_tasks(registry)
    if cfg.task in table.by_name or cfg.task_module:
        return  # a declared task (duplicates are named by the env), or an unpackaged one with its module
    names = sorted(table.by_name)
    close = difflib.get_close_matches(cfg.task, names, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    broken = "".join(f" A task provider failed: {f}." for f in table.failures)
    raise ConfigError(
        f"env.task='{cfg.task}': no IsaacLab task of that id or alias is registered.{hint}{broken}",
        f"Use a registered task ({', '.join(names) or 'none is registered'}; 'vlarl plugins' lists them with "
        "their distributions), install the package that declares it, or for an unpackaged task set "
        "env.task_module to the module that registers it.",
    )


@vlarl.hookimpl
def vlarl_addhooks(pluginmanager: Any) -> None:
    ensure_hookspecs(pluginmanager)


_STACK_IDS = (
    # IsaacLab 2.x ids first; 3.0 moved the task to isaaclab_tasks/contrib/stack and renamed it (no -v0).
    (
        "Isaac-Stack-Cube-Franka-IK-Rel-Visuomotor-Cosmos-v0",
        ("IsaacContrib-Stack-Cube-Franka-IK-Rel-Visuomotor-Cosmos",),
    ),
    # The non-Cosmos sibling; RLinf's IsaacLab fork later names it "...-Rewarded-v0" (same cfg + reward term).
    (
        "Isaac-Stack-Cube-Franka-IK-Rel-Visuomotor-v0",
        ("Isaac-Stack-Cube-Franka-IK-Rel-Visuomotor-Rewarded-v0", "IsaacContrib-Stack-Cube-Franka-IK-Rel-Visuomotor"),
    ),
)


# optionalhook: with VLARL_PLUGINS excluding this plugin's spec, the impl must not be a load error.
@vlarl.hookimpl(optionalhook=True)
def vlarl_isaaclab_tasks() -> list[TaskDecl]:
    return [
        TaskDecl(id=task_id, aliases=aliases, module="isaaclab_tasks", description=STACK_DESCRIPTION)
        for task_id, aliases in _STACK_IDS
    ]


@vlarl.hookimpl
def vlarl_plugin_details(registry: Any) -> dict[str, list[str]]:
    """``vlarl plugins`` lists every registered IsaacLab task under this env, with its distribution."""
    lines = []
    for row in describe_tasks(registry):
        if row["task"] is None:
            lines.append(f"! task provider failed: {row['error']}")
            continue
        aliases = f" (aliases: {', '.join(row['aliases'])})" if row["aliases"] else ""
        dup = f"  DUPLICATE, also from {', '.join(row['duplicate_of'])}" if row["duplicate_of"] else ""
        lines.append(f"task {row['task']}{aliases} from {row['distribution']}{dup}")
    return {"env:isaaclab": lines}
