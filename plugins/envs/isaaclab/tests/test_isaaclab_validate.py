"""A misspelt task id is named ('did you mean') before the simulator's requirements, even without Isaac Sim."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vlarl.errors import ConfigError
from vlarl_isaaclab.register import IsaacLabEnvConfig, validate_config

PLAIN = "Isaac-Stack-Cube-Franka-IK-Rel-Visuomotor-v0"
MY_TASK = """
import vlarl

@vlarl.hookimpl(optionalhook=True)
def vlarl_isaaclab_tasks():
    return [{"id": "My-Reach-v0", "module": "my_reach.tasks"}]
"""


def test_vlarl_check_names_a_misspelt_task_where_isaac_sim_is_missing():
    """The real situation of this machine: no Isaac Sim. The typo is named first, with the closest id."""
    cmd = [
        sys.executable,
        "-m",
        "vlarl.cli",
        "check",
        "env",
        "isaaclab",
        "task=Isaac-Stak-Cube-Franka-IK-Rel-Visuomotor-v0",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "no IsaacLab task of that id or alias is registered" in res.stderr
    assert f"Did you mean '{PLAIN}'?" in res.stderr
    assert "isaacsim" not in res.stderr and "Traceback" not in res.stderr


def test_a_known_task_goes_on_to_the_requirements():
    """A fresh interpreter (other tests leave the fake isaaclab imported): no Isaac Sim, so they come next."""
    cmd = [sys.executable, "-m", "vlarl.cli", "check", "env", "isaaclab", f"task={PLAIN}"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "cannot start; missing" in res.stderr and "isaacsim" in res.stderr
    assert "no IsaacLab task" not in res.stderr


def test_tasks_of_other_packages_and_unpackaged_tasks_are_accepted(dist_root, make_dist, registry_for):
    make_dist(dist_root, "my-reach", {"other_tasks_reach": MY_TASK}, {"my_reach": "other_tasks_reach"})
    reg = registry_for("my-reach")
    validate_config(IsaacLabEnvConfig(task="My-Reach-v0"), reg)
    validate_config(IsaacLabEnvConfig(task="Unpackaged-v0", task_module="my_pkg.register"), reg)
    with pytest.raises(ConfigError) as exc:
        validate_config(IsaacLabEnvConfig(task="My-Reech-v0"), reg)
    assert "Did you mean 'My-Reach-v0'?" in exc.value.problem
    assert "My-Reach-v0" in exc.value.fix and "env.task_module" in exc.value.fix
    with pytest.raises(ConfigError) as exc:
        validate_config(IsaacLabEnvConfig(task="Totally-Different"), reg)
    assert "Did you mean" not in exc.value.problem
