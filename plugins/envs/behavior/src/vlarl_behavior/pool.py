"""OmniGibson worker processes on vlarl's core pool, started with retries and back-off.

What is BEHAVIOR's own here is the retry policy (Isaac Sim start-up failures are often transient)
and the messages; processes, timeouts and the wire are :mod:`vlarl.envs.pool`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from vlarl.envs import pool as core
from vlarl.errors import PluginError
from vlarl_behavior.worker import WorkerSpec

log = logging.getLogger(__name__)
WorkerFailed = core.WorkerFailure


class WorkerPool:
    """Workers of ``specs[w].num_envs`` envs each; ``call`` sends to several at once and gathers the replies."""

    def __init__(self, specs: list[WorkerSpec], startup_timeout: float, step_timeout: float) -> None:
        self.specs = specs
        self.startup_timeout = startup_timeout
        self.step_timeout = step_timeout
        self.infos: list[dict[str, Any]] = []
        self._pool: core.WorkerPool | None = None

    @property
    def pids(self) -> list[int]:
        return [] if self._pool is None else [p for p in self._pool.pids if p is not None]

    # ------------------------------------------------------------------ start / stop
    def start(self, retries: int, delay: float, backoff: float) -> None:
        attempts = max(1, retries)
        for attempt in range(1, attempts + 1):
            try:
                self._start_once()
                return
            except core.WorkerFailure as exc:
                self.stop()
                if attempt == attempts:
                    raise PluginError(
                        f"OmniGibson workers failed to start after {attempts} attempt(s):\n{exc}",
                        "Check the worker traceback above; Isaac Sim start-up failures are often transient "
                        "(raise env.startup_retries), a missing asset needs the BEHAVIOR datasets re-downloaded.",
                    ) from None
                log.warning("OmniGibson start-up failed (attempt %d/%d); retrying in %.1fs", attempt, attempts, delay)
                time.sleep(delay)
                delay *= backoff

    def _start_once(self) -> None:
        specs = [
            core.WorkerSpec("vlarl_behavior.worker:open_worker", dataclasses.asdict(s), shared_memory=True)
            for s in self.specs
        ]
        self._pool = core.WorkerPool(specs, self.startup_timeout, max_restarts=0, label="OmniGibson")
        self.infos = self._pool.start()

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.close()
        self._pool = None

    # ------------------------------------------------------------------ calls
    def call(self, requests: dict[int, tuple[Any, ...]], what: str) -> dict[int, Any]:
        """Send one message (``(method, *args)``) to each worker in ``requests`` so they run in parallel, then
        gather the replies."""
        if self._pool is None:
            raise PluginError("The BEHAVIOR env is closed (its OmniGibson workers are stopped).", "Create a new env.")
        try:
            for w, (method, *args) in requests.items():
                self._pool[w].send(method, *args)
            return {w: self._pool[w].recv(self.step_timeout) for w in requests}
        except core.WorkerFailure as exc:
            raise PluginError(
                f"An OmniGibson worker failed during {what}: {exc}", "Recreate the env; see the worker traceback above."
            ) from None
