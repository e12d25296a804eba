"""Fake of ``isaaclab_tasks``: importing it registers the stack-cube task ids of the fake's release line.

2.3: ``manager_based/manipulation/stack/config/franka`` registers ``Isaac-Stack-Cube-...-v0``;
3.0: ``contrib/stack/config/franka`` registers ``IsaacContrib-Stack-Cube-...`` (no ``-v0``).
"""

from isaaclab import _log
from isaaclab._version import GENERATION

_log.require_app("isaaclab_tasks")
_log.event("import isaaclab_tasks")

if GENERATION >= 3:
    from .contrib.stack.config import franka
else:
    from .manager_based.manipulation.stack.config import franka  # noqa: F401
