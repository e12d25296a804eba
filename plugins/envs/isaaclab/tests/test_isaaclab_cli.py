"""`vlarl check env isaaclab ...` as a user runs it, against the fake isaaclab (the real one needs Isaac Sim)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

FAKE = Path(__file__).parent / "fake_isaaclab"


@pytest.mark.slow
def test_vlarl_check_env_isaaclab_passes_on_the_fake():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FAKE), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "vlarl.cli", "check", "env", "isaaclab",
           "task=Isaac-Stack-Cube-Franka-IK-Rel-Visuomotor-Cosmos-v0", "num_envs=2", "device=cpu"]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "env 'isaaclab': PASS" in res.stdout and "FAIL" not in res.stdout


def test_without_isaac_sim_the_check_names_what_is_missing():
    res = subprocess.run([sys.executable, "-m", "vlarl.cli", "check", "env", "isaaclab"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2
    assert "isaacsim" in res.stderr and "pip install" in res.stderr and "Traceback" not in res.stderr
