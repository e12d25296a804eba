"""The vlarl command line, run as users run it: in subprocesses."""

import json
import subprocess
import sys
import textwrap

import pytest

HEAVY = (
    "torch",
    "transformers",
    "timm",
    "peft",
    "mujoco",
    "robosuite",
    "libero",
    "isaaclab",
    "isaacsim",
    "omnigibson",
    "ray",
    "gymnasium",
)


def vlarl(*args, env=None, check=False):
    cmd = [sys.executable, "-m", "vlarl.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=check, timeout=300)


def test_listing_plugins_imports_nothing_heavy():
    code = textwrap.dedent(f"""
        import sys, io, contextlib
        from vlarl.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            main(["plugins", "--json"])
        print([m for m in {HEAVY!r} if m in sys.modules])
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_plugins_json_lists_reference_plugins_ok():
    rows = json.loads(vlarl("plugins", "--json", check=True).stdout)
    by_name = {(r["kind"], r["name"]): r for r in rows}
    for key in (("env", "gymnasium"), ("policy", "mlp")):
        assert by_name[key]["ok"] is True
        assert {"kind", "name", "distribution", "version", "ok"} <= set(by_name[key])
    assert by_name[("env", "gymnasium")]["distribution"] == "vlarl-gymnasium"
    only_policies = json.loads(vlarl("plugins", "--json", "--kind", "policy", check=True).stdout)
    assert {r["kind"] for r in only_policies} == {"policy"}


def test_disable_flag_hides_a_plugin():
    rows = json.loads(vlarl("--disable-plugins", "gymnasium", "plugins", "--json", check=True).stdout)
    assert "gymnasium" not in {r["name"] for r in rows}


def test_unknown_plugin_lists_installed_without_traceback():
    res = vlarl("check", "env", "no_such_env")
    assert res.returncode == 2
    assert "No env plugin named 'no_such_env'" in res.stderr and "gymnasium" in res.stderr
    assert "Traceback" not in res.stderr


def test_malformed_override_names_the_fix():
    res = vlarl("check", "env", "gymnasium", "num_envs")
    assert res.returncode == 2 and "key=value" in res.stderr and "Traceback" not in res.stderr


def test_bad_config_value_names_key_and_type():
    res = vlarl("check", "env", "gymnasium", "num_envs=many")
    assert res.returncode == 2 and "env.num_envs" in res.stderr and "int" in res.stderr


def test_check_env_and_policy_pass():
    res = vlarl("check", "env", "gymnasium", "env_id=CartPole-v1")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "FAIL" not in res.stdout and "PASS" in res.stdout
    res = vlarl("check", "policy", "mlp")
    assert res.returncode == 0, res.stdout + res.stderr


def test_doctor_reports_python_torch_and_plugins():
    res = vlarl("doctor")
    assert "Python" in res.stdout and "torch" in res.stdout and "MuJoCo GL" in res.stdout
    assert "env 'gymnasium'" in res.stdout


@pytest.mark.slow
def test_a_pip_installed_throwaway_plugin_is_listed(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "throwaway_plugin").mkdir(parents=True)
    (pkg / "pyproject.toml").write_text(
        textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "vlarl-throwaway"
        version = "0.3.1"
        [project.entry-points."vlarl.algos"]
        throwaway = "throwaway_plugin"
    """)
    )
    (pkg / "throwaway_plugin" / "__init__.py").write_text(
        textwrap.dedent("""
        import vlarl

        @vlarl.hookimpl
        def vlarl_register():
            return [vlarl.PluginSpec(kind="algo", name="throwaway", factory="throwaway_plugin.algo:make",
                                     description="installed from a temporary directory")]
    """)
    )
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(pkg),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    import os

    env = {**os.environ, "PYTHONPATH": str(target)}
    rows = json.loads(vlarl("plugins", "--json", env=env, check=True).stdout)
    (row,) = [r for r in rows if r["name"] == "throwaway"]
    assert (row["kind"], row["distribution"], row["version"], row["ok"]) == ("algo", "vlarl-throwaway", "0.3.1", True)
