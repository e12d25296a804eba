"""Learning test: PPO + the mlp policy solve CartPole-v1 on the gymnasium env plugin."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlarl.runner.rollout import collect_rollout
from vlarl_ppo.algorithm import PPO
from vlarl_ppo.register import PPOConfig

TOTAL_STEPS = 50_000
N_ENVS, N_CHUNKS = 8, 32


@pytest.mark.slow
def test_ppo_solves_cartpole(make_env, make_policy) -> None:
    seed = 0
    torch.manual_seed(seed)
    env = make_env("CartPole-v1", num_envs=N_ENVS)
    policy = make_policy(env)
    iterations = TOTAL_STEPS // (N_ENVS * N_CHUNKS)
    # Tuned after the rl-zoo CartPole settings (gamma .98, lambda .8, 20 epochs, annealed lr 1e-3).
    algo = PPO(
        PPOConfig(
            gamma=0.98, gae_lambda=0.8, lr=1e-3, lr_anneal_updates=iterations, update_epochs=20,
            num_minibatches=1, value_clip=None, entropy_coef=0.0, max_grad_norm=0.5, seed=seed,
        )
    )  # fmt: skip
    algo.setup(policy)
    obs, _ = env.reset(seed=seed)
    for _ in range(iterations):
        buf, obs, _ = collect_rollout(env, policy, obs, N_CHUNKS)
        algo.compute_advantages(buf)
        algo.update(policy, buf)
    env.close()

    # Greedy evaluation on fresh starts: 8 full episodes (500 steps is CartPole-v1's limit).
    eval_env = make_env("CartPole-v1", num_envs=8)
    obs, _ = eval_env.reset(seed=10_000)
    _, _, episodes = collect_rollout(eval_env, policy, obs, 500, deterministic=True)
    eval_env.close()
    returns = episodes.metrics["return"][:8]
    assert len(returns) == 8
    assert np.mean(returns) >= 475, returns
