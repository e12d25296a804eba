"""Gaussian transitions of the denoising chain, the quantities RL needs.

Convention: x at t=0 is noise, t=1 is the action; K steps, t_k = k/K, D = 1/K;
the network predicts the velocity v. Predicted endpoints: x0 = x - v t,
x1 = x + v (1 - t).

* ``deterministic``: mean = x + v D, std = 0.
* ``flow_sde``: sigma_t = a sqrt((1 - t) / t) (t_1 in the denominator at t = 0),
  mean = x0 (1 - t - D - sigma_t^2 D / (2 (1 - t))) + x1 (t + D), std = sqrt(D) sigma_t.
* ``reinflow``: mean = x + v D, std from a learned noise net (given here).
"""

from __future__ import annotations

import math

import torch

METHODS = ("deterministic", "flow_sde", "reinflow")
LOG_2PI = math.log(2.0 * math.pi)


def flow_sde_sigma(k: torch.Tensor, num_steps: int, noise_level: float) -> torch.Tensor:
    """sigma_t per sample for step indices k [B] (t = k/K; t_1 = 1/K replaces t = 0 in the denominator)."""
    t = k.to(torch.float64) / num_steps
    denom = torch.where(k == 0, torch.full_like(t, 1.0 / num_steps), t)
    return (noise_level * torch.sqrt((1.0 - t) / denom)).to(torch.float32)


def transition(
    x: torch.Tensor,
    v: torch.Tensor,
    k: torch.Tensor,
    num_steps: int,
    method: str,
    noise_level: float = 0.0,
    learned_std: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std of x_{t+D} given x_t [B, H, A], velocity v and step indices k [B]."""
    dt = 1.0 / num_steps
    if method == "deterministic":
        return x + v * dt, torch.zeros_like(x)
    if method == "reinflow":
        if learned_std is None:
            raise ValueError("reinflow needs the noise net's std")
        return x + v * dt, learned_std.expand_as(x)
    if method != "flow_sde":
        raise ValueError(f"unknown noise method {method!r}; use one of {METHODS}")
    t = (k.to(x.dtype) / num_steps).view(-1, 1, 1)
    sigma = flow_sde_sigma(k, num_steps, noise_level).to(x.dtype).view(-1, 1, 1)
    x0 = x - v * t
    x1 = x + v * (1.0 - t)
    mean = x0 * (1.0 - t - dt - sigma**2 * dt / (2.0 * (1.0 - t))) + x1 * (t + dt)
    std = (math.sqrt(dt) * sigma).expand_as(x)
    return mean, std


def gaussian_log_prob(y: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Elementwise log N(y; mean, std^2); std is floored so a zero-noise step stays finite."""
    s = std.clamp_min(1e-8)
    return -0.5 * ((y - mean) / s) ** 2 - torch.log(s) - 0.5 * LOG_2PI


def gaussian_entropy(std: torch.Tensor) -> torch.Tensor:
    return torch.log(std.clamp_min(1e-8)) + 0.5 * (1.0 + LOG_2PI)
