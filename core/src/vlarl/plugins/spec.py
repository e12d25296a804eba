"""What a plugin declares: name, description, config schema, requirements, lazy factory."""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["env", "policy", "algo", "dataset"]
KINDS: tuple[Kind, ...] = ("env", "policy", "algo", "dataset")
ENTRY_POINT_GROUPS: dict[str, Kind] = {
    "vlarl.envs": "env",
    "vlarl.policies": "policy",
    "vlarl.algos": "algo",
    "vlarl.datasets": "dataset",
}
EXTENSION_GROUP = "vlarl.extensions"


@dataclass(frozen=True)
class Requirement:
    """Something a plugin needs at run time, checked without importing it.

    ``kind``: ``"python"`` (an importable module), ``"env_var"`` (set, and an
    existing path if ``path=True``), ``"gpu"`` (an NVIDIA GPU visible through
    ``nvidia-smi``) or ``"command"`` (an executable on PATH).
    """

    kind: Literal["python", "env_var", "gpu", "command"]
    name: str
    fix: str
    path: bool = False

    def missing(self) -> str | None:
        """None when satisfied, else a short description of what is missing."""
        if self.kind == "python":
            try:
                found = importlib.util.find_spec(self.name) is not None
            except (ImportError, ValueError):
                found = False
            return None if found else f"Python package '{self.name}' is not importable"
        if self.kind == "env_var":
            value = os.environ.get(self.name)
            if not value:
                return f"environment variable {self.name} is not set"
            if self.path and not os.path.exists(value):
                return f"{self.name}={value} does not exist"
            return None
        if self.kind == "command":
            return None if shutil.which(self.name) else f"command '{self.name}' is not on PATH"
        if self.kind == "gpu":
            return None if _nvidia_gpu_present() else "no NVIDIA GPU visible (nvidia-smi not found or lists none)"
        raise ValueError(f"unknown requirement kind {self.kind!r}")


def _nvidia_gpu_present() -> bool:
    # Checked through the device nodes and nvidia-smi, never by importing torch.
    return shutil.which("nvidia-smi") is not None and os.path.exists("/dev/nvidia0")


@dataclass(frozen=True)
class PluginSpec:
    """One provided env, policy, algorithm or dataset.

    ``factory`` is ``"module:attr"``, imported only when the plugin is built.
    ``config`` is a dataclass (with defaults) that validates the plugin's
    config section; ``factory(config_instance, **context)`` builds the object.
    """

    kind: Kind
    name: str
    factory: str
    description: str = ""
    config: type | None = None
    requirements: tuple[Requirement, ...] = ()
    aliases: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"PluginSpec.kind must be one of {KINDS}, got {self.kind!r}")
        if ":" not in self.factory:
            raise ValueError(f"PluginSpec.factory must be 'module:attr', got {self.factory!r}")

    def missing_requirements(self) -> list[Requirement]:
        return [r for r in self.requirements if r.missing() is not None]

    def load_factory(self) -> Any:
        module_name, _, attr = self.factory.partition(":")
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj
