"""Pick a MuJoCo offscreen rendering backend that works on this machine (egl, then osmesa)."""

from __future__ import annotations

import functools
import os
import subprocess
import sys

from vlarl.errors import ConfigError, VlarlError

BACKENDS: tuple[str, ...] = ("egl", "osmesa")
DEBIAN_PACKAGES: dict[str, str] = {
    "egl": "libegl1 libegl-mesa0 libgl1-mesa-dri",
    "osmesa": "libosmesa6",
}
# Creates a tiny offscreen context the same way MuJoCo does inside a worker.
_PROBE = "import mujoco; c = mujoco.GLContext(16, 16); c.make_current(); c.free()"


def gl_env(backend: str) -> dict[str, str]:
    """Environment variables that make MuJoCo, PyOpenGL and robosuite use ``backend``."""
    return {"MUJOCO_GL": backend, "PYOPENGL_PLATFORM": backend}


@functools.cache
def probe(backend: str) -> str | None:
    """None if an offscreen context can be created with ``backend``, else the error text.

    Probed in a subprocess so the caller's process never holds a GL context (workers may fork later).
    """
    env = {**os.environ, **gl_env(backend)}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120, check=False
        )
    except subprocess.TimeoutExpired:
        return "timed out creating a GL context"
    if proc.returncode == 0:
        return None
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit code {proc.returncode}"


def pick_backend(preference: str = "auto") -> str:
    """The backend to use: ``preference`` if forced, else $MUJOCO_GL if set to egl/osmesa, else the first that works."""
    if preference not in ("auto", *BACKENDS):
        raise ConfigError(
            f"env.gl_backend={preference!r} is not a known rendering backend.",
            f"Use one of: auto, {', '.join(BACKENDS)}.",
        )
    if preference != "auto":
        candidates: tuple[str, ...] = (preference,)
    elif os.environ.get("MUJOCO_GL", "").lower() in BACKENDS:
        candidates = (os.environ["MUJOCO_GL"].lower(),)
    else:
        candidates = BACKENDS
    errors = {}
    for backend in candidates:
        err = probe(backend)
        if err is None:
            return backend
        errors[backend] = err
    tried = "; ".join(f"{b}: {e}" for b, e in errors.items())
    pkgs = " ".join(DEBIAN_PACKAGES[b] for b in candidates)
    raise VlarlError(
        f"MuJoCo cannot render offscreen on this machine (tried {tried}).",
        f"Install the Mesa libraries: apt-get install -y {pkgs} (Debian/Ubuntu), "
        "or set MUJOCO_GL/env.gl_backend to a backend that works here.",
    )
