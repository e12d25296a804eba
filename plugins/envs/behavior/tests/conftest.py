"""Fixtures for vlarl-behavior: a fake OmniGibson install (package, datasets, Isaac Sim path, nvidia-smi)."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

FAKE_OG = Path(__file__).parent / "fake_omnigibson"
SCENE = "house_double_floor_lower"
ACTIVITY = "turning_on_radio"
GOALS = {0: 2.0, 1: 4.0, 2: 3.0}  # summed right-gripper command that makes the fake task succeed
ROBOT_POSE = (1.0, 2.0, 0.0)  # robot position of every cached instance, relative to its scene


def write_instances(data: Path, activity: str = ACTIVITY, scene: str = SCENE, goals: dict[int, float] = GOALS) -> None:
    folder = data / "2025-challenge-task-instances" / "scenes" / scene / "json" / f"{scene}_task_{activity}_instances"
    folder.mkdir(parents=True, exist_ok=True)
    for inst, goal in goals.items():
        state = {
            # joint_pos: a nested numeric list, one [2, 2] tensor once loaded (as upstream converts it)
            "radio.n.01_1": {"goal": [goal], "marker": [float(inst + 1)], "joint_pos": [[0.1, 0.2], [0.3, 0.4]]},
            "robot_poses": {"R1Pro": [{"position": list(ROBOT_POSE), "orientation": [0.0, 0.0, 0.0, 1.0]}]},
        }
        (folder / f"{scene}_task_{activity}_0_{inst}_template-tro_state.json").write_text(json.dumps(state))


def fake_nvidia_smi(bin_dir: Path, line: str) -> None:
    exe = bin_dir / "nvidia-smi"
    exe.write_text(f"#!/bin/sh\necho '{line}'\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)


def install(root: Path, mp: pytest.MonkeyPatch) -> Path:
    """Everything the env checks, faked; the fake omnigibson is importable here and in spawned workers."""
    data = root / "datasets"
    write_instances(data)
    isaac = root / "isaac-sim"
    isaac.mkdir()
    bin_dir = root / "bin"
    bin_dir.mkdir()
    fake_nvidia_smi(bin_dir, "NVIDIA L40S, 570.86.15")
    mp.setenv("OMNIGIBSON_DATA_PATH", str(data))
    mp.setenv("ISAAC_PATH", str(isaac))
    mp.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    mp.setenv("PYTHONPATH", f"{FAKE_OG}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    mp.syspath_prepend(str(FAKE_OG))
    for name in [m for m in sys.modules if m == "omnigibson" or m.startswith("omnigibson.")]:
        mp.delitem(sys.modules, name)
    return root


@pytest.fixture
def fake_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return install(tmp_path, monkeypatch)


@pytest.fixture(scope="module")
def shared_install(tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as mp:
        yield install(tmp_path_factory.mktemp("behavior"), mp)
