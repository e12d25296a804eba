"""Config loading (OmegaConf), ``key=value`` overrides and per-plugin schema validation."""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from vlarl.errors import ConfigError


def parse_overrides(items: list[str]) -> DictConfig:
    """``["a.b=1", "c=[1,2]"]`` -> a config; values are parsed as YAML."""
    bad = [item for item in items if "=" not in item or not item.split("=", 1)[0].strip()]
    if bad:
        raise ConfigError(
            f"Malformed override(s): {', '.join(repr(b) for b in bad)}.",
            "Write overrides as key=value, with dots for nesting, e.g. algorithm.lr=3e-4 env.num_envs=8.",
        )
    try:
        return OmegaConf.from_dotlist(items)
    except OmegaConfBaseException as exc:
        raise ConfigError(
            f"Could not parse overrides {items}: {exc}", "Quote values that contain spaces or ':'."
        ) from exc


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> DictConfig:
    """Load a YAML file (or start empty) and apply overrides."""
    base = OmegaConf.create({})
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(
                f"Config file {p} does not exist.",
                "Pass the path of a YAML config, e.g. examples/gymnasium_cartpole_ppo_mlp.yaml.",
            )
        try:
            base = OmegaConf.load(p)
        except Exception as exc:
            raise ConfigError(
                f"Config file {p} is not valid YAML: {exc}", "Fix the YAML syntax at the position shown."
            ) from exc
    if overrides:
        base = OmegaConf.merge(base, parse_overrides(overrides))
    return base  # type: ignore[return-value]


def _field_names(schema: type) -> list[str]:
    return [f.name for f in dataclasses.fields(schema)]


def validate_section(schema: type | None, section: Any, where: str) -> Any:
    """Validate ``section`` against the dataclass ``schema`` and return a schema instance.

    Unknown keys name the nearest valid key; wrong types name the expected type.
    """
    raw = OmegaConf.create({}) if section is None else section
    if not isinstance(raw, DictConfig):
        raw = OmegaConf.create(raw)
    if schema is None:
        return OmegaConf.to_container(raw, resolve=True)
    valid = _field_names(schema)
    for key in raw:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = f"Did you mean '{close[0]}'? " if close else ""
            raise ConfigError(
                f"Unknown key '{where}.{key}'.",
                f"{hint}Valid keys of {where}: {', '.join(valid)}.",
            )
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), raw)
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "?"
        expected = {f.name: f.type for f in dataclasses.fields(schema)}.get(str(key).split(".")[0], "?")
        raise ConfigError(
            f"Bad value for '{where}.{key}': {str(getattr(exc, 'msg', exc)).splitlines()[0]}",
            f"'{where}.{key}' expects {getattr(expected, '__name__', expected)}.",
        ) from exc


def to_plain(obj: Any) -> Any:
    """A dataclass instance or DictConfig as plain Python containers."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, DictConfig):
        return OmegaConf.to_container(obj, resolve=True)
    return obj
