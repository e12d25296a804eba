"""The host's end of a TCP connection to ``vlarl env-server`` (``env.runtime.address``).

Same calls as a local worker (:class:`vlarl.envs.pool.ProcessWorker`): ``start`` connects and says
hello (protocol, vlarl version, token), ``wait_ready`` returns the served env's info; a lost server
is reconnected by ``start`` again, retrying for ``connect_timeout`` seconds.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from typing import Any

from vlarl.envs.pool import WorkerFailure
from vlarl.envs.wire import DEFAULT_MAX_BYTES, PROTOCOL_VERSION, Channel, PeerClosed, WireError, raise_reply
from vlarl.errors import ConfigError

TOKEN_ENV = "VLARL_ENV_TOKEN"
"""The environment variable holding the shared token, on the server and on the host."""


def parse_address(address: str, where: str = "env.runtime.address") -> tuple[str, int]:
    host, sep, port = str(address).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{where}={address!r} is not host:port.", f"Write it as e.g. {where}=127.0.0.1:7000.")
    return host.strip("[]"), int(port)


def read_token(env_var: str = TOKEN_ENV, role: str = "host") -> str:
    token = os.environ.get(env_var, "")
    if not token:
        raise ConfigError(
            f"The env protocol needs a shared token, and {env_var} is not set on the {role}.",
            f"Set the same secret on both ends, e.g. export {env_var}=$(python -c 'import secrets; "
            "print(secrets.token_hex(16))').",
        )
    return token


class TcpLink:
    """One connection to an env server; acts like one env worker."""

    def __init__(
        self,
        index: int,
        address: str,
        token: str,
        env_name: str | None,
        connect_timeout: float = 60.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.index = index
        self.address = address
        self.host, self.port = parse_address(address)
        self.token = token
        self.env_name = env_name
        self.connect_timeout = connect_timeout
        self.max_bytes = max_bytes
        self.channel: Channel | None = None
        self.info: Any = None
        self.label = f"env server {address}"

    @property
    def pid(self) -> None:
        return None

    def failure(self, reason: str) -> WorkerFailure:
        return WorkerFailure(self.index, reason, self.label)

    def start(self) -> None:
        deadline = time.monotonic() + self.connect_timeout
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=5.0)
                break
            except OSError as exc:
                if time.monotonic() >= deadline:
                    raise self.failure(f"cannot connect ({exc}) within {self.connect_timeout:.0f} s") from exc
                time.sleep(0.2)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.channel = Channel(sock, self.max_bytes)
        import vlarl

        self.channel.send(
            {"op": "hello", "protocol": PROTOCOL_VERSION, "vlarl": vlarl.__version__, "token": self.token,
             "env": self.env_name}
        )  # fmt: skip

    def wait_ready(self, timeout: float) -> Any:
        reply = self.recv(timeout)
        self.info = reply
        return reply

    def send(self, method: str, *args: Any) -> None:
        if self.channel is None:
            raise self.failure("not connected")
        try:
            self.channel.send({"op": "call", "method": method, "args": list(args)}, timeout=60.0)
        except (PeerClosed, TimeoutError) as exc:
            raise self.failure(f"connection lost ({exc})") from exc

    def recv(self, timeout: float) -> Any:
        if self.channel is None:
            raise self.failure("not connected")
        try:
            reply = self.channel.recv(timeout)
        except TimeoutError as exc:
            raise self.failure(f"no answer within {timeout:.0f} s") from exc
        except PeerClosed as exc:
            raise self.failure(f"connection lost ({exc})") from exc
        except WireError as exc:
            if exc.code == "truncated_message":
                raise self.failure(f"connection lost ({exc.problem})") from exc
            raise
        return raise_reply(reply, self.label, self.failure)

    def call(self, method: str, *args: Any, timeout: float) -> Any:
        self.send(method, *args)
        return self.recv(timeout)

    def kill(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None

    def close(self, timeout: float = 10.0) -> None:
        if self.channel is None:
            return
        with contextlib.suppress(Exception):
            self.channel.send({"op": "close"}, timeout=timeout)
            self.channel.recv(timeout)
        self.kill()
