"""Env worker processes: start (this or another interpreter), call with timeouts, restart when dead or hung.

Each worker is a fresh interpreter (``python -m vlarl.envs.worker``), never a fork: simulators
that hold GL or CUDA state cannot be forked, and another Python environment (``env.runtime.python``)
cannot be forked into at all. Messages travel as frames of :mod:`vlarl.envs.wire` on a socket pair;
large arrays come back through a shared-memory arena the host owns.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vlarl.envs import shm
from vlarl.envs.wire import DEFAULT_MAX_BYTES, PROTOCOL_VERSION, Channel, Decoder, Encoder, PeerClosed, WireError
from vlarl.envs.wire import raise_reply as _raise_reply
from vlarl.errors import ConfigError, VlarlError

log = logging.getLogger(__name__)


class WorkerFailure(RuntimeError):
    """A worker died, hung past its timeout or raised; ``worker`` is its index, ``reason`` says how."""

    def __init__(self, worker: int, reason: str, label: str = "env") -> None:
        super().__init__(f"{label} worker {worker}: {reason}")
        self.worker = worker
        self.reason = reason


@dataclass
class WorkerSpec:
    """What a worker runs: ``target(**kwargs)`` inside it (plain data), with these env vars and interpreter."""

    target: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    env_vars: dict[str, str] = field(default_factory=dict)
    python: str | None = None
    """None: this interpreter (sys.executable, with this sys.path, as ``spawn`` would); else a path."""
    shared_memory: bool = True
    max_bytes: int = DEFAULT_MAX_BYTES


class ProcessWorker:
    """Parent-side handle of one worker process."""

    def __init__(self, index: int, spec: WorkerSpec, label: str = "env") -> None:
        self.index = index
        self.spec = spec
        self.label = label
        self.process: subprocess.Popen[bytes] | None = None
        self.channel: Channel | None = None
        self.arena: shm.HostArena | None = None
        self._next_arena: shm.HostArena | None = None
        self.info: Any = None
        self.vlarl_version: str | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def failure(self, reason: str) -> WorkerFailure:
        return WorkerFailure(self.index, reason, self.label)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Launch the process and send its init message; :meth:`wait_ready` collects the answer."""
        parent, child = socket.socketpair()
        python = self.spec.python or sys.executable
        env = dict(os.environ)
        env.update(self.spec.env_vars)
        if self.spec.python is None:  # what multiprocessing's spawn gives a child: the parent's sys.path
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        cmd = [python, "-m", "vlarl.envs.worker", str(child.fileno()), str(self.spec.max_bytes)]
        try:
            self.process = subprocess.Popen(cmd, pass_fds=(child.fileno(),), env=env, close_fds=True)
        except OSError as exc:
            parent.close()
            child.close()
            raise ConfigError(
                f"Cannot start an env worker with {python}: {exc}.",
                "Point env.runtime.python at the python executable of a virtual environment holding vlarl "
                "and the env plugin (e.g. /path/to/venv/bin/python).",
            ) from exc
        child.close()
        self.channel = Channel(parent, self.spec.max_bytes, Encoder(), Decoder())
        if self.spec.shared_memory:
            self._next_arena = None
            self._set_arena(None)
        self.channel.send(
            {"op": "init", "protocol": PROTOCOL_VERSION, "target": self.spec.target, "kwargs": self.spec.kwargs,
             "env_vars": self.spec.env_vars, "arena": None}
        )  # fmt: skip

    def wait_ready(self, timeout: float) -> Any:
        reply = self.recv(timeout)
        self.vlarl_version = reply.get("vlarl")
        self.info = reply.get("info")
        return self.info

    def _set_arena(self, arena: shm.HostArena | None) -> None:
        if self.arena is not None:
            self.arena.close()
        self.arena = arena
        assert self.channel is not None
        self.channel.decoder.arena = arena

    # ------------------------------------------------------------------ calls
    def send(self, method: str, *args: Any) -> None:
        if self.channel is None or self.process is None:
            raise self.failure("not running")
        msg: dict[str, Any] = {"op": "call", "method": method, "args": list(args)}
        if self._next_arena is not None:
            msg["arena"] = shm.describe(self._next_arena)
        try:
            self.channel.send(msg)
        except (PeerClosed, TimeoutError) as exc:
            raise self.failure(f"process died (pipe closed: {exc})") from exc
        if self._next_arena is not None:  # the worker writes into the new arena from this reply on
            self._set_arena(self._next_arena)
            self._next_arena = None

    def recv(self, timeout: float) -> Any:
        assert self.channel is not None and self.process is not None
        deadline = time.monotonic() + timeout
        sock = self.channel.sock
        while True:  # wait in short slices, so a dead process is noticed at once and a hung one at the deadline
            ready, _, _ = select.select([sock], [], [], min(1.0, max(deadline - time.monotonic(), 0.0)))
            if ready:
                break
            if self.process.poll() is not None:
                raise self.failure(f"process died (exit code {self.process.returncode})")
            if time.monotonic() >= deadline:
                raise self.failure(f"no answer within {timeout:.0f} s")
        try:
            reply = self.channel.recv(max(deadline - time.monotonic(), 1.0))
        except (PeerClosed, WireError, TimeoutError) as exc:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
            if self.process.poll() is not None:
                raise self.failure(f"process died (exit code {self.process.returncode})") from exc
            raise self.failure(f"broken reply ({exc})") from exc
        self._grow_arena()
        return _raise_reply(reply, f"{self.label} worker {self.index}", self.failure)

    def call(self, method: str, *args: Any, timeout: float) -> Any:
        self.send(method, *args)
        return self.recv(timeout)

    def _grow_arena(self) -> None:
        assert self.channel is not None
        inline = self.channel.decoder.inline_large
        if self.spec.shared_memory and inline and self._next_arena is None:
            self._next_arena = shm.HostArena(shm.arena_size(inline + (self.arena.size if self.arena else 0)))

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        for arena in (self.arena, self._next_arena):
            if arena is not None:
                arena.close()
        self.arena = self._next_arena = None

    def close(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None and self.channel is not None:
            try:
                self.channel.send({"op": "close"})
                self.recv(timeout)
            except (WorkerFailure, VlarlError, PeerClosed, TimeoutError, OSError):
                pass
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        self.kill()
        self.process = None


class WorkerPool:
    """Workers started together; ``restart`` replaces a failed one and keeps the count and the reasons."""

    def __init__(
        self,
        specs: list[WorkerSpec],
        startup_timeout: float,
        max_restarts: int = 20,
        label: str = "env",
        fix: str = "Check the worker's error above; raise the env's timeouts or restart limit if it is transient.",
    ) -> None:
        self.workers = [ProcessWorker(i, s, label) for i, s in enumerate(specs)]
        self.startup_timeout = startup_timeout
        self.max_restarts = max_restarts
        self.label = label
        self.fix = fix
        self.restarts = 0
        self.errors: list[str] = []
        """``worker W: reason`` of each failure since :meth:`clear_errors` (an env reports them in infos)."""

    def __len__(self) -> int:
        return len(self.workers)

    def __getitem__(self, w: int) -> ProcessWorker:
        return self.workers[w]

    @property
    def pids(self) -> list[int | None]:
        return [w.pid for w in self.workers]

    def start(self) -> list[Any]:
        """Start every worker at once (they build their simulators in parallel); returns their infos."""
        try:
            for worker in self.workers:
                worker.start()
            return [worker.wait_ready(self.startup_timeout) for worker in self.workers]
        except BaseException:
            self.close()
            raise

    def clear_errors(self) -> None:
        self.errors = []

    def restart(self, w: int, reason: str, on_fail: Callable[[WorkerFailure], VlarlError] | None = None) -> Any:
        """Kill worker ``w`` and start it again (its info is returned); past ``max_restarts`` raise."""
        self.restarts += 1
        self.errors.append(f"worker {w}: {reason}")
        log.warning("%s worker %d failed (%s); restarting it (restart %d)", self.label, w, reason, self.restarts)
        if self.restarts > self.max_restarts:
            raise VlarlError(
                f"{self.label} workers failed {self.restarts} times (last: worker {w}: {reason}).",
                "Look at the worker errors above; raise the env's max_restarts or step timeout if they are transient.",
            )
        worker = self.workers[w]
        worker.kill()
        try:
            worker.start()
            return worker.wait_ready(self.startup_timeout)
        except WorkerFailure as exc:
            if on_fail is not None:
                raise on_fail(exc) from exc
            raise VlarlError(f"{self.label} worker {w} could not be restarted: {exc.reason}", self.fix) from exc

    def close(self) -> None:
        for worker in self.workers:
            worker.close()
