"""Config loading (OmegaConf), ``key=value`` overrides and per-plugin schema validation."""

from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from vlarl.errors import ConfigError

PLUGIN_SECTION_KEYS = ("env", "policy", "algorithm", "dataset")
"""Sections that name a plugin: ``env=NAME`` on the command line chooses that plugin (see :func:`load_config`)."""
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.:-]+")


def _split_override(item: str) -> tuple[str, str] | None:
    if "=" not in item:
        return None
    key, value = item.split("=", 1)
    key = key.strip()
    if not key or any(not part.strip() for part in key.split(".")):
        return None
    return key, value


def parse_overrides(items: list[str]) -> DictConfig:
    """``["a.b=1", "c=[1,2]"]`` -> a config; values are parsed as YAML."""
    bad = [item for item in items if _split_override(item) is None]
    if bad:
        raise ConfigError(
            f"Malformed override(s): {', '.join(repr(b) for b in bad)}.",
            "Write overrides as key=value, with dots for nesting, e.g. algorithm.lr=3e-4 env.num_envs=8.",
        )
    for item in items:  # one at a time, so that an error names the override
        key, value = _split_override(item)  # type: ignore[misc]
        try:
            OmegaConf.from_dotlist([item])
        except Exception as exc:
            first = str(getattr(exc, "problem", None) or str(exc).splitlines()[0])
            brackets = value.count("[") != value.count("]") or value.count("{") != value.count("}")
            raise ConfigError(
                f"Could not parse the value of {key} in the override {item!r}: "
                + ("unbalanced brackets." if brackets else f"{first}."),
                f"Write a YAML value, e.g. {key}=[64,64] for a list; quote values that contain spaces or ':' "
                f"(\"{key}=a: b\").",
            ) from None
    return OmegaConf.from_dotlist(items)


