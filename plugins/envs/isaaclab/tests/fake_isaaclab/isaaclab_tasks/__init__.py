"""Fake of ``isaaclab_tasks``: importing it registers the stack-cube task ids with gymnasium."""

from isaaclab import _log

_log.require_app("isaaclab_tasks")
_log.event("import isaaclab_tasks")

from .manager_based.manipulation.stack.config import franka  # noqa: E402,F401
