"""The env worker process: ``python -m vlarl.envs.worker FD`` (started by :mod:`vlarl.envs.pool`).

It speaks frames (:mod:`vlarl.envs.wire`) on the inherited socket ``FD``. The first message,
``{"op": "init", "target": "module:attr", "kwargs": {...}}``, builds the worker's object with
``target(**kwargs)`` (plain data only); then each ``{"op": "call", "method", "args"}`` calls one of
its public methods and the reply is ``{"ok": result}`` or an error map. ``{"arena": {...}}`` on a
request switches to a new shared-memory arena. The process ends when the host closes the socket or
sends ``{"op": "close"}`` (after which the object's optional ``shutdown()`` runs). The same interpreter
or another one (``env.runtime.python``) runs it.
"""

from __future__ import annotations

import importlib
import os
import socket
import sys
from typing import Any

from vlarl.envs.wire import PROTOCOL_VERSION, Channel, Decoder, Encoder, PeerClosed, WireError, error_reply


def load_target(target: str) -> Any:
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _set_arena(channel: Channel, spec: dict[str, Any] | None) -> None:
    from vlarl.envs.shm import WorkerArena

    old = channel.encoder.arena
    channel.encoder.arena = None if spec is None else WorkerArena(str(spec["name"]), int(spec["size"]))
    if old is not None:
        old.close()


def call_method(obj: Any, msg: Any, allowed: frozenset[str] | None) -> Any:
    """Run one ``call`` message against ``obj``; only public (or ``allowed``) methods are reachable."""
    method = msg.get("method")
    if not isinstance(method, str) or method.startswith("_") or (allowed is not None and method not in allowed):
        raise WireError(
            "unknown_method", f"method {method!r} cannot be called.", f"Call one of {sorted(allowed or [])}."
        )
    args = msg.get("args", [])
    if not isinstance(args, list):
        raise WireError("malformed_message", "'args' must be a list.")
    fn = getattr(obj, method, None)
    if not callable(fn):
        raise WireError("unknown_method", f"{type(obj).__name__} has no method {method!r}.")
    return fn(*args)


def serve(channel: Channel, obj: Any, allowed: frozenset[str] | None = None) -> None:
    """Answer calls until the peer closes or sends ``close``."""
    while True:
        try:
            msg = channel.recv(None)
        except PeerClosed:
            break
        if not isinstance(msg, dict):
            channel.send({"error": "malformed_message", "problem": "a request must be a map.", "fix": None})
            continue
        if "arena" in msg:
            _set_arena(channel, msg["arena"])
        op = msg.get("op")
        if op == "close":
            close = getattr(obj, "close", None)
            try:
                if callable(close):
                    close()
                channel.send({"ok": None})
            except Exception as exc:
                channel.send(error_reply(exc))
            break
        try:
            if op != "call":
                raise WireError("malformed_message", f"unknown op {op!r}.", "Send 'call' or 'close'.")
            reply = {"ok": call_method(obj, msg, allowed)}
        except Exception as exc:
            reply = error_reply(exc)
        try:
            channel.send(reply)
        except WireError as exc:  # e.g. a result holding an object that has no wire form
            channel.send(error_reply(exc))


def main(argv: list[str]) -> int:
    sock = socket.socket(fileno=int(argv[0]))
    max_bytes = int(argv[1]) if len(argv) > 1 else None
    channel = Channel(sock, **({"max_bytes": max_bytes} if max_bytes else {}), encoder=Encoder(), decoder=Decoder())
    try:
        init = channel.recv(None)
    except PeerClosed:
        return 0
    try:
        if not isinstance(init, dict) or init.get("op") != "init":
            raise WireError("malformed_message", "the first message must be {'op': 'init', ...}.")
        if init.get("protocol") != PROTOCOL_VERSION:
            raise WireError(
                "version_mismatch",
                f"the host speaks env protocol {init.get('protocol')}, this worker {PROTOCOL_VERSION}.",
                "Install the same vlarl version in both Python environments.",
            )
        os.environ.update({str(k): str(v) for k, v in (init.get("env_vars") or {}).items()})
        _set_arena(channel, init.get("arena"))
        obj = load_target(str(init["target"]))(**(init.get("kwargs") or {}))
        info = obj.info() if callable(getattr(obj, "info", None)) else None
        import vlarl

        channel.send(
            {"ok": {"pid": os.getpid(), "protocol": PROTOCOL_VERSION, "vlarl": vlarl.__version__, "info": info}}
        )
    except Exception as exc:
        channel.send(error_reply(exc))
        return 1
    serve(channel, obj)
    channel.close()
    shutdown = getattr(obj, "shutdown", None)
    if callable(shutdown):  # e.g. a simulator app that ends the process itself once closed
        shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
