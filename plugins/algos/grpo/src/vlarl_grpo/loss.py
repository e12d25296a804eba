"""The clipped surrogate GRPO optimizes, with masked statistics (kept self-contained on purpose)."""

from __future__ import annotations

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.bool()
    return torch.where(mask, x, torch.zeros_like(x)).sum() / mask.sum().clamp(min=1).to(x.dtype)


def expand_mask(mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Sub-step mask [..., C] to the log-probs' shape: [...] (chunk), [..., C] (action), [..., C, K] (token)."""
    extra = target.dim() - mask.dim()
    if extra < 0:
        return mask.any(-1)
    return mask.reshape(*mask.shape, *([1] * extra)).expand_as(target)


def clipped_policy_loss(
    log_probs: torch.Tensor,
    old_log_probs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_low: float,
    clip_high: float,
    clip_c: float | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Token-mean clipped surrogate (low/high clip, optional dual clip), approx_kl and clip fraction."""
    mask = mask.bool()
    log_ratio = torch.where(mask, log_probs - old_log_probs, torch.zeros_like(log_probs))
    adv = torch.where(mask, advantages, torch.zeros_like(advantages))
    ratio = log_ratio.exp()
    unclipped = -adv * ratio
    clipped = -adv * ratio.clamp(1.0 - clip_low, 1.0 + clip_high)
    loss = torch.maximum(unclipped, clipped)
    was_clipped = clipped > unclipped
    if clip_c is not None:
        capped = torch.where(adv < 0, torch.minimum(loss, -adv * clip_c), loss)
        was_clipped |= capped < loss
        loss = capped
    with torch.no_grad():
        stats = {
            "approx_kl": masked_mean((ratio - 1.0) - log_ratio, mask),
            "pg_clipfrac": masked_mean(was_clipped.to(loss.dtype), mask),
        }
    return masked_mean(loss, mask), stats
