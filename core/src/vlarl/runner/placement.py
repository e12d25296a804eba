"""``cluster.component_placement``: which devices (GPUs, or CPU slots without GPUs) each component uses.

Syntax as in the framework users come from::

    env: 0-3            # a range
    rollout: 4,5        # a list (or a YAML list, or one int)
    actor: 0-7
    env,rollout,actor: all   # several components sharing all devices
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass
class Layout:
    """The worker groups a placement asks for, checked against the run's envs and algorithm.

    Env worker ``w`` (of ``len(env_devices)`` x ``per_device`` x ``stages``) runs sub-envs
    ``[w * envs_per_worker, (w + 1) * envs_per_worker)`` on ``env_devices[w % len(env_devices)]``
    and asks rollout replica ``w % len(rollout_devices)`` for its actions. Actor rank ``r`` trains on
    sub-envs ``[r * N / W, (r + 1) * N / W)``.
    """

    env_devices: list[int]
    rollout_devices: list[int]
    actor_devices: list[int]
    stages: int
    per_device: int
    num_envs: int | None

    @property
    def n_env_workers(self) -> int:
        return len(self.env_devices) * self.per_device * self.stages

    @property
    def n_rollout_workers(self) -> int:
        return len(self.rollout_devices) * self.per_device

    @property
    def world_size(self) -> int:
        return len(self.actor_devices)

    @property
    def envs_per_worker(self) -> int | None:
        return None if self.num_envs is None else self.num_envs // self.n_env_workers

    def env_device(self, w: int) -> int:
        return self.env_devices[w % len(self.env_devices)]

    def rollout_device(self, i: int) -> int:
        return self.rollout_devices[i % len(self.rollout_devices)]

    def users(self) -> dict[int, int]:
        """Device -> how many workers of all groups run on it (each gets that share of the device)."""
        count: dict[int, int] = {}
        devices = [self.env_device(w) for w in range(self.n_env_workers)]
        devices += [self.rollout_device(i) for i in range(self.n_rollout_workers)] + list(self.actor_devices)
        for d in devices:
            count[d] = count.get(d, 0) + 1
        return count


def plan_layout(
    placement: dict[str, list[int]], stages: int, per_device: int, num_envs: int | None, group_size: int | None
) -> Layout:
    """Check that the worker groups divide the envs (and GRPO groups); raise naming the keys otherwise."""
    if per_device < 1:
        raise ConfigError(f"cluster.workers_per_device={per_device}: it must be >= 1.", "Use 1 (or 2 per GPU).")
    for name in COMPONENTS:
        if len(set(placement[name])) != len(placement[name]):
            raise ConfigError(
                f"cluster.component_placement.{name} names a device twice: {placement[name]}.",
                "List each device once; use cluster.workers_per_device for several workers per device.",
            )
    layout = Layout(placement["env"], placement["rollout"], placement["actor"], stages, per_device, num_envs)
    if num_envs is None:
        if layout.n_env_workers > 1 or layout.world_size > 1:
            raise ConfigError(
                "Several env workers or actor ranks need an env with a num_envs setting to split.",
                "Place env and actor on one device each, with rollout.pipeline_stage_num=1.",
            )
        return layout
    w = layout.n_env_workers
    if num_envs % w:
        raise ConfigError(
            f"env.num_envs={num_envs} does not split over {w} env workers (cluster.component_placement.env: "
            f"{len(layout.env_devices)} devices x cluster.workers_per_device={per_device} x "
            f"rollout.pipeline_stage_num={stages}).",
            f"Set env.num_envs to a multiple of {w}, or place env on fewer devices.",
        )
    if group_size and (num_envs // w) % group_size:
        raise ConfigError(
            f"algorithm.group_size={group_size} does not divide the {num_envs // w} envs of each of the {w} env "
            "workers (env.num_envs / (env devices x cluster.workers_per_device x rollout.pipeline_stage_num)): "
            "a GRPO group must start from one initial state in one env worker.",
            f"Set env.num_envs to a multiple of {w * group_size}.",
        )
    ranks = layout.world_size
    if num_envs % ranks:
        raise ConfigError(
            f"env.num_envs={num_envs} does not split over the {ranks} actor ranks of cluster.component_placement.actor.",
            f"Set env.num_envs to a multiple of {ranks}, or place actor on fewer devices.",
        )
    if group_size and (num_envs // ranks) % group_size:
        raise ConfigError(
            f"algorithm.group_size={group_size} does not divide the {num_envs // ranks} envs of each of the {ranks} "
            "actor ranks (cluster.component_placement.actor): GRPO groups must not straddle ranks.",
            f"Set env.num_envs to a multiple of {ranks * group_size}, or place actor on fewer devices.",
        )
    return layout
