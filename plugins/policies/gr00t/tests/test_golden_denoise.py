"""Golden fixture, action side: timestep buckets, velocity, the Euler chain, actions and env actions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from golden_io import ATOL, golden_policy, golden_replay, max_diff, reference

from vlarl_gr00t.action_head import timestep_bucket
from vlarl_gr00t.policy import Gr00tPolicy


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    return reference()


@pytest.fixture(scope="module")
def policy() -> Gr00tPolicy:
    return golden_policy()


@pytest.fixture(scope="module")
def enc(policy: Gr00tPolicy, ref: dict[str, np.ndarray]) -> dict:
    with torch.no_grad():
        return policy.encode(golden_replay(ref))


@pytest.fixture(scope="module")
def chain(policy: Gr00tPolicy, enc: dict, ref: dict[str, np.ndarray]) -> torch.Tensor:
    with torch.no_grad():
        return policy.integrate(enc, torch.from_numpy(ref["init_noise"]))


def test_default_step_count_is_the_checkpoints(policy: Gr00tPolicy, ref: dict[str, np.ndarray]) -> None:
    assert policy.num_steps == 6 == ref["denoise_chain"].shape[0] - 1  # config.json: num_inference_timesteps 6


def test_timestep_buckets(ref: dict[str, np.ndarray]) -> None:
    got = timestep_bucket(torch.from_numpy(ref["velocity_step"]), 6, 1000)
    assert got.tolist() == ref["velocity_timestep"].tolist()  # 166, 666
    # Every bucket of a few step counts, against upstream's Python expression int(t / float(K) * 1000).
    for k_max in (3, 4, 6, 7, 10, 16):
        expected = [int(t / float(k_max) * 1000) for t in range(k_max)]
        assert timestep_bucket(torch.arange(k_max), k_max, 1000).tolist() == expected


def test_velocity_at_stored_steps(policy: Gr00tPolicy, enc: dict, ref: dict[str, np.ndarray]) -> None:
    for i, step in enumerate(ref["velocity_step"].tolist()):
        x = torch.from_numpy(ref["denoise_chain"][step])
        with torch.no_grad():
            v, _ = policy.velocity(x, torch.full((2,), step), enc)
        assert max_diff(v, ref["velocity"][i]) <= ATOL, f"step {step}"


def test_denoise_chain(chain: torch.Tensor, ref: dict[str, np.ndarray]) -> None:
    assert max_diff(chain.transpose(0, 1), ref["denoise_chain"]) <= ATOL


def test_actions_after_the_checkpoints_six_steps(chain: torch.Tensor, ref: dict[str, np.ndarray]) -> None:
    assert max_diff(chain[:, -1], ref["actions"]) <= ATOL
    assert np.abs(ref["actions"][..., :4]).max() > 1.0  # the unclipped range matters below


def test_env_actions_are_not_clipped(policy: Gr00tPolicy, chain: torch.Tensor, ref: dict[str, np.ndarray]) -> None:
    assert max_diff(policy.to_env_actions(torch.from_numpy(ref["actions"])), ref["env_actions"]) <= ATOL
    assert max_diff(policy.to_env_actions(chain[:, -1]), ref["env_actions"]) <= ATOL
