"""Noise methods against a NumPy reference of the formulas, written independently of the plugin."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vlarl_gr00t import denoise


def ref_flow_sde(x: np.ndarray, v: np.ndarray, k: int, K: int, a: float) -> tuple[np.ndarray, float]:
    t, dt = k / K, 1.0 / K
    sigma = a * math.sqrt((1 - t) / (t if k > 0 else 1.0 / K))
    x0_hat, x1_hat = x - v * t, x + v * (1 - t)
    mean = x0_hat * (1 - t - dt - sigma**2 * dt / (2 * (1 - t))) + x1_hat * (t + dt)
    return mean, math.sqrt(dt) * sigma


def ref_log_normal(y: np.ndarray, mean: np.ndarray, std: np.ndarray | float) -> np.ndarray:
    return -((y - mean) ** 2) / (2 * np.square(std)) - np.log(std) - 0.5 * math.log(2 * math.pi)


@pytest.mark.parametrize("K", [1, 4, 10])
@pytest.mark.parametrize("k_frac", [0.0, 0.5, 0.99])
def test_flow_sde_matches_reference(K: int, k_frac: float) -> None:
    rng = np.random.default_rng(K)
    k = min(int(k_frac * K), K - 1)
    x, v = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4))
    mean, std = denoise.transition(torch.tensor(x), torch.tensor(v), torch.full((2,), k), K, "flow_sde", 0.7)
    ref_mean, ref_std = ref_flow_sde(x, v, k, K, 0.7)
    np.testing.assert_allclose(mean.numpy(), ref_mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(std.numpy(), np.full_like(x, ref_std), rtol=1e-6)


def test_reinflow_and_deterministic_match_reference() -> None:
    rng = np.random.default_rng(1)
    x, v, s = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4)), rng.uniform(0.1, 0.2, size=(2, 3, 4))
    k = torch.tensor([0, 2])
    mean, std = denoise.transition(torch.tensor(x), torch.tensor(v), k, 4, "reinflow", learned_std=torch.tensor(s))
    np.testing.assert_allclose(mean.numpy(), x + v / 4, rtol=1e-12)
    np.testing.assert_allclose(std.numpy(), s)
    mean, std = denoise.transition(torch.tensor(x), torch.tensor(v), k, 4, "deterministic")
    np.testing.assert_allclose(mean.numpy(), x + v / 4, rtol=1e-12)
    assert float(std.abs().max()) == 0.0


def test_noise_level_to_zero_gives_euler_step() -> None:
    rng = np.random.default_rng(2)
    x, v = torch.tensor(rng.normal(size=(3, 2, 5))), torch.tensor(rng.normal(size=(3, 2, 5)))
    k = torch.tensor([0, 1, 3])
    errors = []
    for a in (0.1, 0.01, 0.0):
        mean, std = denoise.transition(x, v, k, 4, "flow_sde", a)
        errors.append(float((mean - (x + v / 4)).abs().max()))
        assert float(std.max()) <= 2 * a + 1e-12
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-12


def test_log_prob_and_entropy_match_reference() -> None:
    rng = np.random.default_rng(3)
    y, m, s = rng.normal(size=5), rng.normal(size=5), rng.uniform(0.1, 1.0, size=5)
    lp = denoise.gaussian_log_prob(torch.tensor(y), torch.tensor(m), torch.tensor(s))
    np.testing.assert_allclose(lp.numpy(), ref_log_normal(y, m, s), rtol=1e-10)
    ent = denoise.gaussian_entropy(torch.tensor(s))
    np.testing.assert_allclose(ent.numpy(), 0.5 * np.log(2 * math.pi * math.e * s**2), rtol=1e-10)


def test_unknown_method_is_rejected() -> None:
    x = torch.zeros(1, 2, 3)
    with pytest.raises(ValueError, match="unknown noise method"):
        denoise.transition(x, x, torch.zeros(1), 4, "ddim")
