"""GAE, returns and masks against an independent NumPy reference written with plain loops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlarl.contracts.buffer import RolloutBuffer
from vlarl.contracts.env import ChunkStep
from vlarl.contracts.policy import ActOutput
from vlarl.errors import ConfigError
from vlarl_ppo.algorithm import PPO
from vlarl_ppo.register import PPOConfig


def random_rollout(rng: np.random.Generator, t: int, n: int, c: int, p_end: float = 0.15) -> dict[str, np.ndarray]:
    """Episodes that end (terminate or truncate) at random sub-steps inside chunks, as the env contract shapes them."""
    rewards = np.zeros((t, n, c), np.float32)
    term = np.zeros((t, n, c), bool)
    trunc = np.zeros((t, n, c), bool)
    valid = np.zeros((t, n, c), bool)
    for i in range(t):
        for j in range(n):
            for k in range(c):
                valid[i, j, k] = True
                rewards[i, j, k] = rng.normal()
                if rng.random() < p_end:
                    if rng.random() < 0.5:
                        term[i, j, k] = True
                    else:
                        trunc[i, j, k] = True
                    break
    boot = np.where(trunc.any(-1), rng.normal(size=(t, n)), 0.0).astype(np.float32)
    return {
        "rewards": rewards,
        "terminations": term,
        "truncations": trunc,
        "valid": valid,
        "bootstrap_values": boot,
        "last_values": rng.normal(size=n).astype(np.float32),
        "chunk_values": rng.normal(size=(t, n)).astype(np.float32),
        "action_values": rng.normal(size=(t, n, c)).astype(np.float32),
    }


def reference_gae(steps: list[dict], last_value: float, gamma: float, lam: float) -> list[tuple[float, float]]:
    """Textbook GAE over one env's valid steps in time order: (advantage, return) per step."""
    out = [(0.0, 0.0)] * len(steps)
    running = 0.0
    for s in reversed(range(len(steps))):
        st = steps[s]
        if st["term"]:
            next_v, cont = 0.0, 0.0
        elif st["trunc"]:
            next_v, cont = st["boot"], 0.0
        else:
            next_v = steps[s + 1]["v"] if s + 1 < len(steps) else last_value
            cont = 1.0
        delta = st["r"] + gamma * next_v - st["v"]
        running = delta + gamma * lam * cont * running
        out[s] = (running, running + st["v"])
    return out


