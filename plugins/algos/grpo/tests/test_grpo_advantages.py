"""First-episode masks and group advantages against an independent NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlarl.contracts.buffer import RolloutBuffer
from vlarl.contracts.env import ChunkStep
from vlarl.contracts.policy import ActOutput
from vlarl.errors import ConfigError
from vlarl.rl.losses import clipped_policy_loss
from vlarl_grpo.algorithm import GRPO
from vlarl_grpo.register import GRPOConfig


def random_rollout(rng: np.random.Generator, t: int, n: int, c: int, p_end: float = 0.1) -> dict[str, np.ndarray]:
    rewards = np.zeros((t, n, c), np.float32)
    term, trunc, valid = (np.zeros((t, n, c), bool) for _ in range(3))
    for i in range(t):
        for j in range(n):
            for k in range(c):
                valid[i, j, k] = True
                rewards[i, j, k] = rng.integers(0, 3)  # small integers: ties between trajectories happen
                if rng.random() < p_end:
                    (term if rng.random() < 0.5 else trunc)[i, j, k] = True
                    break
    return {"rewards": rewards, "terminations": term, "truncations": trunc, "valid": valid}


def to_buffer(x: dict) -> RolloutBuffer:
    buf = RolloutBuffer()
    t, n, c = x["rewards"].shape
    for i in range(t):
        act = ActOutput(torch.zeros(n, c, 1), torch.zeros(n, c), None, {"states": torch.zeros(n, 2)})
        buf.add(act, ChunkStep({}, x["rewards"][i], x["terminations"][i], x["truncations"][i], x["valid"][i]))
    return buf.finish()


def reference(x: dict, g: int, eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plain loops: first-episode return and mask per sub-env, then per-group z-scores."""
    t, n, c = x["rewards"].shape
    mask = np.zeros((t, n, c), bool)
    ret = np.zeros(n)
    for j in range(n):
        ended = False
        for i in range(t):
            for k in range(c):
                if ended or not x["valid"][i, j, k]:
                    continue
                mask[i, j, k] = True
                ret[j] += x["rewards"][i, j, k]
                if x["terminations"][i, j, k] or x["truncations"][i, j, k]:
                    ended = True
    adv = np.zeros(n)
    for start in range(0, n, g):
        grp = ret[start : start + g]
        adv[start : start + g] = (grp - grp.mean()) / (grp.std(ddof=1) + eps)
    return mask, ret, adv


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_group_advantages_match_reference(seed: int) -> None:
    x = random_rollout(np.random.default_rng(seed), t=9, n=12, c=3)
    algo = GRPO(GRPOConfig(group_size=4, adv_eps=1e-6))
    buf = to_buffer(x)
    metrics = algo.compute_advantages(buf)
    mask, ret, adv = reference(x, 4, 1e-6)
    expected = np.where(mask, adv[None, :, None], 0.0)
    np.testing.assert_allclose(buf.advantages.numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(buf.returns.numpy(), np.where(mask, ret[None, :, None], 0.0), rtol=1e-6)
    assert metrics["rollout/returns_mean"] == pytest.approx(ret.mean(), rel=1e-6)
    assert metrics["rollout/filtered_groups"] == 0.0
    assert metrics["rollout/rewards_mean"] == pytest.approx(x["rewards"][mask].mean(), rel=1e-6)


def test_filtering_equal_and_out_of_bound_groups() -> None:
    # Three groups of two one-step trajectories with returns (1, 1), (0, 2), (5, 7).
    r = np.array([[[1.0], [1.0], [0.0], [2.0], [5.0], [7.0]]], np.float32)
    ends = np.ones((1, 6, 1), bool)
    x = {"rewards": r, "terminations": ends, "truncations": np.zeros_like(ends), "valid": ends}
    cfg = GRPOConfig(group_size=2, filter_equal_returns=True, returns_upper_bound=4.0)
    algo = GRPO(cfg)
    buf = to_buffer(x)
    metrics = algo.compute_advantages(buf)
    assert metrics["rollout/filtered_groups"] == 2.0
    adv = buf.advantages[0, :, 0]
    assert adv[[0, 1, 4, 5]].eq(0).all()
    assert adv[2] < 0 < adv[3]
    assert GRPO(GRPOConfig(group_size=2)).compute_advantages(to_buffer(x))["rollout/filtered_groups"] == 0.0
    low = GRPO(GRPOConfig(group_size=2, returns_lower_bound=2.0)).compute_advantages(to_buffer(x))
    assert low["rollout/filtered_groups"] == 2.0


def test_group_size_must_divide_num_envs() -> None:
    x = random_rollout(np.random.default_rng(0), t=3, n=6, c=2)
    with pytest.raises(ConfigError, match=r"algorithm\.group_size=4.*env\.num_envs=6"):
        GRPO(GRPOConfig(group_size=4)).compute_advantages(to_buffer(x))
    with pytest.raises(ConfigError, match="group_size"):
        GRPO(GRPOConfig(group_size=1))


def test_reset_options_share_initial_states() -> None:
    algo = GRPO(GRPOConfig(group_size=5))
    assert algo.reset_options() == {"group_size": 5} and algo.requires_critic is False


def test_own_clipped_loss_clips_and_dual_clips() -> None:
    lp = torch.log(torch.tensor([1.5, 0.5, 10.0])).requires_grad_()
    adv = torch.tensor([1.0, -1.0, -2.0])
    loss, stats = clipped_policy_loss(lp, torch.zeros(3), adv, torch.ones(3, dtype=torch.bool), 0.2, 0.3, 3.0)
    assert float(loss.detach()) == pytest.approx((-1.3 + 0.8 + 6.0) / 3)
    assert float(stats["pg_clipfrac"]) == 1.0
    loss.backward()
    assert lp.grad.eq(0).all()


def reward_to_go_reference(x: dict, g: int, eps: float, by_std: bool) -> np.ndarray:
    """Plain loops: per chunk, the first episode's rewards from that chunk on, minus the mean of that over the
    group's members whose first episode is still running at that chunk; scaled by those deviations' std."""
    mask = reference(x, g, eps)[0]
    t, n, _ = x["rewards"].shape
    alive = mask.any(-1)
    to_go = np.zeros((t, n))
    for j in range(n):
        for i in range(t):
            to_go[i, j] = (x["rewards"][i:, j] * mask[i:, j]).sum()
    adv = np.zeros((t, n))
    for start in range(0, n, g):
        deviations = []
        for i in range(t):
            running = [j for j in range(start, start + g) if alive[i, j]]
            for j in running:
                adv[i, j] = to_go[i, j] - np.mean([to_go[i, k] for k in running])
                deviations.append(adv[i, j])
        if by_std:
            d = np.array(deviations)
            adv[:, start : start + g] /= np.sqrt((d**2).sum() / max(len(d) - 1, 1)) + eps
    return np.where(mask, adv[:, :, None], 0.0)


@pytest.mark.parametrize("by_std", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reward_to_go_advantages_match_reference(seed: int, by_std: bool) -> None:
    x = random_rollout(np.random.default_rng(seed), t=9, n=12, c=3)
    algo = GRPO(GRPOConfig(group_size=4, advantage="reward_to_go", normalize_by_std=by_std))
    buf = to_buffer(x)
    algo.compute_advantages(buf)
    expected = reward_to_go_reference(x, 4, 1e-6, by_std)
    np.testing.assert_allclose(buf.advantages.numpy(), expected, rtol=1e-5, atol=1e-5)
    if not by_std:  # the first chunk's return-to-go is the whole return: there it is the episode advantage
        episode = GRPO(GRPOConfig(group_size=4, normalize_by_std=False))
        ebuf = to_buffer(x)
        episode.compute_advantages(ebuf)
        np.testing.assert_allclose(buf.advantages[0, :, 0].numpy(), ebuf.advantages[0, :, 0].numpy(), atol=1e-5)


def test_reward_to_go_scale_stays_bounded_when_a_groups_returns_are_equal() -> None:
    # Two members with the same return (2), earned at different chunks: the return std is 0, the deviations
    # are not; dividing by the return std would blow them up by 1/eps.
    r = np.array([[[2.0], [0.0]], [[0.0], [0.0]], [[0.0], [2.0]]], np.float32)
    valid = np.ones((3, 2, 1), bool)
    ends = np.zeros_like(valid)
    ends[2] = True
    x = {"rewards": r, "terminations": ends, "truncations": np.zeros_like(ends), "valid": valid}
    buf = to_buffer(x)
    GRPO(GRPOConfig(group_size=2, advantage="reward_to_go")).compute_advantages(buf)
    assert buf.advantages.abs().max() < 2.0
    assert buf.advantages[1, 1, 0] > 0 > buf.advantages[1, 0, 0]


def test_reward_to_go_credits_a_chunk_only_with_later_rewards() -> None:
    # One group of two, three one-sub-step chunks, equal returns: env 0 earns 2 in chunk 0, env 1 in chunk 2.
    # GRPO's episode advantage is 0 everywhere; the return-to-go ranks env 1's chunks 1-2 above env 0's.
    r = np.array([[[2.0], [0.0]], [[0.0], [0.0]], [[0.0], [2.0]]], np.float32)
    valid = np.ones((3, 2, 1), bool)
    ends = np.zeros_like(valid)
    ends[2] = True
    x = {"rewards": r, "terminations": ends, "truncations": np.zeros_like(ends), "valid": valid}
    buf = to_buffer(x)
    GRPO(GRPOConfig(group_size=2, advantage="reward_to_go", normalize_by_std=False)).compute_advantages(buf)
    np.testing.assert_allclose(buf.advantages[:, :, 0].numpy(), [[0.0, 0.0], [-1.0, 1.0], [-1.0, 1.0]])
    with pytest.raises(ConfigError, match="advantage='gae'"):
        GRPO(GRPOConfig(group_size=2, advantage="gae"))
