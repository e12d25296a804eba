"""Broadcasting advantages and validity masks to the policy's log-prob granularity.

Rollout tensors are [T, N, ...]. Log-probs are [T, N] (chunk), [T, N, C]
(action) or [T, N, C, K] (token); the mask of a chunk-level log-prob is "any
valid sub-step in the chunk".
"""

from __future__ import annotations

import torch

from vlarl.errors import ContractError


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
