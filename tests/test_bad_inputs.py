"""Bad inputs a new user meets, run through the real CLI entry point: each gets an error that names the problem
and the fix (exit 2), never a traceback or a silent acceptance. docs/faults.md lists them with their messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vlarl.cli import main
from vlarl.config import load_config

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "gymnasium_cartpole_ppo_mlp.yaml"
sys.path.insert(0, str(ROOT / "core" / "tests"))
from plugin_dists import write_dist  # noqa: E402


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out = capsys.readouterr()
    assert "Traceback" not in out.err, out.err
    return rc, out.out, out.err


def train_args(tmp_path: Path, *overrides: str) -> list[str]:
    return ["train", str(EXAMPLE), f"runner.logger.log_path={tmp_path}", "runner.max_epochs=1", "env.num_envs=2",
            "rollout.n_chunks=2", *overrides]  # fmt: skip


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A directory on sys.path for fake installed distributions (dist-info + module)."""
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    yield path
    for name in [m for m in sys.modules if m.startswith("tp_")]:
        del sys.modules[name]


ENV_PLUGIN = """
import vlarl
from dataclasses import dataclass

@dataclass
class Cfg:
    num_envs: int = 2
    task: str = "a"

{extra}

@vlarl.hookimpl
def vlarl_register():
    return [vlarl.PluginSpec(kind="env", name={name!r}, factory={factory!r}, config=Cfg, extra={spec_extra})]
"""


def env_plugin(site: Path, dist: str, name: str, factory: str = "toys:LineEnv", extra: str = "", spec_extra: str = "{}") -> None:
    module = dist.replace("-", "_")
    write_dist(site, dist, module, "vlarl.envs", name,
               ENV_PLUGIN.format(name=name, factory=factory, extra=extra, spec_extra=spec_extra))  # fmt: skip


# ------------------------------------------------------------------------------------------- config files


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- env\n- policy\n", "holds a list at the top level, not a mapping of sections"),
        ("42\n", "holds a int at the top level"),
        ("env:\n  name: [gymnasium\n", "is not valid YAML: line 3, column 1"),
    ],
)
def test_a_config_file_that_is_not_a_mapping_is_named(tmp_path, capsys, text, problem):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    for extra in ([], ["env.num_envs=2"]):  # with an override it used to say 'Cannot merge incompatible container types'
        rc, _, err = run_cli(capsys, "train", str(path), *extra)
        assert rc == 2 and problem in err and "fix:" in err


@pytest.mark.parametrize(
    ("override", "problem", "fix"),
    [
        ("env.num_envs=0", "env.num_envs=0: it must be >= 1", "env.num_envs=2"),
        ("env.num_envs=-2", "env.num_envs=-2: it must be >= 1", "positive number"),
        ("policy.num_action_chunks=0", "policy.num_action_chunks=0: it must be >= 1", "positive number"),
        ("policy.num_action_chunks=-1", "policy.num_action_chunks=-1: it must be >= 1", "positive number"),
        ("runner.save_interval=0", "runner.save_interval=0: it must be >= 1", "number of iterations"),
        ("runner.log_interval=0", "runner.log_interval=0: it must be >= 1", "runner.log_interval"),
        ("runner.keep_checkpoints=0", "runner.keep_checkpoints=0: it must be >= 1", "null to keep every"),
        ("runner.eval_episodes=0", "runner.eval_episodes=0: it must be >= 1", "null for the env's protocol"),
        ("runner.max_minutes=0", "runner.max_minutes=0.0: it must be > 0", "minutes"),
        ("policy.hidden_sizes=[64,64", "Could not parse the value of policy.hidden_sizes", "policy.hidden_sizes=[64,64]"),
        ("runner.logger.logger_backends=tensorboard", "runner.logger.logger_backends': a single value where a list",
         "runner.logger.logger_backends=[tensorboard]"),
        (".=1", "Malformed override(s): '.=1'", "key=value"),
        ("env.name=vlarl-nope:gymnasium", "No env 'gymnasium' from the distribution 'vlarl-nope'",
         "vlarl-gymnasium:gymnasium"),
        ("runner.device=banana", "runner.device='banana' is not a device", "cuda:N"),
        ("runner.logger.typo=1", "Unknown key 'runner.logger.typo'", "Valid keys of runner.logger"),
        ("runner.logger=3", "Bad value for 'runner.logger': 3 where a section is expected", "runner.logger.log_path"),
    ],
)  # fmt: skip
def test_a_bad_setting_is_named_with_its_fix(tmp_path, capsys, override, problem, fix):
    rc, _, err = run_cli(capsys, *train_args(tmp_path, override))
    assert rc == 2, err
    error, _, fix_line = err.partition("\nfix: ")
    assert problem in error and fix in fix_line, err
    assert not (tmp_path / "default" / "checkpoints").exists()


