"""Heads added for RL: the critic and the reinflow noise net (not part of the official checkpoint)."""

from __future__ import annotations

import torch
from torch import nn


class ValueHead(nn.Module):
    """V(s) from mean-pooled backbone tokens and the encoded state."""

    def __init__(self, vl_dim: int, state_dim: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(vl_dim + state_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 1)
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, vl: torch.Tensor, mask: torch.Tensor, state_features: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(vl.dtype)
        pooled = (vl * m).sum(1) / m.sum(1).clamp_min(1.0)
        return self.net(torch.cat([pooled, state_features.mean(1)], dim=-1)).squeeze(-1)


class NoiseHead(nn.Module):
    """ReinFlow's learned std: from the DiT features of each action token and t, squashed into [lo, hi]."""

    def __init__(self, feat_dim: int, action_dim: int, hidden: int, lo: float, hi: float) -> None:
        super().__init__()
        if not 0.0 < lo <= hi:
            raise ValueError(f"reinflow needs 0 < noise_std_min <= noise_std_max, got [{lo}, {hi}]")
        self.lo, self.hi = lo, hi
        self.net = nn.Sequential(nn.Linear(feat_dim + 1, hidden), nn.SiLU(), nn.Linear(hidden, action_dim))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, feats: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        tt = t.to(feats.dtype).view(-1, 1, 1).expand(feats.shape[0], feats.shape[1], 1)
        raw = self.net(torch.cat([feats, tt], dim=-1))
        return self.lo + (self.hi - self.lo) * torch.sigmoid(raw)
