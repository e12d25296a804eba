"""Event log of the fake (start order, sizes), appended to $FAKE_ISAACLAB_LOG when set; app state."""

import os
import sys
from pathlib import Path

from isaaclab._version import GENERATION

_launched = False
TASKS_EXTENSION = Path(__file__).parent / "source" / "isaaclab_tasks"
"""The 2.3 wheel's ``isaaclab_tasks`` Kit extension folder (``apps/isaaclab.python.headless.kit`` enables it)."""


def event(text: str) -> None:
    path = os.environ.get("FAKE_ISAACLAB_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text + "\n")


def set_launched() -> None:
    global _launched
    _launched = True
    # Like Kit's extension manager loading the wheel's isaaclab_tasks extension: its folder joins sys.path.
    if str(TASKS_EXTENSION) not in sys.path:
        sys.path.append(str(TASKS_EXTENSION))


def require_app(module: str) -> None:
    # 2.x: omni.* (hence isaaclab.envs, isaaclab_tasks) cannot load before SimulationApp runs.
    # 3.x loads configs without Kit (launch_simulation decides later whether Kit is needed).
    if GENERATION < 3 and not _launched:
        raise ImportError(f"{module} imported before AppLauncher started the simulation app (fake isaaclab)")
