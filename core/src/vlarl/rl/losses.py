"""Loss building blocks shared by policy-gradient algorithm plugins.

Rollout tensors are [T, N, ...]. Log-probs are [T, N] (chunk), [T, N, C]
(action) or [T, N, C, K] (token); the mask of a chunk-level log-prob is "any
valid sub-step in the chunk". Every statistic is a mean over valid entries only.

A mask of ``None`` means "every entry is valid": the common case (no episode
ended inside a chunk) then skips the masking ops, which on small CPU models
cost as much as the loss itself.
"""

from __future__ import annotations

import torch

from vlarl.errors import ContractError


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over ``mask``; masked-out entries never contribute, even when they hold NaN."""
    if mask is None:
        return x.mean()
    mask = mask.bool()
    total = torch.where(mask, x, torch.zeros_like(x)).sum()
    return total / mask.sum().clamp(min=1).to(x.dtype)


def masked_normalize(x: torch.Tensor, mask: torch.Tensor | None, eps: float = 1e-8) -> torch.Tensor:
    """(x - mean) / (std + eps) over the valid entries; invalid entries become 0."""
    if mask is None:
        return x if x.numel() < 2 else (x - x.mean()) / (x.std() + eps)
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
    mask: torch.Tensor | None,
    clip_low: float,
    clip_high: float,
    clip_c: float | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Clipped surrogate (separate low/high clip, optional dual clip) and its statistics."""
    log_ratio = log_probs - old_log_probs
    if mask is not None:
        mask = mask.bool()
        # Invalid entries are zeroed before use, so NaN/inf there cannot reach the loss or its gradient.
        log_ratio = torch.where(mask, log_ratio, torch.zeros_like(log_ratio))
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


def mask_like(valid: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Validity [T, N, C] as a bool mask of ``target``'s shape ([T, N], [T, N, C] or [T, N, C, K])."""
    if target.dim() == 2:
        return valid.any(-1)
    if target.dim() == 3:
        return valid
    if target.dim() == 4:
        return valid.unsqueeze(-1).expand_as(target)
    raise ContractError(
        f"Per-rollout tensor of shape {tuple(target.shape)} is not [T, N], [T, N, C] or [T, N, C, K].",
        "Return log-probs of shape [N], [N, C] or [N, C, K] from act() as the policy's logprob_type declares.",
    )


def broadcast_to(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Advantages [T, N] or [T, N, C] broadcast to ``target``'s shape.

    Per-sub-step advantages meet a chunk-level log-prob through the chunk's first
    sub-step, whose GAE already covers the rest of the chunk.
    """
    if x.dim() > target.dim():
        return x[..., 0]
    while x.dim() < target.dim():
        x = x.unsqueeze(-1)
    return x.expand_as(target)
