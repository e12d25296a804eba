"""GRPO on real rollouts: conformance, config errors, and learning from shared initial states."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from vlarl.errors import ConfigError
from vlarl.plugins.build import build_algo
from vlarl.runner.rollout import collect_rollout
from vlarl.testing import check_algorithm
from vlarl_grpo.algorithm import GRPO, NonFiniteLossError
from vlarl_grpo.register import GRPOConfig


def test_conformance_kit_passes(make_env, make_policy) -> None:
    # Chunks of 8 sub-steps: the kit's 8 chunks then hold whole CartPole episodes, so returns differ within
    # groups. (With unfinished episodes every return ties, the advantages are 0 and GRPO rightly changes nothing.)
    report = check_algorithm(
        lambda: GRPO(GRPOConfig(group_size=2, lr=1e-3)),
        lambda env: make_policy(env, num_action_chunks=8),
        make_env,
        name="grpo",
    )
    report.raise_if_failed()


def test_built_from_config_and_bad_keys_named() -> None:
    algo = build_algo("grpo", {"group_size": 4, "filter_equal_returns": True})
    assert isinstance(algo, GRPO) and algo.cfg.group_size == 4
    with pytest.raises(ConfigError, match="value_loss_coef"):  # a value-only (PPO) key
        build_algo("grpo", {"value_loss_coef": 0.5})


def test_register_module_is_light() -> None:
    code = "import sys, vlarl_grpo.register; print('torch' in sys.modules, 'vlarl_ppo' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_nan_loss_stops_before_the_step(make_env, make_policy) -> None:
    env = make_env()
    policy = make_policy(env)
    algo = GRPO(GRPOConfig(group_size=2))
    algo.setup(policy)
    obs, _ = env.reset(seed=0, options=algo.reset_options())
    buf, _, _ = collect_rollout(env, policy, obs, 30)
    algo.compute_advantages(buf)
    evaluate = policy.evaluate

    def broken(replay):
        out = evaluate(replay)
        out.log_probs = out.log_probs + float("inf")
        return out

    policy.evaluate = broken
    before = [p.detach().clone() for p in policy.parameters()]
    with pytest.raises(NonFiniteLossError, match="actor/"):
        algo.update(policy, buf)
    assert all(torch.equal(a, b) for a, b in zip(before, policy.parameters()))


@pytest.mark.slow
def test_grpo_raises_return_from_shared_initial_states(make_env, make_policy) -> None:
    """CartPole is deterministic given its start: each group of G replays one start with G sampled behaviours."""
    torch.manual_seed(0)
    limit, chunk = 100, 4
    env = make_env(num_envs=16, max_episode_steps=limit)
    policy = make_policy(env, num_action_chunks=chunk)
    algo = GRPO(GRPOConfig(group_size=8, lr=3e-3, update_epochs=4, num_minibatches=2, seed=0))
    algo.setup(policy)
    returns = []
    for it in range(12):
        obs, _ = env.reset(seed=1000 + it, options=algo.reset_options())
        # Enough chunks for every first episode to end (the time limit included).
        buf, _, _ = collect_rollout(env, policy, obs, limit // chunk)
        metrics = algo.compute_advantages(buf)
        assert metrics["rollout/unfinished_episodes"] == 0
        returns.append(metrics["rollout/returns_mean"])
        update = algo.update(policy, buf)
        assert all(math.isfinite(v) for v in update.values())
    env.close()
    start, end = np.mean(returns[:3]), np.mean(returns[-3:])
    assert end > 2.0 * start and end > 60, (start, end, returns)
