"""Which IsaacLab is installed, found without importing it (light: stdlib only).

Importing ``isaaclab`` from the PyPI 2.3 wheel boots Isaac Sim's kernel, so the
main process only reads the distribution's metadata and its file layout:

* PyPI wheels (``isaaclab==2.3.x``, ``isaaclab==3.0.x``) carry the release as
  their version and the framework under ``isaaclab/source/``; in the 2.3 wheel
  ``isaaclab_tasks`` is a Kit extension there (``source/isaaclab_tasks``), loaded
  when the app starts, not a top-level package.
* Source installs (``./isaaclab.sh --install``) carry the core extension's own
  version: 0.x for the 2.x releases, >= 1.0 from the change to XYZW quaternions
  that 3.0 ships.

Release line 2 (Isaac Sim 4.5 / 5.x, Python 3.10 / 3.11) and 3 (Isaac Sim 6,
Python 3.12) differ in start-up, quaternion order, task ids and final observations.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

PYTHONS: dict[int | None, tuple[tuple[int, int], ...]] = {
    2: ((3, 10), (3, 11)),
    3: ((3, 12),),
    None: ((3, 10), (3, 11), (3, 12)),
}
"""Python versions each IsaacLab release line runs on (None: IsaacLab not installed)."""


@dataclass(frozen=True)
class IsaacLabInstall:
    version: str | None
    """Version of the ``isaaclab`` distribution (None: no metadata found)."""
    location: Path | None
    """The ``isaaclab`` package directory (None: not importable)."""

    @property
    def wheel(self) -> bool:
        """The PyPI wheel layout: the framework sources ship inside the package, under ``source/``."""
        return self.location is not None and (self.location / "source").is_dir()

    @property
    def generation(self) -> int:
        """IsaacLab release line: 2 or 3."""
        major = _major(self.version)
        if major is None:
            return 2
        if self.wheel or self.location is None:  # a release version (no package to tell a source install by)
            return 3 if major >= 3 else 2
        return 3 if major >= 1 else 2

    @property
    def quat_order(self) -> str:
        """Quaternion layout of IsaacLab's observations: ``wxyz`` up to 2.x, ``xyzw`` from 3.0."""
        return "xyzw" if self.generation >= 3 else "wxyz"

    def tasks_present(self) -> bool:
        """``isaaclab_tasks`` importable, or shipped as the Kit extension of the 2.3 wheel."""
        if _find("isaaclab_tasks"):
            return True
        return self.location is not None and (self.tasks_extension_dir() / "isaaclab_tasks" / "__init__.py").exists()

    def tasks_extension_dir(self) -> Path:
        assert self.location is not None
        return self.location / "source" / "isaaclab_tasks"


def _major(version: str | None) -> int | None:
    match = re.match(r"\d+", version or "")
    return int(match.group()) if match else None


def _find(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def detect() -> IsaacLabInstall:
    """The installed IsaacLab, from ``find_spec`` and the distribution metadata (nothing is imported)."""
    try:
        spec = importlib.util.find_spec("isaaclab")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    try:
        version: str | None = importlib.metadata.version("isaaclab")
    except importlib.metadata.PackageNotFoundError:
        version = None
    return IsaacLabInstall(version=version, location=Path(locations[0]) if locations else None)


def pythons_for(install: IsaacLabInstall) -> tuple[tuple[int, int], ...]:
    installed = install.location is not None or install.version is not None
    return PYTHONS[install.generation if installed else None]
