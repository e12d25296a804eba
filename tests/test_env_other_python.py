"""`vlarl train` with env.runtime.python pointing at a second virtual environment that holds NumPy 1.x (the host
has NumPy 2.x): the run equals the in-process run metric for metric, and `vlarl plugins` lists the env there.

The second environment gets vlarl's core (--no-deps: its env side needs numpy, pluggy, omegaconf, gymnasium and
msgpack, not torch) and the gymnasium env plugin, editable from this checkout. It is built once and cached in
$VLARL_TEST_VENV_CACHE (default ~/.cache/vlarl/test-venvs), keyed by its requirements.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pytest

from vlarl.config import load_config
from vlarl.runner.train import train

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "gymnasium_cartpole_ppo_mlp.yaml"
# NumPy 1.x against the host's 2.x: the incompatible pin this test holds the worker to.
REQUIREMENTS = ["numpy>=1.26,<2", "pluggy>=1.3", "omegaconf>=2.3", "gymnasium>=0.29,<2", "msgpack>=1.0,<2"]


def other_python() -> Path:
    key = hashlib.sha256(json.dumps([REQUIREMENTS, sys.version_info[:2], str(ROOT)]).encode()).hexdigest()[:12]
    cache = Path(os.environ.get("VLARL_TEST_VENV_CACHE", Path.home() / ".cache" / "vlarl" / "test-venvs"))
    home = cache / f"numpy1-{key}"
    python = home / "bin" / "python"
    if (home / "ready").exists():
        return python
    venv.EnvBuilder(with_pip=True, clear=True).create(home)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *REQUIREMENTS], check=True, timeout=900)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT / "core"), "-e", str(ROOT / "plugins/envs/gymnasium")],
                   check=True, timeout=900)  # fmt: skip
    (home / "ready").write_text("ok\n")
    return python


@pytest.fixture(scope="module")
def python() -> Path:
    return other_python()


def config(tmp_path: Path, *overrides: str):
    base = [
        f"runner.logger.log_path={tmp_path}", "runner.logger.experiment_name=t", "env.num_envs=4",
        "rollout.n_chunks=8", "runner.save_interval=2", "runner.max_epochs=3", "policy.num_action_chunks=2",
    ]  # fmt: skip
    return load_config(EXAMPLE, [*base, *overrides])


def metrics(run: Path) -> list[dict]:
    drop = ("time/", "env/steps_per_sec")
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not k.startswith(drop)} for r in rows]


def test_the_other_environment_really_has_numpy_1(python: Path) -> None:
    out = subprocess.run([str(python), "-c", "import numpy, vlarl.envs.worker; print(numpy.__version__)"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout.startswith("1.") and np.__version__.startswith("2.")


def test_train_with_the_env_in_another_python_equals_the_run_in_process(python: Path, tmp_path: Path) -> None:
    train(config(tmp_path / "local"))
    train(config(tmp_path / "other", f"env.runtime.python={python}"))
    local, other = metrics(tmp_path / "local" / "t"), metrics(tmp_path / "other" / "t")
    assert len(local) == 3 and local == other
    assert (tmp_path / "other" / "t" / "config.yaml").read_text().count(str(python)) == 1


def test_plugins_lists_the_env_of_the_other_python(python: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vlarl.cli import main

    assert main(["plugins", "--kind", "env", "--json", "--runtime", str(python)]) == 0
    rows = json.loads(capsys.readouterr().out)
    there = [r for r in rows if r.get("runtime") == f"env.runtime.python={python}"]
    assert [r["name"] for r in there] == ["gymnasium"] and there[0]["ok"]
