"""Clipped surrogate, dual clip, value clipping, masked statistics and shape broadcasting."""

from __future__ import annotations

import math

import pytest
import torch

from vlarl.rl.losses import broadcast_to, clipped_policy_loss, mask_like, masked_mean, masked_normalize
from vlarl_ppo.losses import explained_variance, value_loss


def loss_and_grad(ratio: float, adv: float, low=0.2, high=0.3, c=None) -> tuple[float, float, float]:
    lp = torch.tensor([math.log(ratio)], requires_grad=True)
    loss, stats = clipped_policy_loss(
        lp, torch.zeros(1), torch.tensor([adv]), torch.ones(1, dtype=torch.bool), low, high, c
    )
    loss.backward()
    return float(loss.detach()), float(lp.grad), float(stats["pg_clipfrac"])


@pytest.mark.parametrize(
    ("ratio", "adv", "expected_loss", "clipped"),
    [
        (1.1, 1.0, -1.1, False),  # inside the trust region
        (1.5, 1.0, -1.3, True),  # above 1 + high with A > 0: clipped at 1.3 (high clip, not low)
        (0.5, 1.0, -0.5, False),  # below 1 - low with A > 0: the pessimistic unclipped term wins
        (0.5, -1.0, 0.8, True),  # below 1 - low with A < 0: clipped at 0.8
        (1.5, -1.0, 1.5, False),  # above with A < 0: unclipped (no dual clip)
    ],
)
def test_ratio_clipping_uses_separate_low_and_high(ratio, adv, expected_loss, clipped) -> None:
    loss, grad, frac = loss_and_grad(ratio, adv)
    assert loss == pytest.approx(expected_loss, abs=1e-6)
    assert frac == float(clipped)
    assert (grad == 0.0) == clipped  # clipped samples pass no gradient


def test_dual_clip_caps_negative_advantage_loss() -> None:
    loss, grad, frac = loss_and_grad(10.0, -2.0, c=3.0)
    assert loss == pytest.approx(6.0)  # -A * c instead of -A * ratio = 20
    assert grad == 0.0 and frac == 1.0
    loss, grad, _ = loss_and_grad(2.0, -2.0, c=3.0)  # below the cap: unchanged
    assert loss == pytest.approx(4.0) and grad != 0.0
    loss, _, _ = loss_and_grad(10.0, 2.0, c=3.0)  # positive advantages are untouched by the dual clip
    assert loss == pytest.approx(-2.0 * 1.3)


def test_value_clipping_takes_the_pessimistic_loss() -> None:
    old = torch.tensor([0.0, 0.0, 0.0])
    ret = torch.tensor([1.0, 1.0, -1.0])
    new = torch.tensor([0.5, 0.1, 0.5], requires_grad=True)
    mask = torch.ones(3, dtype=torch.bool)
    loss, frac = value_loss(new, old, ret, mask, clip=0.2)
    # clipped values: 0.2, 0.1, 0.2 -> elementwise max of (v - R)^2 and (v_clip - R)^2
    expected = (max(0.25, 0.64) + max(0.81, 0.81) + max(2.25, 1.44)) / 3
    assert float(loss.detach()) == pytest.approx(expected)
    assert float(frac) == pytest.approx(1 / 3)
    loss.backward()
    assert new.grad[0] == 0.0 and new.grad[2] != 0.0  # the clipped branch passes no gradient
    unclipped, frac0 = value_loss(new, old, ret, mask, clip=None)
    assert float(unclipped.detach()) == pytest.approx((0.25 + 0.81 + 2.25) / 3) and float(frac0) == 0.0


def test_huber_value_loss_is_linear_beyond_delta() -> None:
    v, r, m = torch.tensor([0.0]), torch.tensor([5.0]), torch.ones(1, dtype=torch.bool)
    loss, _ = value_loss(v, v, r, m, clip=None, kind="huber", huber_delta=1.0)
    assert float(loss) == pytest.approx(1.0 * (5.0 - 0.5))


