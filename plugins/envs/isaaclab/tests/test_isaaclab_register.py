"""Registration, task declarations, the task hook, requirement checks (no worker spawned)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from vlarl.errors import PluginError
from vlarl_isaaclab import versions
from vlarl_isaaclab.register import REQUIREMENTS, IsaacLabEnvConfig
from vlarl_isaaclab.taskdecl import TaskDecl, collect_tasks, describe_tasks

from .conftest import write_dist_info

COSMOS = "Isaac-Stack-Cube-Franka-IK-Rel-Visuomotor-Cosmos-v0"
PLAIN = "Isaac-Stack-Cube-Franka-IK-Rel-Visuomotor-v0"
REWARDED = "Isaac-Stack-Cube-Franka-IK-Rel-Visuomotor-Rewarded-v0"

DUP_MODULE = """
import vlarl

@vlarl.hookimpl(optionalhook=True)
def vlarl_isaaclab_tasks():
    return [{"id": "Isaac-Stack-Cube-Franka-IK-Rel-Visuomotor-Cosmos-v0", "module": "x"}]
"""


def test_register_module_is_light() -> None:
    code = (
        "import sys, vlarl_isaaclab.register, vlarl_isaaclab.taskdecl\n"
        "heavy = [m for m in ('torch', 'isaaclab', 'isaacsim', 'gymnasium', 'numpy') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # numpy comes with vlarl's spaces only if something imported them; torch/simulator never
    assert "torch" not in out and "isaaclab" not in out and "isaacsim" not in out, out


def test_builtin_stack_tasks_are_listed_with_alias_and_distribution(registry_for) -> None:
    reg = registry_for()
    assert not reg.failures, [f.message() for f in reg.failures]
    rows = {r["task"]: r for r in describe_tasks(reg)}
    assert rows[COSMOS]["distribution"] == "vlarl-isaaclab"
    assert rows[PLAIN]["aliases"] == [REWARDED, "IsaacContrib-Stack-Cube-Franka-IK-Rel-Visuomotor"]
    assert collect_tasks(reg).resolve(REWARDED).decl.id == PLAIN


def test_duplicate_task_id_names_both_distributions(dist_root, make_dist, registry_for) -> None:
    make_dist(dist_root, "dup-tasks", {"dup_tasks": DUP_MODULE}, {"dup": "dup_tasks"})
    reg = registry_for("dup-tasks")
    assert not reg.failures, [f.message() for f in reg.failures]
    with pytest.raises(PluginError) as err:
        collect_tasks(reg).resolve(COSMOS)
    assert "dup-tasks" in err.value.problem and "vlarl-isaaclab" in err.value.problem
    assert "VLARL_DISABLE_PLUGINS" in err.value.fix
    dup_rows = [r for r in describe_tasks(reg) if r["task"] == COSMOS]
    assert {r["distribution"] for r in dup_rows} == {"dup-tasks", "vlarl-isaaclab"}
    assert all(r["duplicate_of"] for r in dup_rows)


def test_unknown_task_lists_registered_ids_and_distributions(registry_for) -> None:
    with pytest.raises(PluginError) as err:
        collect_tasks(registry_for()).resolve("Isaac-Stack-Cube-Franka-IK-Rel-Visuomotr-Cosmos-v0")
    msg = err.value.problem
    assert COSMOS in msg and PLAIN in msg and "(vlarl-isaaclab)" in msg and "Did you mean" in msg
    assert "extra_task_packages" in err.value.fix


def test_broken_provider_is_reported_not_hiding_others(dist_root, make_dist, registry_for) -> None:
    bad = "import vlarl\n@vlarl.hookimpl(optionalhook=True)\ndef vlarl_isaaclab_tasks():\n    return [{'id': 'X', 'bogus': 1}]\n"
    make_dist(dist_root, "other-tasks", {"other_tasks": bad}, {"other": "other_tasks"})
    table = collect_tasks(registry_for("other-tasks"))
    assert COSMOS in table.by_name
    assert any("other-tasks" in f and "bogus" in f for f in table.failures)


def test_task_declaration_rejects_bad_mapping() -> None:
    with pytest.raises(ValueError, match="transform"):
        TaskDecl(id="T", state_terms=(("eef_quat", "euler"),))
    with pytest.raises(ValueError, match="action_low"):
        TaskDecl(id="T", action_low=(-1.0,))


def test_missing_simulator_fails_before_spawning(monkeypatch: pytest.MonkeyPatch) -> None:
    from vlarl.envs import pool
    from vlarl_isaaclab import env as env_mod

    for name in [m for m in sys.modules if m.split(".")[0] in ("isaaclab", "isaacsim", "isaaclab_tasks")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if "fake_isaaclab" not in p])
    monkeypatch.setattr(pool.ProcessWorker, "start", lambda *a, **k: pytest.fail("a worker was started"))
    with pytest.raises(PluginError) as err:
        env_mod.make_env(IsaacLabEnvConfig(num_envs=2, device="cpu"))
    assert "isaaclab" in err.value.problem and "pip install" in err.value.problem
    assert "NVIDIA GPU" in err.value.problem or "nvidia" in err.value.problem.lower()


def test_requirements_accept_the_pypi_wheel_layout(fake_isaaclab) -> None:
    # PyPI isaaclab 2.3.x ships isaaclab_tasks as a Kit extension (isaaclab/source/isaaclab_tasks), importable
    # only once the app runs; the start-up check must not refuse that install
    assert importlib.util.find_spec("isaaclab_tasks") is None
    assert [r.name for r in REQUIREMENTS if r.missing() is not None] == []


@pytest.mark.parametrize(
    ("version", "wheel", "generation"),
    [("2.3.2.post1", True, 2), ("3.0.0", True, 3), ("0.54.2", False, 2), ("28.0.0", False, 3), (None, False, 2)],
)
def test_release_line_from_version_and_layout(tmp_path, version, wheel, generation) -> None:
    pkg = tmp_path / "isaaclab"
    (pkg / "source" if wheel else pkg).mkdir(parents=True)
    install = versions.IsaacLabInstall(version=version, location=pkg)
    assert install.wheel is wheel and install.generation == generation
    assert install.quat_order == ("xyzw" if generation == 3 else "wxyz")


def test_python_requirement_follows_the_installed_release(tmp_path, monkeypatch) -> None:
    python_req = REQUIREMENTS[0]
    monkeypatch.syspath_prepend(str(write_dist_info(tmp_path / "three", "isaaclab", "3.0.0")))
    problem = python_req.missing()
    assert (problem is None) == (sys.version_info[:2] == (3, 12))
    if problem:
        assert "IsaacLab 3.0.0 needs Python 3.12" in problem
    monkeypatch.syspath_prepend(str(write_dist_info(tmp_path / "two", "isaaclab", "2.3.2.post1")))
    assert (python_req.missing() is None) == (sys.version_info[:2] in ((3, 10), (3, 11)))


def test_builtin_stack_tasks_resolve_the_isaaclab_3_ids(registry_for) -> None:
    table = collect_tasks(registry_for())
    assert table.resolve("IsaacContrib-Stack-Cube-Franka-IK-Rel-Visuomotor-Cosmos").decl.id == COSMOS
    assert table.resolve("IsaacContrib-Stack-Cube-Franka-IK-Rel-Visuomotor").decl.id == PLAIN
