"""Shared-memory arenas for large arrays (images) between the host and its local env workers.

The host owns each arena (creates and unlinks it), so a killed worker leaks nothing; a worker
attaches by name, writes the large arrays of one reply into it and sends only their offsets. The
host copies them out when it decodes the reply, before its next request lets the worker overwrite
them. The host grows the arena when a reply had to send large arrays inline.
"""

from __future__ import annotations

import contextlib
import secrets
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from vlarl.envs.wire import ALIGN, WireError


def attach(name: str, untrack: bool = True) -> shared_memory.SharedMemory:
    """Attach without registering with this process's resource tracker (the host unlinks it, not us)."""
    if not untrack:  # the creator's own process (tests): its registration must stay
        return shared_memory.SharedMemory(name=name)
    try:
        return shared_memory.SharedMemory(name=name, track=False)  # type: ignore[call-arg]  # Python >= 3.13
    except TypeError:
        shm = shared_memory.SharedMemory(name=name)
        from multiprocessing import resource_tracker

        with contextlib.suppress(Exception):
            resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]
        return shm


class HostArena:
    """The host's end: resolves ``EXT_SHARED`` arrays of one worker's replies."""

    def __init__(self, size: int) -> None:
        self.shm = shared_memory.SharedMemory(name=f"vlarl_{secrets.token_hex(6)}", create=True, size=size)
        self.size = size

    @property
    def name(self) -> str:
        return self.shm.name

    def get(self, dtype: np.dtype, shape: list[int], at: int, nbytes: int) -> np.ndarray:
        if at + nbytes > self.size:
            raise WireError(
                "array_mismatch", f"a shared array claims bytes {at}..{at + nbytes} of a {self.size}-byte arena."
            )
        count = nbytes // dtype.itemsize if dtype.itemsize else 0
        return np.frombuffer(self.shm.buf, dtype, count, at).reshape(shape).copy()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.shm.close()
        with contextlib.suppress(Exception):
            self.shm.unlink()


class WorkerArena:
    """The worker's end: ``put`` copies an array in and returns its offset (None if it does not fit)."""

    def __init__(self, name: str, size: int, untrack: bool = True) -> None:
        self.shm = attach(name, untrack)
        self.size = min(size, self.shm.size)
        self.cursor = 0

    def begin(self) -> None:
        self.cursor = 0

    def put(self, arr: np.ndarray) -> int | None:
        at = self.cursor
        if at + arr.nbytes > self.size:
            return None
        np.frombuffer(self.shm.buf, np.uint8, arr.nbytes, at)[:] = arr.reshape(-1).view(np.uint8)
        self.cursor = at + arr.nbytes + (-arr.nbytes % ALIGN)
        return at

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.shm.close()


def arena_size(inline_bytes: int) -> int:
    """Room for twice what last came inline, in whole MiB: replies vary a little (episode ends)."""
    mib = 2**20
    return max(mib, -(-2 * inline_bytes // mib) * mib)


def describe(arena: Any) -> dict[str, Any] | None:
    return None if arena is None else {"name": arena.name, "size": arena.size}