def test_masked_statistics_ignore_invalid_entries() -> None:
    x = torch.tensor([1.0, 3.0, float("nan"), 1e9])
    mask = torch.tensor([True, True, False, False])
    assert float(masked_mean(x, mask)) == 2.0
    z = masked_normalize(x, mask)
    assert torch.isfinite(z).all() and z[2:].eq(0).all()
    assert float(z[:2].mean()) == pytest.approx(0.0) and float(z[:2].std()) == pytest.approx(1.0, rel=1e-4)
    lp = torch.zeros(4, requires_grad=True)
    adv = torch.tensor([1.0, 1.0, float("nan"), 1e9])
    loss, _ = clipped_policy_loss(lp, torch.zeros(4), adv, mask, 0.2, 0.2)
    loss.backward()
    assert float(loss.detach()) == -1.0 and torch.isfinite(lp.grad).all() and lp.grad[2:].eq(0).all()
    ev = explained_variance(torch.tensor([1.0, 2.0, 5.0, 0.0]), torch.tensor([1.0, 2.0, 99.0, 7.0]), mask)
    assert ev == pytest.approx(1.0)


def test_broadcasting_to_each_logprob_granularity() -> None:
    valid = torch.tensor([[[True, True, False]]])  # [T=1, N=1, C=3]
    adv = torch.tensor([[2.0]])  # chunk-level advantage [T, N]
    chunk_lp, action_lp, token_lp = torch.zeros(1, 1), torch.zeros(1, 1, 3), torch.zeros(1, 1, 3, 7)
    assert mask_like(valid, chunk_lp).tolist() == [[True]]
    assert mask_like(valid, action_lp).tolist() == valid.tolist()
    assert mask_like(valid, token_lp).shape == (1, 1, 3, 7) and not mask_like(valid, token_lp)[0, 0, 2].any()
    assert broadcast_to(adv, token_lp).eq(2.0).all()
    per_step = torch.tensor([[[3.0, 2.0, 0.0]]])
    assert broadcast_to(per_step, chunk_lp).tolist() == [[3.0]]  # the chunk's first sub-step
    assert broadcast_to(per_step, token_lp)[0, 0, :, 0].tolist() == [3.0, 2.0, 0.0]


def test_value_loss_gradient_stays_finite_with_garbage_in_invalid_entries() -> None:
    new = torch.tensor([0.5, float("nan")], requires_grad=True)
    old = torch.tensor([0.0, float("inf")])
    ret = torch.tensor([1.0, 0.0])
    loss, _ = value_loss(new, old, ret, torch.tensor([True, False]), clip=0.2)
    loss.backward()
    assert float(loss.detach()) == pytest.approx(0.64) and torch.isfinite(new.grad).all()


def test_no_mask_means_all_valid_with_identical_values_and_gradients() -> None:
    """mask=None (the fast path PPO takes when no episode ends inside a chunk) equals an all-true mask."""
    g = torch.Generator().manual_seed(0)
    lp_new = torch.randn(32, 4, generator=g)
    lp_old, adv = torch.randn(32, 4, generator=g), torch.randn(32, 4, generator=g)
    v_new, v_old, ret = (torch.randn(32, generator=g) for _ in range(3))
    ones_lp, ones_v = torch.ones(32, 4, dtype=torch.bool), torch.ones(32, dtype=torch.bool)

    def run(lp_mask, v_mask):
        lp, v = lp_new.clone().requires_grad_(), v_new.clone().requires_grad_()
        norm = masked_normalize(adv, lp_mask)
        pg, stats = clipped_policy_loss(lp, lp_old, norm, lp_mask, 0.2, 0.28, 3.0)
        vl, vclip = value_loss(v, v_old, ret, v_mask, clip=0.2)
        ent = masked_mean(lp, lp_mask)
        (pg + vl - 0.01 * ent).backward()
        return [pg, vl, vclip, ent, stats["approx_kl"], stats["pg_clipfrac"], norm, lp.grad, v.grad]

    for fast, masked in zip(run(None, None), run(ones_lp, ones_v)):
        torch.testing.assert_close(fast.detach(), masked.detach())
