"""Test fake of IsaacLab (CPU, torch): mirrors the real API used by vlarl-isaaclab, release line 2.3 or 3.0.

The file VLARL_TEST_FAKE beside this module marks it as the fake (it needs no GPU). The release line it
behaves as is the version of the first ``isaaclab`` distribution on sys.path: the fake ships
``isaaclab-2.3.2.post1.dist-info`` (the PyPI 2.3 wheel's layout: ``isaaclab_tasks`` is a Kit extension under
``isaaclab/source/``, importable only once the app runs); tests prepend an ``isaaclab-3.0.0.dist-info`` and
``isaaclab/source/isaaclab_tasks`` (top-level in the 3.0 wheel) to get 3.0.
"""

from isaaclab._version import GENERATION, VERSION

__version__ = VERSION
__all__ = ["GENERATION", "__version__"]
