"""What runs inside a LIBERO worker process: a few LiberoSim sub-envs, called through vlarl's core pool.

The process itself (start-up, timeouts, restarts, the wire, shared memory for the camera images)
is :mod:`vlarl.envs.pool`; workers are fresh interpreters, never forks (a forked child inherits a
half-initialised GL context and hangs). The simulator and its GL context are created here.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from vlarl.envs.pool import WorkerFailure, WorkerSpec
from vlarl.errors import ConfigError
from vlarl_libero.layout import ObjectReadError
from vlarl_libero.sim import SimOptions

OBJECT_FIX = "Turn env.privileged_state off for this task, or select tasks whose objects robosuite exposes."
START_METHODS = ("spawn", "forkserver")
__all__ = ["OBJECT_FIX", "LiberoWorker", "WorkerFailure", "worker_spec"]


def sim_options(opts: dict[str, Any]) -> SimOptions:
    """SimOptions from its wire form (lists where the dataclass holds tuples)."""
    tasks = opts.get("privileged_tasks")
    return SimOptions(
        **{**opts, "cameras": tuple(opts["cameras"]), "privileged_tasks": None if tasks is None else tuple(tasks)}
    )


def worker_spec(n_local: int, opts: SimOptions, env_vars: dict[str, str], config_dir: str | None) -> WorkerSpec:
    """The core pool's description of one LIBERO worker holding ``n_local`` sub-envs."""
    return WorkerSpec(
        "vlarl_libero.worker:LiberoWorker",
        {"n_local": n_local, "opts": dataclasses.asdict(opts), "config_dir": config_dir},
        env_vars=dict(env_vars),
    )


def check_start_method(start_method: str) -> None:
    if start_method not in START_METHODS:
        raise ConfigError(
            f"env.start_method={start_method!r} is not supported.",
            "Use 'spawn' or 'forkserver' ('fork' hangs: a GL context may exist before the fork). Workers are "
            "fresh interpreters either way.",
        )


class LiberoWorker:
    """``n_local`` simulators; the host sends (local index, task, init state) resets and per-sim actions."""

    def __init__(self, n_local: int, opts: dict[str, Any], config_dir: str | None) -> None:
        from vlarl_libero.layout import object_union
        from vlarl_libero.sim import LiberoSim, prepare_libero_import
        from vlarl_libero.tasks import sim_meta, suite_info

        prepare_libero_import(config_dir)
        sim_opts = sim_options(opts)
        self.tasks = suite_info(sim_opts.suite)
        chosen = sim_opts.privileged_tasks
        tasks = self.tasks
        try:
            self.layout = (
                None if chosen is None else object_union({t: tasks[t].objects for t in tasks}, chosen, sim_opts.suite)
            )
            self.sims = [LiberoSim(sim_opts, tasks, self.layout) for _ in range(n_local)]
        except ObjectReadError as exc:
            raise ConfigError(str(exc), OBJECT_FIX) from None
        self.meta = sim_meta()

    def info(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "tasks": {t: dataclasses.asdict(info) for t, info in self.tasks.items()},
            "layout": self.layout,
            "meta": self.meta,
        }

    def reset(self, payload: list[list[int]]) -> list[Any]:
        try:
            return [self.sims[j].reset(task, state) for j, task, state in payload]
        except ObjectReadError as exc:  # bad settings, not a crash: no restart would help
            raise ConfigError(str(exc), OBJECT_FIX) from None

    def step(self, payload: list[list[Any]]) -> list[Any]:
        try:
            return [self.sims[j].step(action) for j, action in payload]
        except ObjectReadError as exc:
            raise ConfigError(str(exc), OBJECT_FIX) from None

    def model_xml(self, j: int) -> str:
        return self.sims[j].model_xml()

    def close(self) -> None:
        for sim in self.sims:
            sim.close()
