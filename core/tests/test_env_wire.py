"""The env wire format: arrays round-trip as raw bytes, and every malformed frame is refused by name."""

from __future__ import annotations

import socket
import struct
import threading

import msgpack
import numpy as np
import pytest

from vlarl.envs.shm import HostArena, WorkerArena
from vlarl.envs.wire import EXT_INLINE, HEADER, Channel, Decoder, Encoder, PeerClosed, WireError


def pair(max_bytes: int = 1 << 20, **kw) -> tuple[Channel, Channel]:
    a, b = socket.socketpair()
    return Channel(a, max_bytes, **kw), Channel(b, max_bytes)


def test_arrays_and_plain_data_round_trip() -> None:
    a, b = pair()
    msg = {
        "images": np.arange(2 * 3 * 8 * 8, dtype=np.uint8).reshape(2, 3, 8, 8),
        "states": np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3),
        "done": np.array([True, False]),
        "big_endian": np.arange(3, dtype=">i4"),
        "scalar": np.float32(1.5),
        "text": ["pick up the bowl", "open the drawer"],
        3: (1, 2),
        "empty": np.zeros((0, 4), dtype=np.int64),
    }
    a.send(msg)
    got = b.recv(5)
    assert got["images"].dtype == np.uint8 and (got["images"] == msg["images"]).all()
    assert got["states"].dtype == np.float32 and np.array_equal(got["states"], msg["states"])
    assert got["done"].tolist() == [True, False] and got["big_endian"].tolist() == [0, 1, 2]
    assert got["scalar"] == 1.5 and got["text"] == msg["text"] and got[3] == [1, 2]
    assert got["empty"].shape == (0, 4)
    got["images"][0, 0, 0, 0] = 7  # decoded arrays are writable (envs write into their batches)


def test_objects_are_refused_on_the_sending_side() -> None:
    a, _ = pair()
    with pytest.raises(WireError, match="bad_dtype"):
        a.send({"x": np.array([object()])})
    with pytest.raises(WireError, match="unsupported_type"):
        a.send({"x": object()})


def raw_frame(body: bytes, data: bytes = b"") -> bytes:
    pad = -(HEADER.size + len(body)) % 64
    return HEADER.pack(len(body) + pad + len(data), len(body)) + body + b"\0" * pad + data


def array_ext(dtype: str, shape: list[int], at: int, nbytes: int) -> msgpack.ExtType:
    return msgpack.ExtType(EXT_INLINE, msgpack.packb([dtype, shape, at, nbytes]))


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (raw_frame(msgpack.packb({"a": array_ext("<f4", [2, 3], 0, 20)}), b"\0" * 24), "array_mismatch"),
        (raw_frame(msgpack.packb({"a": array_ext("<f4", [2, 3], 0, 24)}), b"\0" * 8), "array_mismatch"),
        (raw_frame(msgpack.packb({"a": array_ext("|O", [1], 0, 8)}), b"\0" * 8), "bad_dtype"),
        (raw_frame(msgpack.packb({"a": array_ext("<f4", [-1], 0, 0)})), "array_mismatch"),
        (raw_frame(msgpack.packb({"a": msgpack.ExtType(9, b"")})), "malformed_message"),
        (raw_frame(msgpack.packb({"a": msgpack.ExtType(2, msgpack.packb(["|u1", [1], 0, 1]))})), "shm_not_allowed"),
        (raw_frame(b"\xc1\xc1\xc1"), "malformed_message"),
        (struct.pack("!II", 2**31, 10), "message_too_large"),
        (struct.pack("!II", 10, 20) + b"\0" * 10, "malformed_message"),
    ],
    ids=["short_nbytes", "bytes_missing", "object_dtype", "negative_shape", "unknown_ext", "shm_over_tcp",
         "garbage_body", "oversized_header", "body_past_frame"],
)  # fmt: skip
def test_malformed_frames_are_refused_by_name(frame: bytes, code: str) -> None:
    a, b = socket.socketpair()
    a.sendall(frame)
    with pytest.raises(WireError, match=code) as info:
        Channel(b, 1 << 20).recv(5)
    assert info.value.code == code


def test_truncated_message_and_clean_close_are_told_apart() -> None:
    a, b = socket.socketpair()
    a.sendall(struct.pack("!II", 100, 10) + b"\0" * 30)
    a.shutdown(socket.SHUT_WR)
    with pytest.raises(WireError, match="truncated_message"):
        Channel(b, 1 << 20).recv(5)
    c, d = socket.socketpair()
    c.close()
    with pytest.raises(PeerClosed):
        Channel(d).recv(5)


def test_a_slow_peer_times_out() -> None:
    _, b = socket.socketpair()
    with pytest.raises(TimeoutError):
        Channel(b).recv(0.2)


def test_large_arrays_go_through_the_shared_memory_arena() -> None:
    host = HostArena(1 << 20)
    try:
        worker = WorkerArena(host.name, host.size, untrack=False)  # same process as the host here
        a, b = pair(8 << 20, encoder=Encoder(arena=worker, shm_threshold=1024))
        b.decoder = Decoder(arena=host, shm_threshold=1024)
        img = np.random.default_rng(0).integers(0, 255, (4, 3, 32, 32), dtype=np.uint8)
        a.send({"img": img, "small": np.ones(3)})
        got = b.recv(5)
        assert np.array_equal(got["img"], img) and b.decoder.inline_large == 0
        a.send({"img": img + 1})  # the next reply reuses the arena; the first copy is unaffected
        assert np.array_equal(b.recv(5)["img"], img + 1) and np.array_equal(got["img"], img)
        too_big = np.zeros(2 << 20, dtype=np.uint8)  # does not fit: inline, and the host learns the size
        sender = threading.Thread(target=a.send, args=({"x": too_big},))  # larger than the socket buffer
        sender.start()
        assert b.recv(5)["x"].shape == too_big.shape and b.decoder.inline_large >= too_big.nbytes
        sender.join()
        worker.close()
    finally:
        host.close()
