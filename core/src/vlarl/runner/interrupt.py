"""Ctrl-C during a run, and the test hook that makes signal tests deterministic.

The first Ctrl-C (SIGINT) asks the run to stop once the current iteration (or SFT step) has
completed; that completed state is then checkpointed. An interrupt never saves the state of a
half-finished iteration (weights from the middle of an update), and never under the name of an
existing checkpoint. A second Ctrl-C stops at once: whatever was being written is discarded and
the last complete checkpoint is named.
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
(holding its pid), until a Ctrl-C reaches it or the marker is removed (at most 120 s). Lets tests send a
signal at an exact point without sleeping."""
PAUSE_DIR_ENV = "VLARL_TEST_PAUSE_DIR"
_signals_seen = 0


class Interrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C; ``message`` says what was saved and what the last complete checkpoint is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StopRequest:
    """While active (main thread only): the first SIGINT sets ``requested``, the second raises KeyboardInterrupt."""

    def __init__(self, unit: str = "iteration") -> None:
        self.unit = unit
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        global _signals_seen
        _signals_seen += 1
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(
            f"\nCtrl-C: stopping once this {self.unit} completes, then saving a checkpoint of it. "
            "Press Ctrl-C again to stop at once without saving.",
            file=sys.stderr,
            flush=True,
        )

    def __enter__(self) -> StopRequest:
        # Only where Python's own Ctrl-C handling is active: an ignored SIGINT (a background job) or a
        # caller's own handler is left alone, and signal handlers can only be set in the main thread.
        if threading.current_thread() is threading.main_thread():
            current = signal.getsignal(signal.SIGINT)
            if current is signal.default_int_handler:
                self._previous = current
                signal.signal(signal.SIGINT, self._handler)
                self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False


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
