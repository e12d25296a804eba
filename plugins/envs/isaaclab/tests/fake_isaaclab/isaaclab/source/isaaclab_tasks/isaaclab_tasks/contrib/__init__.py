"""3.0 layout: contributed task families (``isaaclab_tasks/contrib``)."""

from isaaclab._version import GENERATION

if GENERATION < 3:
    raise ImportError("isaaclab_tasks.contrib does not exist in IsaacLab 2.3 (fake isaaclab)")
