"""PPO loss terms with masked statistics (every mean runs over valid entries only)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over ``mask``; masked-out entries never contribute, even when they hold NaN."""
    mask = mask.bool()
    total = torch.where(mask, x, torch.zeros_like(x)).sum()
    return total / mask.sum().clamp(min=1).to(x.dtype)


def masked_normalize(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(x - mean) / (std + eps) over the valid entries; invalid entries become 0."""
    mask = mask.bool()
    x = torch.where(mask, x, torch.zeros_like(x))
    count = mask.sum()
    if count < 2:
        return x
    mean = x.sum() / count
    var = torch.where(mask, (x - mean) ** 2, torch.zeros_like(x)).sum() / (count - 1)
    return torch.where(mask, (x - mean) / (var.sqrt() + eps), torch.zeros_like(x))


def clipped_policy_loss(
    log_probs: torch.Tensor,
    old_log_probs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_low: float,
    clip_high: float,
    clip_c: float | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Clipped surrogate (separate low/high clip, optional dual clip) and its statistics."""
    mask = mask.bool()
    # Invalid entries are zeroed before use, so NaN/inf there cannot reach the loss or its gradient.
    log_ratio = torch.where(mask, log_probs - old_log_probs, torch.zeros_like(log_probs))
    advantages = torch.where(mask, advantages, torch.zeros_like(advantages))
    ratio = torch.exp(log_ratio)
    loss_unclipped = -advantages * ratio
    loss_clipped = -advantages * ratio.clamp(1.0 - clip_low, 1.0 + clip_high)
    loss = torch.maximum(loss_unclipped, loss_clipped)
    clipped = loss_clipped > loss_unclipped
    if clip_c is not None:
        # Dual clip: a negative advantage with a huge ratio cannot push the loss above -A * c.
        capped = torch.minimum(loss, -advantages * clip_c)
        dual = (advantages < 0) & (loss > capped)
        loss = torch.where(advantages < 0, capped, loss)
        clipped = clipped | dual
    with torch.no_grad():
        stats = {
            "approx_kl": masked_mean((ratio - 1.0) - log_ratio, mask),
            "pg_clipfrac": masked_mean(clipped.to(loss.dtype), mask),
        }
    return masked_mean(loss, mask), stats


def value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    clip: float | None,
    kind: str = "mse",
    huber_delta: float = 10.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Value loss (max of clipped and unclipped when ``clip`` is set) and the fraction clipped."""

    def elementwise(v: torch.Tensor) -> torch.Tensor:
        if kind == "huber":
            return F.huber_loss(v, returns, reduction="none", delta=huber_delta)
        return (v - returns) ** 2

    mask = mask.bool()
    values = torch.where(mask, values, returns.detach())
    old_values = torch.where(mask, old_values, returns.detach())
    loss = elementwise(values)
    if clip is None:
        return masked_mean(loss, mask), torch.zeros((), dtype=values.dtype, device=values.device)
    clipped_values = old_values + (values - old_values).clamp(-clip, clip)
    loss_clipped = elementwise(clipped_values)
    clip_ratio = masked_mean((loss_clipped > loss).to(values.dtype), mask).detach()
    return masked_mean(torch.maximum(loss, loss_clipped), mask), clip_ratio


def explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> float:
    """1 - Var(returns - values) / Var(returns) over valid entries (0 when returns are constant).

    0 rather than NaN keeps every logged metric finite, as the algorithm contract asks.
    """
    m = mask.bool()
    r, v = returns[m].double(), values[m].double()
    if r.numel() < 2 or r.var() == 0:
        return 0.0
    return float(1.0 - (r - v).var() / r.var())