def reference_chunk_level(x: dict, gamma: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    t, n, c = x["rewards"].shape
    adv, ret = np.zeros((t, n)), np.zeros((t, n))
    for j in range(n):
        steps, where = [], []
        for i in range(t):
            ks = [k for k in range(c) if x["valid"][i, j, k]]
            if not ks:
                continue
            term = any(x["terminations"][i, j, k] for k in ks)
            trunc = any(x["truncations"][i, j, k] for k in ks) and not term
            r = sum(float(x["rewards"][i, j, k]) for k in ks)
            steps.append({"r": r, "v": float(x["chunk_values"][i, j]), "term": term, "trunc": trunc,
                          "boot": float(x["bootstrap_values"][i, j])})  # fmt: skip
            where.append(i)
        for i, (a, g) in zip(where, reference_gae(steps, float(x["last_values"][j]), gamma, lam)):
            adv[i, j], ret[i, j] = a, g
    return adv, ret


def reference_action_level(x: dict, gamma: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    t, n, c = x["rewards"].shape
    adv, ret = np.zeros((t, n, c)), np.zeros((t, n, c))
    for j in range(n):
        steps, where = [], []
        for i in range(t):
            for k in range(c):
                if not x["valid"][i, j, k]:
                    continue
                steps.append({"r": float(x["rewards"][i, j, k]), "v": float(x["action_values"][i, j, k]),
                              "term": bool(x["terminations"][i, j, k]), "trunc": bool(x["truncations"][i, j, k]),
                              "boot": float(x["bootstrap_values"][i, j])})  # fmt: skip
                where.append((i, k))
        for (i, k), (a, g) in zip(where, reference_gae(steps, float(x["last_values"][j]), gamma, lam)):
            adv[i, j, k], ret[i, j, k] = a, g
    return adv, ret


def to_buffer(x: dict, values: np.ndarray) -> RolloutBuffer:
    """A buffer filled through the public add()/finish() path."""
    buf = RolloutBuffer()
    t, n, c = x["rewards"].shape
    for i in range(t):
        lp = torch.zeros(n, c)
        act = ActOutput(torch.zeros(n, c, 1), lp, torch.as_tensor(values[i]), {"states": torch.zeros(n, 2)})
        step = ChunkStep({}, x["rewards"][i], x["terminations"][i], x["truncations"][i], x["valid"][i])
        buf.add(act, step, torch.as_tensor(x["bootstrap_values"][i]))
    return buf.finish(torch.as_tensor(x["last_values"]))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("c", [1, 4])
def test_chunk_level_gae_matches_reference(seed: int, c: int) -> None:
    x = random_rollout(np.random.default_rng(seed), t=12, n=5, c=c)
    gamma, lam = 0.97, 0.9
    algo = PPO(PPOConfig(gamma=gamma, gae_lambda=lam, reward_type="chunk_level"))
    buf = to_buffer(x, x["chunk_values"])
    metrics = algo.compute_advantages(buf)
    adv, ret = reference_chunk_level(x, gamma, lam)
    np.testing.assert_allclose(buf.advantages.numpy(), adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(buf.returns.numpy(), ret, rtol=1e-5, atol=1e-5)
    chunk_valid = x["valid"].any(-1)
    assert metrics["rollout/returns_mean"] == pytest.approx(ret[chunk_valid].mean(), abs=1e-5)
    assert metrics["rollout/advantages_mean"] == pytest.approx(adv[chunk_valid].mean(), abs=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_action_level_gae_matches_reference(seed: int) -> None:
    x = random_rollout(np.random.default_rng(100 + seed), t=10, n=4, c=5, p_end=0.1)
    gamma, lam = 0.99, 0.95
    algo = PPO(PPOConfig(gamma=gamma, gae_lambda=lam, reward_type="action_level"))
    buf = to_buffer(x, x["action_values"])
    metrics = algo.compute_advantages(buf)
    adv, ret = reference_action_level(x, gamma, lam)
    np.testing.assert_allclose(buf.advantages.numpy(), adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(buf.returns.numpy(), ret, rtol=1e-5, atol=1e-5)
    # Invalid sub-steps (after an episode ended in the chunk) carry nothing.
    assert np.all(buf.advantages.numpy()[~x["valid"]] == 0)
    assert metrics["rollout/rewards_mean"] == pytest.approx(x["rewards"][x["valid"]].mean(), abs=1e-5)


def test_truncation_bootstraps_and_termination_does_not() -> None:
    # One env, one chunk of 3 sub-steps ending at sub-step 1; gamma = lambda = 1 makes the targets readable.
    x = {
        "rewards": np.array([[[1.0, 2.0, 0.0]]], np.float32),
        "valid": np.array([[[True, True, False]]]),
        "bootstrap_values": np.array([[10.0]], np.float32),
        "last_values": np.array([100.0], np.float32),
        "chunk_values": np.array([[0.5]], np.float32),
    }
    for kind, expected in (("terminations", 3.0), ("truncations", 13.0)):
        ends = np.zeros((1, 1, 3), bool)
        ends[0, 0, 1] = True
        y = dict(x, terminations=np.zeros_like(ends), truncations=np.zeros_like(ends))
        y[kind] = ends
        buf = to_buffer(y, y["chunk_values"])
        PPO(PPOConfig(gamma=1.0, gae_lambda=1.0)).compute_advantages(buf)
        # The last chunk's episode ended: last_values (100) must not leak in.
        assert float(buf.returns[0, 0]) == pytest.approx(expected)


def test_garbage_in_invalid_substeps_is_ignored() -> None:
    x = random_rollout(np.random.default_rng(7), t=8, n=3, c=4)
    algo = PPO(PPOConfig(reward_type="action_level"))
    clean = to_buffer(x, x["action_values"])
    algo.compute_advantages(clean)
    dirty_x = dict(x, rewards=np.where(x["valid"], x["rewards"], np.nan).astype(np.float32))
    dirty_v = np.where(x["valid"], x["action_values"], 1e9).astype(np.float32)
    dirty = to_buffer(dirty_x, dirty_v)
    algo.compute_advantages(dirty)
    torch.testing.assert_close(dirty.advantages, clean.advantages)
    torch.testing.assert_close(dirty.returns, clean.returns)


def test_action_level_with_chunk_values_names_the_keys() -> None:
    x = random_rollout(np.random.default_rng(3), t=4, n=2, c=3)
    buf = to_buffer(x, x["chunk_values"])
    with pytest.raises(ConfigError, match=r"reward_type=action_level.*\n.*value_type"):
        PPO(PPOConfig(reward_type="action_level")).compute_advantages(buf)
