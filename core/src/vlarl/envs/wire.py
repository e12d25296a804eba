"""The env wire format: length-framed msgpack, arrays as dtype + shape + raw bytes, never pickle.

A frame is ``[u32 total][u32 body][body][data]`` (big-endian lengths). ``body`` is msgpack of plain
data (None, bool, int, float, str, bytes, lists, maps); an array inside it is a msgpack extension
that says its dtype, shape and where its bytes lie: ``EXT_INLINE`` in the frame's ``data`` tail
(sent without concatenation, received as writable views of one buffer), ``EXT_SHARED`` in the
worker's shared-memory arena (local workers only; a TCP peer may not name memory). Decoding checks
every array against a dtype whitelist and ``prod(shape) * itemsize == nbytes`` within bounds, and
refuses frames over a maximum length before reading them, so what a peer sends can only ever
become data.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import msgpack
import numpy as np

from vlarl.errors import VlarlError

PROTOCOL_VERSION = 1
"""Bumped on any change to the frame layout or the messages (docs/wire_protocol.md)."""

EXT_INLINE = 1
EXT_SHARED = 2
HEADER = struct.Struct("!II")
DEFAULT_MAX_BYTES = 512 * 2**20
MAX_NDIM = 8
ALIGN = 64

_NUMERIC = "bool uint8 int8 uint16 int16 uint32 int32 uint64 int64 float16 float32 float64"
DTYPES = frozenset(np.dtype(t).str for t in _NUMERIC.split())
"""Little-endian numeric dtypes only: no objects, strings, structured or big-endian arrays."""


class WireError(VlarlError):
    """A frame or message that breaks the protocol; ``code`` names the case (sent to the peer as is)."""

    def __init__(self, code: str, problem: str, fix: str | None = None) -> None:
        super().__init__(f"[{code}] {problem}", fix)
        self.code = code
        self.detail = problem


class PeerClosed(ConnectionError):
    """The peer closed the connection (or died) before a whole frame arrived."""


def _pad(n: int) -> int:
    return -n % ALIGN


class Encoder:
    """Turns one message into frame buffers; ``arena`` (optional) takes large arrays by shared memory."""

    def __init__(self, arena: Any = None, shm_threshold: int = 64 * 1024) -> None:
        self.arena = arena
        self.shm_threshold = shm_threshold

    def frame(self, message: Any) -> list[Any]:
        buffers: list[Any] = []
        offset = 0
        shm_offset = 0
        if self.arena is not None:
            self.arena.begin()

        def default(obj: Any) -> Any:
            nonlocal offset, shm_offset
            if hasattr(obj, "detach") and hasattr(obj, "cpu"):  # a torch tensor: its bytes, on the CPU
                obj = obj.detach().cpu().numpy()
            if isinstance(obj, np.ndarray):
                arr = np.ascontiguousarray(obj)
                if arr.dtype.byteorder == ">":
                    arr = arr.astype(arr.dtype.newbyteorder("<"))
                if arr.dtype.str not in DTYPES:
                    raise WireError(
                        "bad_dtype",
                        f"an array of dtype {arr.dtype} cannot be sent.",
                        f"Send one of {sorted(DTYPES)}; encode text as str.",
                    )
                head = [arr.dtype.str, list(arr.shape)]
                if self.arena is not None and arr.nbytes >= self.shm_threshold:
                    at = self.arena.put(arr)
                    if at is not None:
                        return msgpack.ExtType(EXT_SHARED, msgpack.packb([*head, at, arr.nbytes]))
                ext = msgpack.ExtType(EXT_INLINE, msgpack.packb([*head, offset, arr.nbytes]))
                buffers.append(memoryview(arr.reshape(-1).view(np.uint8)))
                pad = _pad(arr.nbytes)
                if pad:
                    buffers.append(b"\0" * pad)
                offset += arr.nbytes + pad
                return ext
            if isinstance(obj, np.generic):
                return obj.item()
            if isinstance(obj, (tuple, set, frozenset)):
                return list(obj)
            raise WireError(
                "unsupported_type",
                f"a {type(obj).__module__}.{type(obj).__qualname__} cannot be sent on the env wire.",
                "Send plain data (numbers, strings, lists, dicts) and NumPy arrays only.",
            )

        body = msgpack.packb(message, default=default, use_bin_type=True)
        pad = _pad(HEADER.size + len(body))
        head = HEADER.pack(len(body) + pad + offset, len(body))
        return [head, body, b"\0" * pad, *buffers]


class Decoder:
    """Frame bytes -> message, validating every array; ``arena`` resolves shared-memory arrays."""

    def __init__(self, arena: Any = None, shm_threshold: int = 64 * 1024) -> None:
        self.arena = arena
        self.shm_threshold = shm_threshold
        self.inline_large = 0
        """Bytes of large arrays the last message carried inline: the host sizes the worker's arena from it."""

    def decode(self, frame: bytearray, body_len: int) -> Any:
        self.inline_large = 0
        if body_len > len(frame):
            raise WireError("malformed_message", f"body length {body_len} exceeds the frame ({len(frame)} bytes).")
        start = body_len + _pad(HEADER.size + body_len)
        data = memoryview(frame)[start:]

        def ext_hook(code: int, payload: bytes) -> Any:
            try:
                dtype, shape, at, nbytes = msgpack.unpackb(payload, raw=False)
            except Exception as exc:
                raise WireError("malformed_message", f"an array header cannot be read ({exc}).") from None
            arr_dtype, count = _check_array(dtype, shape, at, nbytes)
            if code == EXT_INLINE:
                if at + nbytes > len(data):
                    raise WireError(
                        "array_mismatch", f"an array claims bytes {at}..{at + nbytes} of a {len(data)}-byte data block."
                    )
                if nbytes >= self.shm_threshold:
                    self.inline_large += nbytes + _pad(nbytes)
                return np.frombuffer(data, arr_dtype, count, at).reshape(shape)
            if code == EXT_SHARED:
                if self.arena is None:
                    raise WireError(
                        "shm_not_allowed", "a shared-memory array arrived on a connection that has no arena."
                    )
                return self.arena.get(arr_dtype, shape, at, nbytes)
            raise WireError("malformed_message", f"unknown msgpack extension type {code}.")

        try:
            return msgpack.unpackb(frame[:body_len], ext_hook=ext_hook, raw=False, strict_map_key=False)
        except WireError:
            raise
        except Exception as exc:
            raise WireError(
                "malformed_message", f"the message cannot be decoded ({type(exc).__name__}: {exc})."
            ) from None


