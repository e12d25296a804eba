"""Spawned OmniGibson worker processes, started with retries and back-off."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import time
from multiprocessing.connection import Connection
from typing import Any

from vlarl.errors import PluginError
from vlarl_behavior.worker import WorkerSpec, main

log = logging.getLogger(__name__)


class WorkerFailed(RuntimeError):
    pass


class WorkerPool:
    """Workers of ``sizes[w]`` envs each; global env i lives in worker ``owner[i]`` at row ``row[i]``."""

    def __init__(self, specs: list[WorkerSpec], startup_timeout: float, step_timeout: float) -> None:
        self.specs = specs
        self.startup_timeout = startup_timeout
        self.step_timeout = step_timeout
        self.procs: list[Any] = []
        self.conns: list[Connection] = []
        self.infos: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ start / stop
    def start(self, retries: int, delay: float, backoff: float) -> None:
        attempts = max(1, retries)
        for attempt in range(1, attempts + 1):
            try:
                self._start_once()
                return
            except WorkerFailed as exc:
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
        ctx = mp.get_context("spawn")  # a fork would share the parent's CUDA/Kit state
        for spec in self.specs:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=main, args=(child, spec), daemon=True, name="vlarl-behavior-worker")
            proc.start()
            child.close()
            self.procs.append(proc)
            self.conns.append(parent)
        self.infos = [self._recv(w, self.startup_timeout, "start-up") for w in range(len(self.specs))]

    def stop(self, timeout: float = 30.0) -> None:
        for conn, proc in zip(self.conns, self.procs):
            if proc.is_alive():
                with contextlib.suppress(OSError, BrokenPipeError):
                    conn.send(("close",))
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
        for conn in self.conns:
            conn.close()
        self.procs, self.conns = [], []

    # ------------------------------------------------------------------ calls
    def _recv(self, w: int, timeout: float, what: str) -> Any:
        conn, proc = self.conns[w], self.procs[w]
        if not conn.poll(timeout):
            state = "is hung" if proc.is_alive() else f"died (exit code {proc.exitcode})"
            raise WorkerFailed(f"worker {w} {state} during {what} (waited {timeout:.0f}s)")
        try:
            status, payload = conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerFailed(f"worker {w} died during {what} (exit code {proc.exitcode})") from exc
        if status != "ok":
            raise WorkerFailed(f"worker {w} raised during {what}:\n{payload}")
        return payload

    def call(self, requests: dict[int, tuple[Any, ...]], what: str) -> dict[int, Any]:
        """Send one message to each worker in ``requests`` (so they run in parallel), then gather replies."""
        if not self.conns:
            raise PluginError("The BEHAVIOR env is closed (its OmniGibson workers are stopped).", "Create a new env.")
        for w, msg in requests.items():
            self.conns[w].send(msg)
        try:
            return {w: self._recv(w, self.step_timeout, what) for w in requests}
        except WorkerFailed as exc:
            raise PluginError(
                f"An OmniGibson worker failed: {exc}", "Recreate the env; see the worker traceback above."
            ) from None
