"""env.runtime: sub-envs in worker processes and behind `vlarl env-server`, equal to the env in-process;
dead or hung workers and servers are restarted and their episodes counted failed; bad clients are refused."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path

import msgpack
import numpy as np
import pytest

from vlarl.envs.client import TcpLink
from vlarl.envs.runtime import RuntimeConfig, RuntimeEnvConfig, make_runtime_env
from vlarl.envs.server import EnvTCPServer, start_in_thread
from vlarl.envs.wire import EXT_INLINE, HEADER, PROTOCOL_VERSION, Channel, WireError
from vlarl.errors import ConfigError, ContractError, VlarlError
from vlarl.plugins.build import build_env
from vlarl.testing import check_env

pytest.importorskip("vlarl_gymnasium")
pytestmark = pytest.mark.slow  # every test starts worker or server processes
TOKEN = "test-token-3f9a"
SECTION = {"env_id": "CartPole-v1", "num_envs": 4}


def rollout(env, chunks: int = 12, c: int = 4, seed: int = 5) -> list[np.ndarray]:
    """Everything a run reads from the env, chunk by chunk, at a fixed action sequence."""
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(0)
    out = [obs["states"]]
    for _ in range(chunks):
        step = env.chunk_step(rng.integers(0, 2, (env.num_envs, c, 1)).astype(np.float32))
        ep = step.infos["episode"]
        out += [step.observations["states"], step.rewards, step.valid, step.truncations, step.infos["done"]]
        out += [ep["return"], ep["episode_len"], step.infos["final_observation"]["states"]]
    return out


def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.fixture(scope="module")
def reference() -> list[np.ndarray]:
    env = build_env("gymnasium", SECTION)
    try:
        return rollout(env)
    finally:
        env.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_in_this_interpreter_equal_the_env_in_process(workers: int, reference) -> None:
    env = build_env("gymnasium", {**SECTION, "runtime": {"workers": workers}})
    try:
        assert env.num_envs == 4 and len(set(env.worker_pids)) == workers
        assert same(rollout(env), reference)
        assert env.observation_spec.states == (4,) and env.action_spec.dims[0].kind == "discrete"
    finally:
        env.close()


def test_images_come_through_shared_memory_and_the_kit_passes() -> None:
    section = {**SECTION, "num_envs": 3, "render_images": True, "image_size": 96}  # 83 KB: over the 64 KB threshold
    local = build_env("gymnasium", section)
    remote = build_env("gymnasium", {**section, "runtime": {}})
    try:
        a, _ = local.reset(seed=1)
        b, _ = remote.reset(seed=1)
        assert b["images"].shape == (3, 3, 96, 96) and np.array_equal(a["images"], b["images"])
        act = np.zeros((3, 2, 1), dtype=np.float32)
        for _ in range(3):  # the second reply on goes through the arena the host grew from the first
            x, y = local.chunk_step(act), remote.chunk_step(act)
            assert np.array_equal(x.observations["images"], y.observations["images"])
        assert remote.links[0].arena is not None
    finally:
        local.close()
        remote.close()
    # The kit on states only (CartPole's renderer is slow on a shared CPU); images are checked above.
    report = check_env(lambda: build_env("gymnasium", {**SECTION, "runtime": {}}), chunk_len=3, name="remote")
    report.raise_if_failed()


def test_killed_and_hung_workers_restart_and_their_episodes_end_failed() -> None:
    env = build_env("gymnasium", {**SECTION, "runtime": {"workers": 2, "step_timeout_s": 3}})
    try:
        env.reset(seed=0)
        act = np.zeros((4, 3, 1), dtype=np.float32)
        env.chunk_step(act)
        old = env.worker_pids
        os.kill(old[0], signal.SIGKILL)
        os.kill(old[1], signal.SIGSTOP)
        out = env.chunk_step(act)
        assert out.infos["env_failed"].tolist() == [True] * 4
        errors = "\n".join(out.infos["worker_errors"])
        assert "worker 0: process died" in errors and "worker 1: no answer within 3 s" in errors, errors
        assert out.truncations[:, 0].all() and out.valid[:, 0].all() and not out.valid[:, 1:].any()
        assert out.infos["done"].all() and not out.infos["episode"]["success_once"].any()
        assert out.infos["episode"]["episode_len"].tolist() == [4] * 4  # 3 seen + the lost sub-step
        assert env.restarts == 2 and all(p not in old for p in env.worker_pids)
        out = env.chunk_step(act)  # the run goes on
        assert out.valid[:, 0].all() and not out.infos["env_failed"].any() and "worker_errors" not in out.infos
    finally:
        for pid in old:  # the stopped one, should the test fail before the restart
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        env.close()


def test_a_bad_setting_in_the_worker_is_a_config_error_not_a_crash() -> None:
    with pytest.raises(ConfigError, match="NoSuchEnv"):
        build_env("gymnasium", {"env_id": "NoSuchEnv-v0", "runtime": {}})


def test_a_missing_interpreter_and_bad_runtime_settings_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"runtime\.python"):
        build_env("gymnasium", {**SECTION, "runtime": {"python": str(tmp_path / "nope" / "python")}})
    with pytest.raises(ConfigError, match="host:port"):
        build_env("gymnasium", {**SECTION, "runtime": {"address": "localhost"}})
    with pytest.raises(ConfigError, match="both python and address"):
        build_env("gymnasium", {**SECTION, "runtime": {"address": "127.0.0.1:1", "python": sys.executable}})
    with pytest.raises(ConfigError, match=r"env\.runtime\.wrokers"):
        build_env("gymnasium", {**SECTION, "runtime": {"wrokers": 2}})


def test_an_interpreter_without_vlarl_is_named_with_the_fix(tmp_path: Path) -> None:
    bare = tmp_path / "python"
    bare.write_text('#!/bin/sh\nexec /usr/bin/env -i /usr/bin/python3 -I "$@"\n')
    bare.chmod(0o755)
    with pytest.raises(VlarlError, match="pip install") as info:
        build_env("gymnasium", {**SECTION, "runtime": {"python": str(bare), "startup_timeout_s": 60}})
    assert "process died" in str(info.value)


# ---------------------------------------------------------------------------------------------- TCP
@pytest.fixture
def server():
    srv = EnvTCPServer(("127.0.0.1", 0), "gymnasium", dict(SECTION), TOKEN)
    start_in_thread(srv)
    yield srv
    srv.shutdown()
    srv.server_close()


def tcp_env(port: int, monkeypatch: pytest.MonkeyPatch, token: str = TOKEN, **rt):
    monkeypatch.setenv("VLARL_ENV_TOKEN", token)
    return build_env("gymnasium", {"runtime": {"address": f"127.0.0.1:{port}", "connect_timeout_s": 5, **rt}})


def test_an_env_server_on_localhost_equals_the_env_in_process(server, reference, monkeypatch) -> None:
    env = tcp_env(server.port, monkeypatch)
    try:
        assert env.env_info["name"] == "gymnasium" and env.num_envs == 4
        assert same(rollout(env), reference)
    finally:
        env.close()


def refused(port: int, send: bytes) -> str:
    """Send raw bytes as a client would; return the error code the server answers with."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(send)
        sock.shutdown(socket.SHUT_WR)
        channel = Channel(sock)
        reply = channel.recv(10)
        while "ok" in reply:  # the hello was fine; the refusal answers a later frame
            reply = channel.recv(10)
    return reply["error"]


