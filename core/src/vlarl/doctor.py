"""``vlarl doctor``: what this machine has, and what each installed plugin still needs."""

from __future__ import annotations

import ctypes.util
import importlib.util
import os
import platform
from collections.abc import Iterator

from vlarl.plugins.registry import Registry

GL_LIBRARIES = {"egl": ("EGL", "apt-get install libegl1 libgl1"), "osmesa": ("OSMesa", "apt-get install libosmesa6")}


def mujoco_gl_lines() -> Iterator[tuple[str, bool]]:
    """Offscreen rendering backends MuJoCo can use (MUJOCO_GL=egl|osmesa)."""
    chosen = os.environ.get("MUJOCO_GL")
    found = {name: ctypes.util.find_library(lib) is not None for name, (lib, _) in GL_LIBRARIES.items()}
    usable = [n for n, ok in found.items() if ok]
    detail = ", ".join(f"{n}: {'found' if ok else 'missing (' + GL_LIBRARIES[n][1] + ')'}" for n, ok in found.items())
    yield f"MuJoCo GL backends: {detail}; MUJOCO_GL={chosen or '(unset)'}", bool(usable)


def doctor_lines(registry: Registry) -> Iterator[tuple[str, bool]]:
    yield f"Python {platform.python_version()} ({platform.machine()})", True
    if importlib.util.find_spec("torch") is None:
        yield "torch is not installed; fix: pip install torch", False
    else:
        import torch

        cuda = torch.cuda.is_available()
        gpus = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())) if cuda else "none"
        yield f"torch {torch.__version__}; CUDA available: {cuda}; GPUs: {gpus}", True
    yield from mujoco_gl_lines()
    for p in registry.list():
        missing = p.spec.missing_requirements()
        if not missing:
            yield f"{p.spec.kind} '{p.spec.name}' ({p.distribution} {p.version}): requirements met", True
        for r in missing:
            yield f"{p.spec.kind} '{p.spec.name}' ({p.distribution} {p.version}): {r.missing()}; fix: {r.fix}", False
    for failure in registry.failures:
        yield failure.message(), False
