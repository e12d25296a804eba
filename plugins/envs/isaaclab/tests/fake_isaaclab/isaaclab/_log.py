"""Event log of the fake (start order, sizes), appended to $FAKE_ISAACLAB_LOG when set."""

import os

_launched = False


def event(text: str) -> None:
    path = os.environ.get("FAKE_ISAACLAB_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text + "\n")


def set_launched() -> None:
    global _launched
    _launched = True


def require_app(module: str) -> None:
    # Like the real stack: omni.* (hence isaaclab.envs, isaaclab_tasks) cannot load before SimulationApp runs.
    if not _launched:
        raise ImportError(f"{module} imported before AppLauncher started the simulation app (fake isaaclab)")
