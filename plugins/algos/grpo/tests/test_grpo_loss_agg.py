"""algorithm.loss_agg_func: token-mean (every log-prob entry weighs the same) vs seq-mean-token-mean (every
trajectory does), on real CartPole rollouts whose first episodes end at different times."""

from __future__ import annotations

import pytest
import torch

from vlarl.errors import ConfigError
from vlarl.rl.losses import mask_like
from vlarl.runner.rollout import collect_rollout
from vlarl_grpo.advantages import first_episode_mask
from vlarl_grpo.algorithm import GRPO, trajectory_lengths, trajectory_weights
from vlarl_grpo.register import GRPOConfig


def test_trajectory_weights_are_mean_length_over_length() -> None:
    lp_mask = torch.tensor([[1, 1, 0], [1, 1, 0], [0, 1, 0], [0, 1, 0]], dtype=torch.bool)  # [T=4, N=3]
    lengths = trajectory_lengths(lp_mask)
    assert lengths.tolist() == [2.0, 4.0, 0.0]
    assert trajectory_weights(lengths, 3.0).tolist() == [1.5, 0.75, 0.0]


def test_unknown_aggregation_is_named() -> None:
    with pytest.raises(ConfigError, match="loss_agg_func='sum'"):
        GRPO(GRPOConfig(group_size=2, loss_agg_func="sum"))


def _first_loss(make_env, make_policy, agg: str) -> tuple[float, torch.Tensor, torch.Tensor]:
    """The surrogate of one full-batch step at ratio 1 (= -mean of the aggregated advantages), with the
    rollout's per-trajectory advantages and lengths."""
    torch.manual_seed(0)
    env = make_env(num_envs=8, max_episode_steps=60)
    policy = make_policy(env, num_action_chunks=2)
    algo = GRPO(GRPOConfig(group_size=4, update_epochs=1, num_minibatches=1, loss_agg_func=agg, lr=1e-9))
    algo.setup(policy)
    obs, _ = env.reset(seed=3, options=algo.reset_options())
    buf, _, _ = collect_rollout(env, policy, obs, 30)
    algo.compute_advantages(buf)
    per_chunk = algo._rollout[2]  # [T, N]: GRPO's episode advantage repeats one value per trajectory
    assert torch.equal(per_chunk, per_chunk[:1].expand_as(per_chunk))
    advantages = per_chunk[0].clone()
    lp_mask = mask_like(first_episode_mask(buf.valid, buf.dones), buf.log_probs.float())
    loss = algo.update(policy, buf)["actor/policy_loss"]
    env.close()
    return loss, advantages, trajectory_lengths(lp_mask)


def test_seq_mean_weighs_every_trajectory_equally(make_env, make_policy) -> None:
    token, adv, lengths = _first_loss(make_env, make_policy, "token-mean")
    seq, adv2, lengths2 = _first_loss(make_env, make_policy, "seq-mean-token-mean")
    assert torch.equal(adv, adv2) and torch.equal(lengths, lengths2)  # the same rollout both times
    assert len(set(lengths.tolist())) > 1, "the test needs first episodes of different lengths"
    # At ratio 1 the clipped surrogate of entry (t, n) is -A_n.
    assert token == pytest.approx(float(-(lengths * adv).sum() / lengths.sum()), abs=1e-5)
    assert seq == pytest.approx(float(-adv.mean()), abs=1e-5)
    assert abs(token - seq) > 1e-3