def test_check_rejects_a_zero_chunk_length(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["check", "env", "gymnasium", "--chunk-len", "0"])
    assert exc.value.code == 2 and "--chunk-len: 0 is not >= 1" in capsys.readouterr().err


def test_env_equals_name_chooses_that_plugin(tmp_path):
    """`vlarl train CONFIG env=NAME env.key=...` (the form the IsaacLab README shows) used to keep the config's env."""
    isaac = ROOT / "examples" / "isaaclab_stack_cube_ppo_gr00t.yaml"
    cfg = load_config(isaac, ["env=gymnasium", "env.env_id=CartPole-v1", "env.num_envs=4"])
    assert dict(cfg.env) == {"name": "gymnasium", "env_id": "CartPole-v1", "num_envs": 4}
    same = load_config(EXAMPLE, ["env=gymnasium", "env.num_envs=3"])  # the same plugin keeps the config's keys
    assert same.env.env_id == "CartPole-v1" and same.env.num_envs == 3


def test_component_placement_on_the_local_backend_is_reported_as_ignored(tmp_path, capsys):
    rc, _out, err = run_cli(capsys, *train_args(tmp_path, "cluster.component_placement={actor: 0-99}"))
    assert rc == 0 and "cluster.component_placement is ignored with cluster.backend=local" in err


def test_an_unwritable_log_directory_is_named(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    rc, _, err = run_cli(capsys, *train_args(tmp_path, f"runner.logger.log_path={blocker}/runs"))
    assert rc == 2 and f"Cannot write the run directory {blocker}/runs/cartpole_ppo_mlp" in err
    assert "runner.logger.log_path to a writable directory" in err


def _mount_available() -> bool:
    import shutil

    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    return subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _mount_available(), reason="needs root and mount namespaces for a read-only tmpfs")