def hello(**over) -> dict:
    return {"op": "hello", "protocol": PROTOCOL_VERSION, "vlarl": "0", "token": TOKEN, "env": None, **over}


def frame(message: dict, data: bytes = b"") -> bytes:
    body = msgpack.packb(message)
    pad = -(HEADER.size + len(body)) % 64
    return HEADER.pack(len(body) + pad + len(data), len(body)) + body + b"\0" * pad + data


def test_bad_clients_are_refused_by_name_and_the_server_goes_on(server, monkeypatch) -> None:
    def call(actions_ext) -> bytes:
        return frame({"op": "call", "method": "chunk_step", "args": [actions_ext]}, b"\0" * 16)

    ext = msgpack.ExtType(EXT_INLINE, msgpack.packb(["<f4", [4, 2, 1], 0, 12]))  # 8 floats need 32 bytes
    bad_dtype = msgpack.ExtType(EXT_INLINE, msgpack.packb(["|O", [2], 0, 16]))
    cases = {
        "bad_token": frame(hello(token="wrong")),
        "version_mismatch": frame(hello(protocol=PROTOCOL_VERSION + 1)),
        "wrong_env": frame(hello(env="libero")),
        "truncated_message": struct.pack("!II", 1000, 10) + b"\0" * 100,
        "message_too_large": struct.pack("!II", 2**31, 10),
        "array_mismatch": frame(hello()) + call(ext),
        "bad_dtype": frame(hello()) + call(bad_dtype),
        "malformed_message": frame(hello()) + frame({"op": "dance"}),
    }
    for code, data in cases.items():
        assert refused(server.port, data) == code
    env = tcp_env(server.port, monkeypatch)  # a good client is still served
    try:
        obs, _ = env.reset(seed=0)
        assert obs["states"].shape == (4, 4)
    finally:
        env.close()


