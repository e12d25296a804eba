"""The SB3 VecEnv adapter over the chunked env contract, and SB3 PPO/SAC training through it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from vlarl.errors import ConfigError, ContractError
from vlarl.plugins.build import build_algo, build_env
from vlarl_sb3.trainer import SB3Bridge
from vlarl_sb3.vec_env import ChunkedVecEnv


def test_terminal_observation_truncation_and_rewards() -> None:
    env = build_env("gymnasium", {"env_id": "CartPole-v1", "num_envs": 3, "max_episode_steps": 4})
    vec = ChunkedVecEnv(env)
    vec.seed(0)
    obs = vec.reset()
    assert obs.shape == (3, 4) and vec.action_space.n == 2
    total = np.zeros(3)
    for _ in range(4):
        prev = obs
        obs, rewards, dones, infos = vec.step(np.zeros(3, dtype=np.int64))
        total += rewards
        assert np.all(rewards == 1.0)
    # Time limit reached (pushing left for 4 steps does not topple the pole): truncated, bootstrappable.
    assert dones.all()
    for i, info in enumerate(infos):
        assert info["TimeLimit.truncated"] is True
        assert info["episode"]["r"] == 4.0 and info["episode"]["l"] == 4
        assert not np.allclose(info["terminal_observation"], obs[i])  # obs is the reset observation
        assert not np.allclose(info["terminal_observation"], prev[i])
    assert np.all(total == 4.0)
    vec.close()


def test_flattened_chunks_sum_valid_rewards() -> None:
    env = build_env("gymnasium", {"env_id": "Pendulum-v1", "num_envs": 2, "max_episode_steps": 5})
    vec = ChunkedVecEnv(env, chunk_len=3)
    assert vec.action_space.shape == (3,)
    vec.reset()
    _, r1, d1, _ = vec.step(np.zeros((2, 3), np.float32))
    _, r2, d2, infos = vec.step(np.zeros((2, 3), np.float32))  # sub-steps 4..5 valid, 6 invalid
    assert not d1.any() and d2.all()
    np.testing.assert_allclose(r1 + r2, [info["episode"]["r"] for info in infos], rtol=1e-5)
    assert all(info["TimeLimit.truncated"] for info in infos)


@pytest.mark.slow
def test_ppo_learns_cartpole_and_metrics_reach_the_logger() -> None:
    logged: list[dict[str, float]] = []
    algo = build_algo(
        "sb3", {"algo": "PPO", "kwargs": {"n_steps": 64, "batch_size": 128, "n_epochs": 10, "learning_rate": 1e-3}}
    )
    env = build_env("gymnasium", {"env_id": "CartPole-v1", "num_envs": 4})
    algo.learn(env, 12_000, log=lambda m, step: logged.append(m))
    returns = [m["env/return"] for m in logged if "env/return" in m]
    assert {"actor/loss", "actor/approx_kl", "actor/pg_clipfrac", "critic/explained_variance"} <= set().union(*logged)
    assert returns[-1] > 2 * returns[0] and returns[-1] > 60, returns


@pytest.mark.slow
def test_sac_trains_on_a_continuous_env() -> None:
    logged: list[dict[str, float]] = []
    algo = build_algo("sb3", {"algo": "SAC", "kwargs": {"learning_starts": 50, "batch_size": 64}})
    env = build_env("gymnasium", {"env_id": "Pendulum-v1", "num_envs": 1})
    model = algo.build(env)
    before = [p.detach().clone() for p in model.policy.parameters()]
    algo.learn(env, 250, log=lambda m, step: logged.append(m))
    assert any(not np.allclose(a.numpy(), b.detach().numpy()) for a, b in zip(before, model.policy.parameters()))
    assert algo.model is model


def test_bad_settings_and_contract_methods_are_explained() -> None:
    with pytest.raises(ConfigError, match=r"algorithm\.algo"):
        build_algo("sb3", {"algo": "NoSuchAlgo"})
    bridge = build_algo("sb3", {"algo": "SAC"})
    assert isinstance(bridge, SB3Bridge)
    with pytest.raises(ConfigError, match="SAC"):
        bridge.build(build_env("gymnasium", {"env_id": "CartPole-v1", "num_envs": 1}))  # discrete actions
    with pytest.raises(ContractError, match="learn"):
        bridge.update(None, None)


def test_register_module_is_light() -> None:
    code = "import sys, vlarl_sb3.register; print('torch' in sys.modules or 'stable_baselines3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