def _check_array(dtype: Any, shape: Any, at: Any, nbytes: Any) -> tuple[np.dtype, int]:
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise WireError("bad_dtype", f"array dtype {dtype!r} is not allowed.", f"Use one of {sorted(DTYPES)}.")
    ints = isinstance(shape, list) and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
    if not ints or len(shape) > MAX_NDIM:
        raise WireError("array_mismatch", f"array shape {shape!r} is not a list of at most {MAX_NDIM} sizes >= 0.")
    if not (isinstance(at, int) and isinstance(nbytes, int) and at >= 0 and nbytes >= 0):
        raise WireError("array_mismatch", f"array offset {at!r} / length {nbytes!r} are not sizes >= 0.")
    dt = np.dtype(dtype)
    count = 1
    for s in shape:
        count *= s
    if count * dt.itemsize != nbytes:
        raise WireError(
            "array_mismatch",
            f"an array of dtype {dtype} and shape {tuple(shape)} needs {count * dt.itemsize} bytes, "
            f"the message gives {nbytes}.",
        )
    return dt, count


# ---------------------------------------------------------------------- sockets
def _recv_exact(sock: socket.socket, n: int, deadline: float | None, what: str) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"timed out reading {what}")
            sock.settimeout(left)
        else:
            sock.settimeout(None)
        try:
            k = sock.recv_into(view[got:], n - got)
        except TimeoutError:
            raise TimeoutError(f"timed out reading {what}") from None
        except OSError as exc:
            raise PeerClosed(f"connection lost ({exc})") from exc
        if k == 0:
            if got == 0 and what == "a frame header":
                raise PeerClosed("the peer closed the connection")
            raise WireError("truncated_message", f"the connection closed after {got} of {n} bytes of {what}.")
        got += k
    return buf