def test_a_wrong_token_is_a_named_error_for_the_host(server, monkeypatch) -> None:
    with pytest.raises(WireError, match="bad_token"):
        tcp_env(server.port, monkeypatch, token="nope")


def test_a_served_env_refuses_private_methods_and_passes_env_errors_back(server) -> None:
    def link() -> TcpLink:
        out = TcpLink(0, f"127.0.0.1:{server.port}", TOKEN, None, 5)
        out.start()
        out.wait_ready(30)
        return out

    bad, good = link(), link()
    try:
        with pytest.raises(WireError, match="unknown_method"):  # and that connection is dropped
            bad.call("_close", timeout=10)
        with pytest.raises(ContractError, match="before reset"):  # an env's own error, as it is
            good.call("chunk_step", np.zeros((1, 1, 1), dtype=np.float32), timeout=10)
    finally:
        bad.close()
        good.close()


def test_the_token_env_var_is_required_on_the_host(monkeypatch) -> None:
    monkeypatch.delenv("VLARL_ENV_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="VLARL_ENV_TOKEN"):
        make_runtime_env(RuntimeEnvConfig("gymnasium", {}, RuntimeConfig(address="127.0.0.1:9")))


# ------------------------------------------------------------------------- a server killed mid-rollout
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(config: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "VLARL_ENV_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vlarl.cli", "env-server", str(config), "--listen", f"127.0.0.1:{port}"],
        env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = proc.stdout.readline()
    assert "serving env 'gymnasium'" in line, line
    return proc


def test_a_killed_server_is_reconnected_after_its_restart_and_episodes_count_failed(tmp_path, monkeypatch) -> None:
    config = tmp_path / "serve.yaml"
    config.write_text("env:\n  name: gymnasium\n  env_id: CartPole-v1\n  num_envs: 4\n")
    port = free_port()
    proc = start_server(config, port)
    env = None
    try:
        env = tcp_env(port, monkeypatch, connect_timeout_s=30, step_timeout_s=10)
        env.reset(seed=0)
        act = np.zeros((4, 2, 1), dtype=np.float32)
        env.chunk_step(act)
        proc.kill()
        proc.wait()
        proc = start_server(config, port)  # a supervisor (or the user) starts it again
        out = env.chunk_step(act)
        assert out.infos["env_failed"].all() and out.infos["done"].all() and out.truncations[:, 0].all()
        assert "connection lost" in "\n".join(out.infos["worker_errors"])
        assert env.restarts == 1
        out = env.chunk_step(act)
        assert not out.infos["env_failed"].any() and out.valid[:, 0].all()
    finally:
        if env is not None:
            env.close()
        proc.kill()
        proc.wait()


def test_plugins_and_doctor_list_envs_reachable_through_a_runtime(server, monkeypatch, capsys) -> None:
    from vlarl.cli import main

    monkeypatch.setenv("VLARL_ENV_TOKEN", TOKEN)
    assert main(["plugins", "--kind", "env", "--runtime", sys.executable, "--runtime", f"127.0.0.1:{server.port}"]) == 0
    out = capsys.readouterr().out
    assert f"reachable through env.runtime.python={sys.executable}" in out
    assert f"served by 127.0.0.1:{server.port} (num_envs=4)" in out
    assert f"runtime env.runtime.python={sys.executable}: Python" in out
    assert main(["doctor", "--runtime", f"127.0.0.1:{free_port()}"]) == 1  # nothing listens there
    out = capsys.readouterr().out
    assert "cannot be reached" in out and "[!!]" in out
