"""``vlarl env-server``: serve an env plugin over TCP to hosts that set ``env.runtime.address``.

Every connection says hello first (protocol version, vlarl version, token); only then does the
server build an env for it (one env per connection, closed when the connection ends). A wrong
token, another protocol version or a malformed frame is answered with a named error, that
connection is dropped, and the server goes on serving the others.
"""

from __future__ import annotations

import contextlib
import hmac
import socket
import socketserver
import sys
import threading
from typing import Any

from vlarl.envs.service import METHODS, EnvService
from vlarl.envs.wire import DEFAULT_MAX_BYTES, PROTOCOL_VERSION, Channel, PeerClosed, WireError, error_reply
from vlarl.envs.worker import call_method

HANDSHAKE_TIMEOUT_S = 10.0


def _log(text: str) -> None:
    print(f"vlarl env-server: {text}", file=sys.stderr, flush=True)


def check_hello(hello: Any, token: str, env_name: str) -> None:
    """Raise a named WireError unless ``hello`` is a well-formed greeting with the right version and token."""
    if not isinstance(hello, dict) or hello.get("op") != "hello":
        raise WireError("malformed_message", "the first message must be {'op': 'hello', ...}.")
    if hello.get("protocol") != PROTOCOL_VERSION:
        raise WireError(
            "version_mismatch",
            f"the client speaks env protocol {hello.get('protocol')!r} (vlarl {hello.get('vlarl')}), this server "
            f"{PROTOCOL_VERSION}.",
            "Install the same vlarl version on both machines.",
        )
    given = hello.get("token")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), token.encode()):
        raise WireError("bad_token", "the token does not match.", "Set VLARL_ENV_TOKEN to the server's token.")
    wanted = hello.get("env")
    if wanted not in (None, env_name):
        raise WireError(
            "wrong_env", f"the client asks for env '{wanted}', this server serves '{env_name}'.", "Check env.name."
        )


class _Handler(socketserver.BaseRequestHandler):
    server: EnvTCPServer

    def handle(self) -> None:
        srv = self.server
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        channel = Channel(self.request, srv.max_bytes)
        service: EnvService | None = None
        try:
            check_hello(channel.recv(HANDSHAKE_TIMEOUT_S), srv.token, srv.env_name)
            service = EnvService(srv.env_name, srv.section)
            channel.send({"ok": {**service.info(), "protocol": PROTOCOL_VERSION}})
            _log(f"serving {peer}")
            self._serve(channel, service)
        except PeerClosed:
            pass
        except (WireError, TimeoutError) as exc:
            code = getattr(exc, "code", "timeout")
            _log(f"dropped {peer}: [{code}] {getattr(exc, 'detail', exc)}")
            self._try_send(
                channel, error_reply(exc) if isinstance(exc, WireError) else {"error": code, "problem": str(exc)}
            )
        except Exception as exc:  # the env failed to build: the client hears why
            _log(f"env for {peer} failed: {type(exc).__name__}: {exc}")
            self._try_send(channel, error_reply(exc))
        finally:
            if service is not None:
                try:
                    service.close()
                except Exception as exc:
                    _log(f"closing the env of {peer} failed: {exc}")
            channel.close()

    @staticmethod
    def _try_send(channel: Channel, reply: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):
            channel.send(reply, timeout=5.0)

    def _serve(self, channel: Channel, service: EnvService) -> None:
        while True:
            msg = channel.recv(None)  # a malformed frame raises WireError: the connection is dropped
            if isinstance(msg, dict) and msg.get("op") == "close":
                channel.send({"ok": None})
                return
            if not isinstance(msg, dict) or msg.get("op") != "call":
                raise WireError("malformed_message", "a request must be {'op': 'call' | 'close', ...}.")
            try:
                reply = {"ok": call_method(service, msg, METHODS)}
            except WireError:
                raise
            except Exception as exc:
                reply = error_reply(exc)
            channel.send(reply)


class EnvTCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], env_name: str, section: dict[str, Any], token: str,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:  # fmt: skip
        self.env_name = env_name
        self.section = section
        self.token = token
        self.max_bytes = max_bytes
        super().__init__(address, _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def start_in_thread(server: EnvTCPServer) -> threading.Thread:
    """For tests and notebooks: serve in a daemon thread (``server.shutdown()`` stops it)."""
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="vlarl-env-server")
    thread.start()
    return thread


def serve_config(cfg: Any, listen: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """``vlarl env-server``: validate the config's env section, then serve it on ``listen`` until interrupted."""
    from omegaconf import OmegaConf

    from vlarl.envs.client import parse_address, read_token
    from vlarl.errors import ConfigError
    from vlarl.plugins.build import resolve

    env = cfg.get("env")
    if env is None or "name" not in env:
        raise ConfigError("The config has no env.name to serve.", "Add an 'env:' section with 'name: <plugin>'.")
    section = OmegaConf.to_container(env, resolve=True)
    name = str(section.pop("name"))
    section.pop("runtime", None)  # the server runs the env itself
    resolve("env", name, section)  # a bad setting fails here, not at the first client
    token = read_token(role="server")
    host, port = parse_address(listen, "--listen")
    server = EnvTCPServer((host, port), name, section, token, max_bytes)
    if host not in ("127.0.0.1", "localhost", "::1"):
        _log(f"warning: listening on {host}: the token and observations cross the network unencrypted; "
             "prefer 127.0.0.1 with an SSH tunnel on untrusted networks")  # fmt: skip
    # The exact line tests and scripts wait for (the port matters with --listen HOST:0).
    print(f"vlarl env-server: serving env '{name}' on {host}:{server.port} (protocol {PROTOCOL_VERSION})", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
