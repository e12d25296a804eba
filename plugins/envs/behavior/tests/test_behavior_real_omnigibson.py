"""A real BEHAVIOR task for a few chunks: runs only where the real omnigibson (and Isaac Sim, a GPU) exist."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_spec = importlib.util.find_spec("omnigibson")
_REAL = _spec is not None and "fake_omnigibson" not in str(_spec.origin or Path())

pytestmark = [
    pytest.mark.requires_omnigibson,
    pytest.mark.requires_gpu,
    pytest.mark.slow,
    pytest.mark.skipif(not _REAL, reason="the real omnigibson (BEHAVIOR-1K) is not installed"),
]


def test_real_turning_on_radio_runs_a_few_chunks():
    from vlarl_behavior.env import make_env
    from vlarl_behavior.register import BehaviorEnvConfig

    env = make_env(BehaviorEnvConfig(num_envs=2, envs_per_worker=2, max_episode_steps=50, allow_non_rtx_gpu=True))
    try:
        obs, _ = env.reset(seed=0)
        assert obs["images"].shape == (2, 3, 224, 224) and obs["wrist_images"].shape == (2, 2, 3, 224, 224)
        assert obs["images"].std() > 0  # something was rendered
        # Hold the initial joint targets (taken from proprioception is robot-specific), base still.
        actions = np.zeros((2, 4, 23), dtype=np.float32)
        actions[..., 14] = actions[..., 22] = 1.0  # grippers open
        for _ in range(3):
            step = env.chunk_step(actions)
            assert step.rewards.shape == (2, 4) and np.isfinite(step.observations["states"]).all()
    finally:
        env.close()
