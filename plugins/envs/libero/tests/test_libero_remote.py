"""LIBERO behind `vlarl env-server` on 127.0.0.1 (env.runtime.address) passes the conformance kit."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from vlarl.envs.server import EnvTCPServer, start_in_thread
from vlarl.plugins.build import build_env
from vlarl.testing import check_env

pytestmark = pytest.mark.slow
TOKEN = "libero-remote-test"
SECTION = {"suite": "libero_spatial", "task_ids": [0], "num_envs": 2, "num_settle_steps": 3, "max_episode_steps": 6}


@pytest.fixture(scope="module")
def server() -> Iterator[EnvTCPServer]:
    srv = EnvTCPServer(("127.0.0.1", 0), "libero", dict(SECTION), TOKEN)
    start_in_thread(srv)
    yield srv
    srv.shutdown()
    srv.server_close()


def test_libero_through_an_env_server_passes_the_kit(server: EnvTCPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLARL_ENV_TOKEN", TOKEN)
    section = {"runtime": {"address": f"127.0.0.1:{server.port}"}}
    env = build_env("libero", section)
    try:
        obs, _ = env.reset(seed=0)
        assert obs["images"].shape == (2, 3, 128, 128) and obs["images"].dtype == np.uint8
        assert env.env_info["distribution"] == "vlarl-libero" and env.action_spec.gripper == "close_positive"
        out = env.chunk_step(np.zeros((2, 2, 7), dtype=np.float32))
        assert "reset_state_ids" in out.infos and not out.infos["env_failed"].any()
    finally:
        env.close()
    check_env(lambda: build_env("libero", section), chunk_len=2, name="libero via env-server").raise_if_failed()
