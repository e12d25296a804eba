"""Fixtures for the isaaclab plugin tests: the fake isaaclab on sys.path, registries over chosen dists."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from vlarl.plugins.registry import Registry

FAKE = Path(__file__).parent / "fake_isaaclab"
EXAMPLE = Path(__file__).parents[1] / "examples" / "my_isaaclab_task"


TASKS_EXTENSION = FAKE / "isaaclab" / "source" / "isaaclab_tasks"
"""Where the fake (like the PyPI 2.3 wheel) keeps ``isaaclab_tasks``: a Kit extension folder, on sys.path after launch."""
_FAKE_TOPS = ("isaaclab", "isaaclab_tasks", "isaacsim")


def _fake_modules() -> dict[str, object]:
    return {k: v for k, v in sys.modules.items() if k.split(".")[0] in _FAKE_TOPS}


@pytest.fixture
def fake_isaaclab(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put the fake (IsaacLab 2.3 wheel layout) on sys.path (spawned workers inherit sys.path)."""
    monkeypatch.syspath_prepend(str(FAKE))
    return FAKE


def write_dist_info(root: Path, name: str, version: str) -> Path:
    info = root / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return root


@pytest.fixture
def fake_isaaclab_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The fake as IsaacLab 3.0: an ``isaaclab-3.0.0`` dist-info first on sys.path, ``isaaclab_tasks`` top-level.

    Modules the fake imported as 2.3 in this process are set aside for the test and put back after it.
    """
    import gymnasium as gym

    saved = _fake_modules()
    registered = set(gym.registry)
    for name in saved:
        del sys.modules[name]
    monkeypatch.syspath_prepend(str(TASKS_EXTENSION))
    monkeypatch.syspath_prepend(str(FAKE))
    monkeypatch.syspath_prepend(str(write_dist_info(tmp_path / "meta", "isaaclab", "3.0.0")))
    yield FAKE
    for name in _fake_modules():
        del sys.modules[name]
    sys.modules.update(saved)
    for task_id in set(gym.registry) - registered:
        del gym.registry[task_id]


def make_dist(root: Path, dist: str, modules: dict[str, str], extensions: dict[str, str]) -> None:
    """A minimal installed distribution (dist-info with entry points) under ``root``."""
    info = root / f"{dist.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    lines = "\n".join(f"{k} = {v}" for k, v in extensions.items())
    (info / "entry_points.txt").write_text(f"[vlarl.extensions]\n{lines}\n")
    for name, source in modules.items():
        path = root / (name.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))


def registry_for(*dists: str) -> Registry:
    """A registry holding only this plugin and the given extension distributions."""
    eps = [ep for ep in entry_points(group="vlarl.envs") if ep.name == "isaaclab"]
    eps += [
        ep for ep in entry_points(group="vlarl.extensions") if ep.dist is not None and ep.dist.metadata["Name"] in dists
    ]
    return Registry(allow=set(), deny=set(), eps=eps)


@pytest.fixture
def dist_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    yield root
    for name in [m for m in sys.modules if m.startswith(("dup_tasks", "other_tasks", "broken_"))]:
        del sys.modules[name]


@pytest.fixture(name="make_dist")
def _make_dist_fixture():
    return make_dist


@pytest.fixture(name="registry_for")
def _registry_for_fixture():
    return registry_for
