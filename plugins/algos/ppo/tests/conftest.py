"""Real env (gymnasium plugin) and policy (mlp plugin) builders for the PPO tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("vlarl_gymnasium", reason="the PPO integration tests run on the gymnasium env plugin")
pytest.importorskip("vlarl_mlp", reason="the PPO integration tests run with the mlp policy plugin")

from vlarl.plugins.build import build_env, build_policy


@pytest.fixture
def make_env() -> Callable[..., Any]:
    def make(env_id: str = "CartPole-v1", num_envs: int = 4, **kw: Any) -> Any:
        return build_env("gymnasium", {"env_id": env_id, "num_envs": num_envs, **kw})

    return make


@pytest.fixture
def make_policy() -> Callable[..., Any]:
    def make(env: Any, **kw: Any) -> Any:
        return build_policy("mlp", kw, env.observation_spec, env.action_spec)

    return make


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Small MLPs run fastest on one thread, and CI has two cores to share; restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
