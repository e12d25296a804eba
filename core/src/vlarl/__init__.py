"""vlarl: RL fine-tuning of Vision-Language-Action policies, as a host plus plugins.

Importing ``vlarl`` is light (no torch): registration modules use
``vlarl.hookimpl``, ``vlarl.PluginSpec`` and ``vlarl.Requirement``.
"""

from vlarl.plugins.hooks import hookimpl, hookspec
from vlarl.plugins.spec import PluginSpec, Requirement

__version__ = "0.1.0"
__all__ = ["PluginSpec", "Requirement", "__version__", "hookimpl", "hookspec"]
