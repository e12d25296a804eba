"""2.3 layout: ``isaaclab_tasks.manager_based`` (3.0 moved the manipulation tasks to ``core`` / ``contrib``)."""

from isaaclab._version import GENERATION

if GENERATION >= 3:
    raise ImportError("isaaclab_tasks.manager_based does not exist in IsaacLab 3.0 (fake isaaclab)")
