"""`vlarl check env behavior` as a user runs it, on the fake OmniGibson install (the real one needs Isaac Sim)."""

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_vlarl_check_env_behavior_passes_on_the_fake(fake_install):
    cmd = [sys.executable, "-m", "vlarl.cli", "check", "env", "behavior", "num_envs=2", "image_size=32", "max_episode_steps=20"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)  # fake_install set PATH/PYTHONPATH/env vars
    assert res.returncode == 0, res.stdout + res.stderr
    assert "env 'behavior': PASS" in res.stdout and "FAIL" not in res.stdout
