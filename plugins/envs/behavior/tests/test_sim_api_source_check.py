"""The source check (scripts/sim_api_check) reads og.sim's methods right when they come from Isaac Sim.

OmniGibson's ``Simulator`` subclasses Isaac Sim's ``SimulationContext``, whose source is not in a BEHAVIOR-1K
tree: ``get_physics_dt`` / ``is_playing`` have no def there, yet og.sim has them (and vlarl calls the first).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]
WANTED = {"step", "step_physics", "get_physics_dt", "update_handles", "is_playing"}

SIMULATOR = """
import omnigibson.lazy as lazy
from omnigibson.utils.python_utils import Serializable


def _launch_simulator():
    class Simulator({bases}):
        def step(self):
            super().step(render=True)

        def step_physics(self):
            return self.get_physics_dt()

        def update_handles(self):
            if not self.is_playing():
                return
            self.refresh()
"""
SERIALIZABLE = """
class Serializable:
    def dump_state(self, serialized=False):
        return {}

    def is_playing(self):
        return True
"""


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch):
    if not (REPO / "scripts/sim_api_check/behavior_checks.py").is_file():
        pytest.skip("the source check lives in the vlarl repository's scripts/, not in this plugin's sdist")
    monkeypatch.syspath_prepend(str(REPO))
    return importlib.import_module("scripts.sim_api_check.behavior_checks")


def _tree(root: Path, bases: str, serializable: str = "class Serializable:\n    pass\n") -> Path:
    pkg = root / "omnigibson"
    (pkg / "utils").mkdir(parents=True)
    (pkg / "simulator.py").write_text(SIMULATOR.format(bases=bases))
    (pkg / "utils/python_utils.py").write_text(serializable)
    return pkg


def test_methods_inherited_from_isaac_sim_count_as_present(checks, tmp_path: Path) -> None:
    pkg = _tree(tmp_path, "lazy.isaacsim.core.api.SimulationContext, Serializable")
    present, inherited, bases = checks.simulator_methods(checks.Index(pkg), WANTED)
    assert present == ["get_physics_dt", "is_playing", "step", "step_physics", "update_handles"]
    assert inherited == ["get_physics_dt", "is_playing"]
    assert bases == "lazy.isaacsim.core.api.SimulationContext"


def test_method_of_an_in_tree_base_is_defined_not_inherited(checks, tmp_path: Path) -> None:
    pkg = _tree(tmp_path, "lazy.isaacsim.core.api.SimulationContext, Serializable", SERIALIZABLE)
    present, inherited, _ = checks.simulator_methods(checks.Index(pkg), WANTED)
    assert "is_playing" in present and inherited == ["get_physics_dt"]


def test_without_an_outside_base_a_call_proves_nothing(checks, tmp_path: Path) -> None:
    pkg = _tree(tmp_path, "Serializable")
    present, inherited, bases = checks.simulator_methods(checks.Index(pkg), WANTED)
    assert present == ["step", "step_physics", "update_handles"] and inherited == [] and bases == ""


def test_no_simulator_class_reads_as_absent(checks, tmp_path: Path) -> None:
    (tmp_path / "omnigibson").mkdir()
    (tmp_path / "omnigibson/macros.py").write_text("gm = None\n")
    assert checks.simulator_methods(checks.Index(tmp_path / "omnigibson"), WANTED) is None
