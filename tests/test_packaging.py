"""Every distribution's metadata, its sdist, and one plugin installed alone from wheels into a fresh venv."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).parents[1]
DISTS = [ROOT / "core", *sorted(p.parent for p in (ROOT / "plugins").glob("*/*/pyproject.toml"))]


def project(d: Path) -> dict:
    return tomllib.loads((d / "pyproject.toml").read_text())


@pytest.mark.parametrize("d", DISTS, ids=lambda d: d.name)
def test_metadata_is_complete_and_current(d):
    """A license as an SPDX string (the table form is deprecated: setuptools warned on every install), a readme
    that exists, a build backend that understands both, and package-data patterns that match files."""
    data = project(d)
    meta = data["project"]
    assert meta.get("license") == "Apache-2.0", d
    assert (d / meta["readme"]).is_file(), d
    assert any(r.replace(" ", "") == "setuptools>=77" for r in data["build-system"]["requires"]), d
    for package, patterns in data.get("tool", {}).get("setuptools", {}).get("package-data", {}).items():
        for pattern in patterns:
            assert list((d / "src" / package).glob(pattern)), f"{d}: package-data {package}/{pattern} matches nothing"


SDIST_BUILDER = """
import contextlib, io, json, os, sys, warnings
from setuptools import build_meta
results = []
for d, out in zip(sys.argv[1::2], sys.argv[2::2]):
    os.chdir(d)
    log = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(log), contextlib.redirect_stdout(log):
        warnings.simplefilter("always")
        name = build_meta.build_sdist(out)
    results.append([name, log.getvalue() + "\\n".join(str(w.message) for w in caught)])
print(json.dumps(results))
"""


def test_every_sdist_carries_the_tests_with_their_conftest_and_fakes(tmp_path):
    """sdists used to leave out tests/conftest.py and the fakes, so the tests could not run from an sdist."""
    dists = [d for d in DISTS if (d / "tests").is_dir()]
    args = [a for i, d in enumerate(dists) for a in (str(d), str(tmp_path / str(i)))]
    for i in range(len(dists)):
        (tmp_path / str(i)).mkdir()
    res = subprocess.run([sys.executable, "-c", SDIST_BUILDER, *args], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr
    for i, (d, (name, warnings)) in enumerate(zip(dists, json.loads(res.stdout.strip().splitlines()[-1]))):
        assert "License classifiers are deprecated" not in warnings and "as a TOML table" not in warnings, (d, warnings)
        with tarfile.open(tmp_path / str(i) / name) as tar:
            names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        wanted = {str(p.relative_to(d)) for p in (d / "tests").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
        assert wanted <= names, (d.name, sorted(wanted - names))


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_a_plugin_installs_alone_from_wheels_and_passes_vlarl_check(tmp_path):
    """Build the wheels of core and vlarl-gymnasium (scripts/build_wheels.sh), install vlarl-gymnasium into a
    fresh venv with --find-links (CPU torch first, as the docs say), and run `vlarl check` there, outside the
    repository. About 1-2 minutes with a warm pip cache (torch's wheel is local here), longer on first run."""
    import torch

    t0 = time.monotonic()
    wheels = tmp_path / "wheels"
    env = {**os.environ, "VLARL_NO_BUILD_ISOLATION": "1", "PYTHON": sys.executable}
    subprocess.run(["bash", str(ROOT / "scripts" / "build_wheels.sh"), str(wheels), "core", "plugins/envs/gymnasium"],
                   check=True, env=env, capture_output=True, timeout=600)  # fmt: skip
    built = sorted(p.name for p in wheels.glob("*.whl"))
    assert [n.split("-")[0] for n in built] == ["vlarl", "vlarl_gymnasium"], built
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    clean["PATH"] = f"{venv / 'bin'}{os.pathsep}{clean.get('PATH', '')}"
    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]

    def run(cmd: list[str]) -> subprocess.CompletedProcess:
        res = subprocess.run(cmd, env=clean, cwd=tmp_path, capture_output=True, text=True, timeout=900)
        assert res.returncode == 0, f"{cmd}\n{res.stdout}\n{res.stderr}"
        return res

    run([*pip, f"torch=={torch.__version__.split('+')[0]}"])  # the CPU build first (see scripts/build_wheels.sh)
    run([*pip, "--find-links", str(wheels), "-c", str(wheels / "constraints.txt"), "vlarl-gymnasium"])
    listed = [row["name"] for row in json.loads(run([str(py), "-m", "pip", "list", "--format", "json"]).stdout)]
    assert sorted(n for n in listed if n.lower().startswith("vlarl")) == ["vlarl", "vlarl-gymnasium"]
    rows = json.loads(run([str(venv / "bin" / "vlarl"), "plugins", "--json"]).stdout)
    assert [(r["kind"], r["name"], r["ok"]) for r in rows] == [("env", "gymnasium", True)]
    res = run([str(venv / "bin" / "vlarl"), "check", "env", "gymnasium", "env_id=CartPole-v1", "num_envs=2"])
    assert "PASS" in res.stdout and "FAIL" not in res.stdout
    print(f"install-alone test: {time.monotonic() - t0:.0f}s")
