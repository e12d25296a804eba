"""Test fake of IsaacLab 2.3 (CPU, torch): mirrors the shapes of the real API used by vlarl-isaaclab.

The file VLARL_TEST_FAKE beside this module marks it as the fake (it needs no GPU).
"""

__version__ = "2.3.0+vlarl.fake"
