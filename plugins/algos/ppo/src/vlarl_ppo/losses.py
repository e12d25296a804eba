"""PPO value-loss terms (the policy surrogate and masked statistics are in vlarl.rl.losses)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vlarl.rl.losses import masked_mean


def value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor | None,
    clip: float | None,
    kind: str = "mse",
    huber_delta: float = 10.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Value loss (max of clipped and unclipped when ``clip`` is set) and the fraction clipped."""

    def elementwise(v: torch.Tensor) -> torch.Tensor:
        if kind == "huber":
            return F.huber_loss(v, returns, reduction="none", delta=huber_delta)
        return (v - returns) ** 2

    if mask is not None:
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
