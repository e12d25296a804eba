"""The official GR00T N1.5 flow-matching training loss, as small pure functions.

NVIDIA Isaac-GR00T @ 4af2b622, ``gr00t/model/action_head/flow_matching_action_head.py`` (``FlowmatchingActionHead``):

* time: ``sample ~ Beta(noise_beta_alpha, noise_beta_beta)`` (lines 212, 257), ``t = (noise_s - sample) / noise_s``
  (line 258); config defaults 1.5, 1.0, 0.999 (lines 125-129). t = 0 is noise, t = 1 the action; t lies in
  [(s - 1) / s, 1] = [-0.001, 1], with mean (s - a / (a + b)) / s = 0.3994, denser toward 0 (noisier inputs).
* ``noise ~ N(0, I)`` of the padded action shape [B, H, max_action_dim], drawn before t (lines 307-308).
* ``x_t = (1 - t) noise + t actions`` (line 311), velocity target ``actions - noise`` (line 312).
* timestep fed to the action encoder and the DiT: ``(t * num_timestep_buckets).long()`` in the actions' dtype
  (line 315; truncation toward zero).
* loss: ``(mse(pred, target, reduction="none") * action_mask).sum() / action_mask.sum()`` (lines 342-343).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.distributions import Beta


@dataclass
class FlowDraw:
    """The random part of one loss evaluation: noise [B, H, A] (x_0) and continuous times t [B]."""

    noise: torch.Tensor
    t: torch.Tensor


@dataclass(frozen=True)
class TimeDistribution:
    alpha: float = 1.5
    beta: float = 1.0
    s: float = 0.999

    @classmethod
    def from_head(cls, cfg: dict[str, Any]) -> TimeDistribution:
        """The constants of an ``action_head_cfg`` (already filled with the official defaults)."""
        return cls(float(cfg["noise_beta_alpha"]), float(cfg["noise_beta_beta"]), float(cfg["noise_s"]))


def sample_beta(n: int, alpha: float, beta: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """n float32 draws of Beta(alpha, beta). Without a generator this is the official call (global RNG, CPU);
    with one, the same Dirichlet draw ``Beta.sample`` makes, from that generator."""
    if generator is None:
        return Beta(alpha, beta).sample([n])
    conc = torch.tensor([alpha, beta], dtype=torch.float32, device=generator.device).expand(n, 2)
    return torch._sample_dirichlet(conc, generator=generator)[:, 0]


def draw(
    shape: tuple[int, ...],
    dist: TimeDistribution,
    device: torch.device,
    dtype: torch.dtype,
    generator: torch.Generator | None = None,
) -> FlowDraw:
    """Noise, then t, in the official order, so a global seed gives the official draws."""
    where = generator.device if generator is not None else device
    noise = torch.randn(shape, generator=generator, device=where, dtype=dtype).to(device)
    sample = sample_beta(shape[0], dist.alpha, dist.beta, generator).to(device, dtype=dtype)
    return FlowDraw(noise, (dist.s - sample) / dist.s)


def noisy_trajectory(actions: torch.Tensor, d: FlowDraw) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_t, velocity target) for actions [B, H, A]."""
    t = d.t[:, None, None]
    return (1 - t) * d.noise + t * actions, actions - d.noise


def discretize(t: torch.Tensor, num_buckets: int) -> torch.Tensor:
    """Continuous t [B] -> the long timesteps the model embeds."""
    return (t * num_buckets).long()


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of the masked squared errors over the mask's sum (float32, as mse_loss runs under autocast)."""
    mask = mask.to(torch.float32)
    err = F.mse_loss(pred.float(), target.float(), reduction="none") * mask
    return err.sum() / mask.sum()
