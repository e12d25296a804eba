"""Ctrl-C / SIGTERM during a run, and the test hook that makes signal tests deterministic.

The first Ctrl-C (SIGINT) or SIGTERM (what a scheduler, ``kill`` or a container stop sends) asks the run
to stop once the current iteration (or SFT step) has completed; that completed state is then
checkpointed. An interrupt never saves the state of a half-finished iteration (weights from the middle
of an update), and never under the name of an existing checkpoint. A second signal stops at once:
whatever was being written is discarded and the last complete checkpoint is named.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

PAUSE_ENV = "VLARL_TEST_PAUSE"
"""``point:index[,point:index]`` (points: ``after_update`` (iteration or SFT step index), ``save`` (step of
the checkpoint)): the run pauses there, after writing the marker file ``$VLARL_TEST_PAUSE_DIR/<point>-<index>``
(holding its pid), until a signal reaches it or the marker is removed (at most 120 s). Lets tests send a
signal at an exact point without sleeping."""
PAUSE_DIR_ENV = "VLARL_TEST_PAUSE_DIR"
_signals_seen = 0
_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
"""128 + the signal number, what a shell reports for a process the signal stopped."""


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal; ``message`` says what was saved and what the last complete checkpoint is."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class StopRequest:
    """While active (main thread only): the first SIGINT or SIGTERM sets ``requested``, the second raises
    KeyboardInterrupt. ``label`` names one unit of work in messages ("iteration", "SFT step")."""

    def __init__(self, unit: str = "iteration", label: str | None = None) -> None:
        self.unit = unit
        self.label = label or unit
        self.requested = False
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def by(self) -> str:
        """What stopped the run, for messages: ``Ctrl-C`` or ``SIGTERM``."""
        return _NAMES.get(self.signum or signal.SIGINT, "a signal")

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.signum or signal.SIGINT, 130)

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        global _signals_seen
        _signals_seen += 1
        if self.requested:
            self.signum = signum
            raise KeyboardInterrupt
        self.requested = True
        self.signum = signum
        again = "Press Ctrl-C again" if signum == signal.SIGINT else "Send SIGTERM (or Ctrl-C) again"
        print(
            f"\n{self.by}: stopping once this {self.unit} completes, then saving a checkpoint of it. "
            f"{again} to stop at once without saving.",
            file=sys.stderr,
            flush=True,
        )

    def __enter__(self) -> StopRequest:
        # Only where Python's own handling is active (SIGINT: KeyboardInterrupt, SIGTERM: the default, which
        # ends the process): an ignored signal (SIGINT of a background job) or a caller's own handler is left
        # alone, and signal handlers can only be set in the main thread.
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                current = signal.getsignal(signum)
                if _is_default(signum, current):
                    self._previous[signum] = current
                    signal.signal(signum, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def stopped(self, done: str, checkpoint: Path | None, resume_key: str) -> Interrupted:
        """The run stopped as asked after ``done`` (e.g. "3 iterations"), with ``checkpoint`` saved."""
        return Interrupted(
            f"Stopped by {self.by} after {done}; checkpoint {checkpoint}. Continue with {resume_key}=auto.",
            self.exit_code,
        )

    def failed(self, number: int, total: int, exc: BaseException, last: str) -> Interrupted:
        """Unit ``number`` raised after the first signal (a terminal's Ctrl-C also reaches env workers)."""
        return Interrupted(
            f"Interrupted: {self.label} {number} of {total} failed after {self.by} "
            f"({type(exc).__name__}: {exc}); nothing of it was saved, {last}.",
            self.exit_code,
        )

    def hard_stop(
        self, phase: str, number: int, total: int, target: Path, written: Path | None, last: str
    ) -> Interrupted:
        """What a second signal (or one without the handler) stopped, never saving a half-finished unit.

        ``phase``: "completed" (unit ``number`` completed, not yet saved), "save" (the checkpoint ``target`` was
        being written; ``written``: the last one written), "between" (``number`` units done and saved as due),
        anything else: unit ``number`` was running. ``last``: the last complete checkpoint, as text.
        """
        if phase == "save":
            what = (
                f"stopped after writing {target}"
                if target == written
                else f"the checkpoint {target} was not written (its temporary files were removed)"
            )
        elif phase == "completed":
            what = f"{self.label} {number} of {total} completed but was not saved"
        elif phase == "between":
            what = f"stopped after {number} {self.label}s"
        else:
            what = f"{self.label} {number} of {total} did not complete and nothing of it was saved"
        return Interrupted(f"Interrupted: {what}; {last}.", self.exit_code)


def _is_default(signum: int, handler: Any) -> bool:
    if signum == signal.SIGINT:
        return handler is signal.default_int_handler
    # ray.init sets a driver SIGTERM handler that only exits (sys.exit(15)), like the default: a run takes
    # it over for its duration, and puts it back.
    ray_exit = (
        getattr(handler, "__module__", "").startswith("ray.") and getattr(handler, "__name__", "") == "sigterm_handler"
    )
    return handler is signal.SIG_DFL or ray_exit


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back for a few system calls that must not be split (renames of a checkpoint)."""
    mask = {signal.SIGINT, signal.SIGTERM}
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, mask)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def pause_point(point: str, index: int) -> None:
    """The test hook of :data:`PAUSE_ENV`; a no-op unless that variable names this point."""
    wanted = os.environ.get(PAUSE_ENV)
    if not wanted or f"{point}:{index}" not in {w.strip() for w in wanted.split(",")}:
        return
    marker = Path(os.environ.get(PAUSE_DIR_ENV, ".")) / f"{point}-{index}"
    seen = _signals_seen
    marker.write_text(str(os.getpid()))
    deadline = time.monotonic() + 120.0
    try:
        while marker.exists() and _signals_seen == seen and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        marker.unlink(missing_ok=True)