def test_a_read_only_log_directory_is_named(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    script = f'mount -t tmpfs -o ro,size=1m tmpfs {ro} && exec "$@"'
    cmd = ["unshare", "-m", "sh", "-c", script, "sh", sys.executable, "-m", "vlarl.cli",
           *train_args(ro), f"runner.logger.log_path={ro}"]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stderr
    assert f"Cannot write the run directory {ro}/cartpole_ppo_mlp: Read-only file system" in res.stderr
    assert "Traceback" not in res.stderr


# ------------------------------------------------------------------------------------------- plugins


def test_a_registration_module_that_calls_sys_exit_is_reported_not_obeyed(site, capsys):
    write_dist(site, "tp-exit", "tp_exit", "vlarl.envs", "exiter", "import sys\nsys.exit(3)\n")
    rc, out, err = run_cli(capsys, "--plugins", "tp-exit,gymnasium", "plugins")
    assert rc == 0 and "gymnasium" in out
    assert "Plugin 'exiter' (vlarl.envs) from tp-exit 0.1 failed to load: it called sys.exit(3)" in err
    rc, out, _ = run_cli(capsys, "--plugins", "tp-exit,gymnasium", "doctor")
    assert "it called sys.exit(3)" in out
    rc, out, err = run_cli(capsys, "--plugins", "tp-exit", "check", "env", "exiter")
    assert rc == 2 and "it called sys.exit(3)" in err


def test_one_failing_details_hook_does_not_hide_the_listing(site, capsys):
    env_plugin(site, "tp-details", "detailed",
               extra="@vlarl.hookimpl\ndef vlarl_plugin_details(registry):\n    raise RuntimeError('details broke')")  # fmt: skip
    rc, out, err = run_cli(capsys, "--plugins", "tp-details,gymnasium", "plugins")
    assert rc == 0 and "detailed" in out and "gymnasium" in out
    assert "The vlarl_plugin_details hook of tp-details failed (RuntimeError: details broke)" in err


def test_a_clash_of_two_distributions_is_marked_in_the_listing(site, capsys):
    env_plugin(site, "tp-one", "twin")
    env_plugin(site, "tp-two", "twin")
    _rc, out, _ = run_cli(capsys, "--plugins", "tp-one,tp-two", "plugins")
    assert "CLASH: 'twin' is also provided by tp-two; pick one with env.name=tp-one:twin" in out
    rows = json.loads(run_cli(capsys, "--plugins", "tp-one,tp-two", "plugins", "--json")[1])
    assert {r["distribution"]: r["clash"] for r in rows} == {"tp-one": ["tp-two"], "tp-two": ["tp-one"]}


def test_a_factory_that_raises_is_named_with_its_plugin(site, tmp_path, capsys):
    env_plugin(site, "tp-boom", "boom", factory="tp_boom:make", extra="def make(cfg):\n    raise RuntimeError('no simulator')")
    rc, _, err = run_cli(capsys, "--plugins", "tp-boom,mlp,ppo", *train_args(tmp_path, "env=boom"))
    assert rc == 2
    assert "The env 'boom' (tp-boom 0.1) failed to start: RuntimeError: no simulator" in err
    assert "report it to the authors of tp-boom" in err


def test_a_plugin_validator_names_a_bad_value_before_requirements(site, capsys):
    """The host side of 'unknown task, did you mean' (what IsaacLab needs without Isaac Sim installed):
    PluginSpec.extra['validate_config'] runs before the requirements are checked."""
    extra = textwrap.dedent("""
        import difflib
        from vlarl.errors import ConfigError

        def validate(cfg, registry):
            tasks = ["Isaac-Stack-Cube-v0", "Isaac-Lift-v0"]
            if cfg.task not in tasks:
                close = difflib.get_close_matches(cfg.task, tasks, n=1)
                raise ConfigError(f"Unknown task {cfg.task!r}." + (f" Did you mean {close[0]!r}?" if close else ""),
                                  "Registered tasks: " + ", ".join(tasks))
    """)
    env_plugin(site, "tp-valid", "validated", extra=extra, spec_extra='{"validate_config": "tp_valid:validate"}')
    (site / "tp_valid.py").write_text((site / "tp_valid.py").read_text().replace(
        "config=Cfg,", 'config=Cfg, requirements=(vlarl.Requirement("python", "no_such_sim", "install the sim"),),'))
    rc, _, err = run_cli(capsys, "--plugins", "tp-valid", "check", "env", "validated", "task=Isaac-Stak-Cube-v0")
    assert rc == 2 and "Unknown task 'Isaac-Stak-Cube-v0'. Did you mean 'Isaac-Stack-Cube-v0'?" in err
    rc, _, err = run_cli(capsys, "--plugins", "tp-valid", "check", "env", "validated", "task=Isaac-Lift-v0")
    assert rc == 2 and "no_such_sim" in err  # a valid task: the missing simulator comes next


def test_a_registration_module_importing_torch_is_warned_about(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    env_plugin(site, "tp-heavy", "heavy", extra="import torch  # noqa")
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{ROOT / 'core' / 'tests'}"}
    res = subprocess.run([sys.executable, "-m", "vlarl.cli", "--plugins", "tp-heavy", "plugins"], env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0 and "heavy" in res.stdout
    assert "registration module tp_heavy imports torch" in res.stderr and "factory module" in res.stderr