def _yaml_problem(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{where}{problem}"


def _select_plugins(base: DictConfig, overrides: list[str]) -> tuple[DictConfig, list[str]]:
    """``env=NAME`` (a plugin section set to a bare name) chooses that plugin: the section becomes
    ``{name: NAME}`` (the config's other keys of that section belong to the plugin it named, so they go, unless
    it already named NAME), then the ``env.key=value`` overrides apply on top."""
    rest = []
    for item in overrides:
        split = _split_override(item)
        value = split[1].strip() if split is not None else ""
        if (
            split is not None
            and split[0] in PLUGIN_SECTION_KEYS
            and _PLAIN_NAME.fullmatch(value)
            and value.lower() not in ("null", "none")
        ):
            section, name = split[0], split[1].strip()
            current = base.get(section)
            if not (isinstance(current, DictConfig) and str(current.get("name")) == name):
                base[section] = {"name": name}
        else:
            rest.append(item)
    return base, rest


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
            data = yaml.safe_load(p.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"Config file {p} is not valid YAML: {_yaml_problem(exc)}.", "Fix the YAML syntax at that line and column."
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Config file {p} cannot be read: {exc}.", "Pass a readable UTF-8 YAML file.") from None
        if data is not None and not isinstance(data, dict):
            raise ConfigError(
                f"Config file {p} holds a {type(data).__name__} at the top level, not a mapping of sections.",
                "A config maps section names to settings, e.g. 'env:' / 'policy:' / 'algorithm:' / 'runner:' "
                "(see examples/gymnasium_cartpole_ppo_mlp.yaml).",
            )
        try:
            base = OmegaConf.load(p)
        except Exception as exc:
            raise ConfigError(
                f"Config file {p} could not be loaded: {str(exc).splitlines()[0]}", "Fix the YAML at the key named."
            ) from None
    if overrides:
        base, rest = _select_plugins(base, list(overrides))
        if rest:
            extra = parse_overrides(rest)
            try:
                base = OmegaConf.merge(base, extra)
            except OmegaConfBaseException as exc:
                key = getattr(exc, "full_key", None) or "?"
                raise ConfigError(
                    f"The override of {key} does not fit the config: {str(getattr(exc, 'msg', exc)).splitlines()[0]}",
                    f"{key} holds a section there: set its keys ({key}.KEY=value), not the section itself.",
                ) from None
    return base  # type: ignore[return-value]


def _field_names(schema: type) -> list[str]:
    return [f.name for f in dataclasses.fields(schema)]


def _hints(schema: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(schema)
    except Exception:  # unresolvable annotations: fall back to the raw ones
        return {f.name: f.type for f in dataclasses.fields(schema)}


def _type_text(tp: Any) -> str:
    origin = typing.get_origin(tp)
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if origin in (list, tuple):
        return f"a list of {_type_text(args[0]) if args else 'values'}"
    if origin is dict:
        return "a mapping"
    if origin is not None and args:  # Optional[X], X | None, Union
        text = " or ".join(_type_text(a) for a in args)
        return text + (" or null" if type(None) in typing.get_args(tp) else "")
    return getattr(tp, "__name__", str(tp))


def _example(schema: type, path: list[str], key: str) -> str:
    """``, e.g. key=[tensorboard]`` from the field's default, for list fields."""
    parent = _field_type(schema, path[:-1]) if len(path) > 1 else schema
    if not (isinstance(parent, type) and dataclasses.is_dataclass(parent)):
        return ""
    for f in dataclasses.fields(parent):
        if f.name != path[-1]:
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if isinstance(default, (list, tuple)):
            return f", e.g. {key}=[{','.join(map(str, default)) or 'a,b'}]"
    return ""


def _field_type(schema: type, path: list[str]) -> Any:
    """The annotated type of ``a.b.c`` in a (nested) dataclass schema, or None."""
    tp: Any = schema
    for part in path:
        if not (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
            return None
        tp = _hints(tp).get(part)
        if tp is None:
            return None
    return tp


def _check_keys(schema: type, raw: Any, where: str) -> None:
    """Unknown keys, at every level of nested dataclass sections, name the nearest valid one."""
    valid = _field_names(schema)
    hints = _hints(schema)
    for key in raw:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = f"Did you mean '{close[0]}'? " if close else ""
            raise ConfigError(f"Unknown key '{where}.{key}'.", f"{hint}Valid keys of {where}: {', '.join(valid)}.")
        sub, value = hints.get(str(key)), raw[key]
        if isinstance(sub, type) and dataclasses.is_dataclass(sub):
            if isinstance(value, DictConfig):
                _check_keys(sub, value, f"{where}.{key}")
            elif value is not None:
                raise ConfigError(
                    f"Bad value for '{where}.{key}': {value!r} where a section is expected.",
                    f"Set its keys instead, e.g. {where}.{key}.{_field_names(sub)[0]}=...",
                )


def validate_section(schema: type | None, section: Any, where: str) -> Any:
    """Validate ``section`` against the dataclass ``schema`` and return a schema instance.

    Unknown keys name the nearest valid key; wrong types name the expected type.
    """
    raw = OmegaConf.create({}) if section is None else section
    if not isinstance(raw, DictConfig):
        if not isinstance(raw, dict):
            raise ConfigError(
                f"The '{where}' section is {raw!r}, not a mapping of settings.",
                f"Write it as '{where}:' followed by indented 'key: value' lines"
                + (f", or choose a plugin with {where}=NAME on the command line." if where in PLUGIN_SECTION_KEYS else "."),
            )
        raw = OmegaConf.create(raw)
    if schema is None:
        return OmegaConf.to_container(raw, resolve=True)
    _check_keys(schema, raw, where)
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), raw)
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "?"
        expected = _field_type(schema, str(key).split("."))
        full = f"{where}.{key}"
        msg = str(getattr(exc, "msg", exc)).splitlines()[0]
        if "is not a ListConfig" in msg:
            msg = "a single value where a list is expected"
        raise ConfigError(
            f"Bad value for '{full}': {msg}",
            f"'{full}' expects {_type_text(expected) if expected is not None else 'another type'}"
            + _example(schema, str(key).split("."), full)
            + ".",
        ) from None


def to_plain(obj: Any) -> Any:
    """A dataclass instance or DictConfig as plain Python containers."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, DictConfig):
        return OmegaConf.to_container(obj, resolve=True)
    return obj
