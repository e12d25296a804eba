"""`vlarl check` on the real policy and algorithm plugins, as the issues name them."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "args",
    [("policy", "openvla_oft", "preset=tiny"), ("policy", "gr00t"), ("algo", "ppo"), ("algo", "grpo"), ("algo", "sb3")],
    ids=lambda a: " ".join(a),
)
def test_vlarl_check_passes(args):
    res = subprocess.run(
        [sys.executable, "-m", "vlarl.cli", "check", *args], capture_output=True, text=True, timeout=900
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert ": PASS" in res.stdout and "FAIL" not in res.stdout
