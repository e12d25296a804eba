"""Worker processes: each owns a few LiberoSim sub-envs and answers commands over a pipe.

The simulator (and its GL context) is created inside the worker, which is started with
``spawn`` or ``forkserver``: a forked child inherits a half-initialised GL context and hangs.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import traceback
from dataclasses import asdict
from typing import Any

from vlarl.errors import ConfigError
from vlarl_libero.layout import ObjectReadError
from vlarl_libero.sim import SimOptions

OBJECT_FIX = "Turn env.privileged_state off for this task, or select tasks whose objects robosuite exposes."


class WorkerFailure(RuntimeError):
    """A worker died, hung past its timeout or raised; ``worker`` is its index."""

    def __init__(self, worker: int, reason: str) -> None:
        super().__init__(f"LIBERO worker {worker}: {reason}")
        self.worker = worker
        self.reason = reason


def _worker_main(
    conn: Any, n_local: int, opts: dict[str, Any], env_vars: dict[str, str], config_dir: str | None
) -> None:
    os.environ.update(env_vars)
    try:
        from vlarl_libero.layout import object_union
        from vlarl_libero.sim import LiberoSim, prepare_libero_import
        from vlarl_libero.tasks import sim_meta, suite_info

        prepare_libero_import(config_dir)
        sim_opts = SimOptions(**opts)
        tasks = suite_info(sim_opts.suite)
        chosen = sim_opts.privileged_tasks
        layout = None if chosen is None else object_union({t: tasks[t].objects for t in tasks}, chosen, sim_opts.suite)
        sims = [LiberoSim(sim_opts, tasks, layout) for _ in range(n_local)]
        conn.send(("ok", {"pid": os.getpid(), "tasks": tasks, "layout": layout, "meta": sim_meta()}))
    except ConfigError as exc:
        conn.send(("config_error", (exc.problem, exc.fix)))
        return
    except Exception:
        conn.send(("error", traceback.format_exc()))
        return
    while True:
        try:
            cmd, payload = conn.recv()
        except (EOFError, KeyboardInterrupt):
            break
        try:
            if cmd == "reset":
                result: Any = [sims[j].reset(task, state) for j, task, state in payload]
            elif cmd == "step":
                result = [sims[j].step(action) for j, action in payload]
            elif cmd == "model_xml":
                result = sims[payload].model_xml()
            elif cmd == "close":
                for sim in sims:
                    sim.close()
                conn.send(("ok", None))
                break
            else:
                raise ValueError(f"unknown command {cmd!r}")
            conn.send(("ok", result))
        except ObjectReadError as exc:
            conn.send(("config_error", (str(exc), OBJECT_FIX)))
        except Exception:
            conn.send(("error", traceback.format_exc()))


class WorkerHandle:
    """Parent-side handle of one worker process: start, send, receive with a timeout, kill."""

    def __init__(
        self,
        index: int,
        n_local: int,
        opts: SimOptions,
        env_vars: dict[str, str],
        start_method: str,
        config_dir: str | None,
    ) -> None:
        if start_method not in ("spawn", "forkserver"):
            raise ConfigError(
                f"env.start_method={start_method!r} is not supported.",
                "Use 'spawn' or 'forkserver' ('fork' hangs: a GL context may exist before the fork).",
            )
        self.index = index
        self.n_local = n_local
        self._args = (n_local, asdict(opts), env_vars, config_dir)
        self._ctx = mp.get_context(start_method)
        self.process: Any = None
        self.conn: Any = None
        self.info: dict[str, Any] = {}

    def start(self) -> None:
        parent, child = self._ctx.Pipe()
        self.process = self._ctx.Process(target=_worker_main, args=(child, *self._args), daemon=True)
        self.process.start()
        child.close()
        self.conn = parent

    def send(self, cmd: str, payload: Any = None) -> None:
        try:
            self.conn.send((cmd, payload))
        except (BrokenPipeError, ConnectionError, OSError) as exc:
            raise WorkerFailure(self.index, f"process died (pipe closed: {exc})") from exc

    def recv(self, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.conn.poll(min(1.0, max(deadline - time.monotonic(), 0.0))):
                    status, payload = self.conn.recv()
                    break
            except (EOFError, ConnectionError, OSError) as exc:
                self.process.join(timeout=5)
                raise WorkerFailure(self.index, f"process died (exit code {self.process.exitcode})") from exc
            if not self.process.is_alive():
                raise WorkerFailure(self.index, f"process died (exit code {self.process.exitcode})")
            if time.monotonic() >= deadline:
                raise WorkerFailure(self.index, f"no answer within {timeout:.0f} s")
        if status == "config_error":  # bad settings, not a crash: no restart would help
            raise ConfigError(*payload)
        if status != "ok":
            raise WorkerFailure(self.index, f"raised an error:\n{payload}")
        return payload

    def kill(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=10)
        if self.conn is not None:
            self.conn.close()

    def close(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        try:
            if self.process.is_alive():
                self.send("close")
                self.recv(timeout)
        except WorkerFailure:
            pass
        self.process.join(timeout=timeout)
        self.kill()
        self.process = None
