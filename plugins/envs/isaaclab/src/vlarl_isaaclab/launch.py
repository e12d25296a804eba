"""Starting Isaac Sim in the worker, per IsaacLab release line (imports isaaclab: worker only).

* 2.x: ``isaaclab.app.AppLauncher(**kwargs)``; ``launcher.app.close()`` shuts it down.
* 3.x: ``AppLauncher`` is a deprecated wrapper around ``isaaclab.app.launch_simulation(cfg, args)``,
  a context manager; vlarl enters it directly, with ``require_kit=True`` as the wrapper does (the env
  is made after the task packages are imported, so no cfg is known at launch time).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from typing import Any

from vlarl_isaaclab.taskdecl import TaskDecl


def launcher_args(device: str, extra: dict[str, Any]) -> dict[str, Any]:
    """The user's launcher arguments with what vlarl needs forced: headless, cameras on, the env's device."""
    return {**extra, "headless": True, "enable_cameras": True, "device": device}


def launch(generation: int, args: dict[str, Any]) -> Callable[[], None]:
    """Start the simulation app; returns the function that closes it."""
    if generation >= 3:
        from isaaclab.app import launch_simulation

        stack = contextlib.ExitStack()
        stack.enter_context(launch_simulation(None, {**args, "require_kit": True}))
        return stack.close
    from isaaclab.app import AppLauncher

    return AppLauncher(**args).app.close


def warn_explicit_wxyz(decl: TaskDecl, generation: int) -> None:
    """IsaacLab 3.x quaternions are xyzw: an explicit ``axis_angle_wxyz`` term would read x as w."""
    forced = [term for term, how in decl.state_terms if how == "axis_angle_wxyz"]
    if generation >= 3 and forced:
        warnings.warn(
            f"Task {decl.id}: state terms {forced} use 'axis_angle_wxyz', but IsaacLab 3.x observations are xyzw. "
            "Use 'axis_angle' (the installed IsaacLab's order) unless the term really is wxyz.",
            stacklevel=2,
        )
