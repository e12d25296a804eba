"""``cluster.component_placement``: which devices (GPUs, or CPU slots without GPUs) each component uses.

Syntax as in the framework users come from::

    env: 0-3            # a range
    rollout: 4,5        # a list (or a YAML list, or one int)
    actor: 0-7
    env,rollout,actor: all   # several components sharing all devices
"""

from __future__ import annotations

from typing import Any

from vlarl.errors import ConfigError

COMPONENTS = ("env", "rollout", "actor")


def _devices(value: Any, n_devices: int, key: str) -> list[int]:
    if isinstance(value, int):
        return [value]
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value]
    text = str(value).strip()
    if text == "all":
        return list(range(n_devices))
    out: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if hi < lo:
                    raise ValueError
                out.extend(range(lo, hi + 1))
            else:
                out.append(int(part))
    except ValueError:
        raise ConfigError(
            f"cluster.component_placement.{key}: cannot read devices from {value!r}.",
            "Write a range '0-3', a list '0,2' or 'all'.",
        ) from None
    return out


def parse_placement(mapping: dict[str, Any], n_devices: int, device_kind: str) -> dict[str, list[int]]:
    """Component -> device ids; every component placed, every id present on this cluster."""
    if not mapping:
        return {c: list(range(n_devices)) for c in COMPONENTS}
    placement: dict[str, list[int]] = {}
    for key, value in mapping.items():
        if value is None:
            raise ConfigError(
                f"cluster.component_placement.{key} has no devices.",
                'Give devices (0-3, 0,2 or all). In YAML flow style quote keys with commas: {"env,rollout,actor": all}.',
            )
        names = [n.strip() for n in str(key).split(",")]
        unknown = [n for n in names if n not in COMPONENTS]
        if unknown:
            raise ConfigError(
                f"cluster.component_placement names unknown component(s) {unknown}.",
                f"Components are {', '.join(COMPONENTS)}.",
            )
        devices = _devices(value, n_devices, str(key))
        missing = sorted({d for d in devices if d < 0 or d >= n_devices})
        if missing:
            raise ConfigError(
                f"cluster.component_placement.{key} asks for {device_kind} {missing}, but this cluster has "
                f"{n_devices} {device_kind} (ids 0-{n_devices - 1}).",
                f"Use ids below {n_devices}, or 'all'. Without GPUs, ids are CPU slots (cluster.num_cpus).",
            )
        for name in names:
            placement[name] = devices
    absent = [c for c in COMPONENTS if c not in placement]
    if absent:
        raise ConfigError(
            f"cluster.component_placement does not place {absent}.",
            "Place every component, e.g. 'env,rollout,actor: all'.",
        )
    return placement