class Channel:
    """One connected socket speaking frames: ``send(message)`` and ``recv(timeout)``."""

    def __init__(
        self,
        sock: socket.socket,
        max_bytes: int = DEFAULT_MAX_BYTES,
        encoder: Encoder | None = None,
        decoder: Decoder | None = None,
    ) -> None:
        self.sock = sock
        self.max_bytes = max_bytes
        self.encoder = encoder or Encoder()
        self.decoder = decoder or Decoder()

    def send(self, message: Any, timeout: float | None = None) -> None:
        buffers = self.encoder.frame(message)
        total = HEADER.size + sum(len(b) for b in buffers[1:])
        if total - HEADER.size > self.max_bytes:
            raise WireError(
                "message_too_large",
                f"a {total - HEADER.size}-byte message exceeds the {self.max_bytes}-byte limit.",
                "Raise env.runtime.max_message_mb on both ends, or send fewer or smaller images per chunk.",
            )
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(b"".join(buffers[:3]))
            for b in buffers[3:]:  # array bytes go out as they are, never joined into one copy
                self.sock.sendall(b)
        except TimeoutError:
            raise TimeoutError("timed out sending a frame") from None
        except OSError as exc:
            raise PeerClosed(f"connection lost ({exc})") from exc

    def recv(self, timeout: float | None = None) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        total, body = HEADER.unpack(_recv_exact(self.sock, HEADER.size, deadline, "a frame header"))
        if total > self.max_bytes:
            raise WireError(
                "message_too_large",
                f"a frame header announces {total} bytes, over the {self.max_bytes}-byte limit.",
                "Raise env.runtime.max_message_mb on both ends if such messages are expected.",
            )
        if body > total:
            raise WireError("malformed_message", f"the frame header gives a body of {body} in a {total}-byte frame.")
        return self.decoder.decode(_recv_exact(self.sock, total, deadline, "a frame"), body)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def error_reply(exc: BaseException, fix_default: str | None = None) -> dict[str, Any]:
    """The reply that carries an exception across: code, problem, fix (no traceback objects)."""
    if isinstance(exc, WireError):
        return {"error": exc.code, "problem": exc.detail, "fix": exc.fix}
    if isinstance(exc, VlarlError):
        return {"error": "vlarl_error", "kind": type(exc).__name__, "problem": exc.problem, "fix": exc.fix}
    import traceback

    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {"error": "exception", "problem": f"{type(exc).__name__}: {exc}", "traceback": text, "fix": fix_default}


def raise_reply(reply: Any, where: str, make_failure: Callable[[str], Exception]) -> Any:
    """``{"ok": value}`` -> value; an error reply -> the matching exception (VlarlErrors keep their kind)."""
    if not isinstance(reply, dict):
        raise WireError("malformed_message", f"{where} sent a {type(reply).__name__} where a reply map belongs.")
    if "ok" in reply:
        return reply["ok"]
    code = reply.get("error")
    if code == "vlarl_error":
        from vlarl import errors

        cls = getattr(errors, str(reply.get("kind")), None)
        cls = cls if isinstance(cls, type) and issubclass(cls, VlarlError) else VlarlError
        raise cls(str(reply.get("problem")), reply.get("fix"))
    if code == "exception":
        raise make_failure(f"raised an error:\n{reply.get('traceback') or reply.get('problem')}")
    if isinstance(code, str):
        raise WireError(code, f"{where} refused: {reply.get('problem')}", reply.get("fix"))
    raise WireError("malformed_message", f"{where} sent a reply without 'ok' or 'error'.")
