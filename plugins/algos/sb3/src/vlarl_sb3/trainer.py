"""Train a stable-baselines3 algorithm on a vlarl env; SB3's records go to a vlarl log function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import stable_baselines3
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import KVWriter, Logger

from vlarl.contracts.algorithm import Algorithm
from vlarl.contracts.env import ChunkedVectorEnv
from vlarl.errors import ConfigError, ContractError
from vlarl_sb3.register import SB3Config
from vlarl_sb3.vec_env import ChunkedVecEnv

LogFn = Callable[[dict[str, float], int], None]
"""``log(metrics, step)``: the runner's logger (TensorBoard/W&B) as a function."""

# SB3 record names -> vlarl metric names (the seeds' names where one exists).
RENAME = {
    "train/loss": "actor/loss",
    "train/policy_gradient_loss": "actor/policy_loss",
    "train/value_loss": "actor/value_loss",
    "train/entropy_loss": "actor/entropy_loss",
    "train/approx_kl": "actor/approx_kl",
    "train/clip_fraction": "actor/pg_clipfrac",
    "train/learning_rate": "actor/lr",
    "train/explained_variance": "critic/explained_variance",
    "train/actor_loss": "actor/loss",
    "train/critic_loss": "critic/loss",
    "train/ent_coef": "actor/entropy_coef",
    "rollout/ep_rew_mean": "env/return",
    "rollout/ep_len_mean": "env/episode_len",
}


class _Forward(KVWriter):
    def __init__(self, log: LogFn) -> None:
        self.log = log

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0) -> None:
        metrics = {}
        for key, value in key_values.items():
            if isinstance(value, (int, float, np.floating, np.integer)) and np.isfinite(value):
                metrics[RENAME.get(key, f"sb3/{key}")] = float(value)
        if metrics:
            self.log(metrics, step)

    def close(self) -> None:
        pass


class _SuccessCallback(BaseCallback):
    """Adds env/success_once (from the episode infos) to SB3's records."""

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", []):
            ep = info.get("episode")
            if ep is not None and "success_once" in ep:
                self.logger.record_mean("env/success_once", ep["success_once"])
        return True


class SB3Bridge(Algorithm):
    """Holds an SB3 config; :meth:`learn` builds the model on a vlarl env and trains it.

    The (policy, buffer) methods of the Algorithm contract do not apply: SB3 owns its
    policy and its loop, so they raise a ContractError that says so.
    """

    def __init__(self, cfg: SB3Config) -> None:
        if not hasattr(stable_baselines3, cfg.algo):
            raise ConfigError(
                f"algorithm.algo={cfg.algo!r} is not a stable-baselines3 algorithm.",
                "Use one of PPO, A2C, SAC, TD3, DDPG, DQN.",
            )
        self.cfg = cfg
        self.model: Any = None

    def build(self, env: ChunkedVectorEnv) -> Any:
        vec = ChunkedVecEnv(env, self.cfg.chunk_len)
        policy = self.cfg.policy
        if policy == "MlpPolicy" and isinstance(vec.observation_space, gym.spaces.Dict):
            policy = "MultiInputPolicy"
        cls = getattr(stable_baselines3, self.cfg.algo)
        try:
            self.model = cls(policy, vec, seed=self.cfg.seed, device="cpu", verbose=0, **self.cfg.kwargs)
        except (AssertionError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"stable-baselines3 {self.cfg.algo} rejected the settings: {exc}",
                "Check algorithm.kwargs against the SB3 docs (e.g. SAC and TD3 need a continuous action space).",
            ) from exc
        return self.model

    def learn(self, env: ChunkedVectorEnv, total_timesteps: int, log: LogFn | None = None) -> Any:
        """Train for ``total_timesteps`` SB3 steps (each = one chunk per sub-env); returns the SB3 model."""
        model = self.model or self.build(env)
        if log is not None:
            model.set_logger(Logger(folder=None, output_formats=[_Forward(log)]))
        model.learn(total_timesteps, callback=_SuccessCallback(), log_interval=self.cfg.log_interval)
        return model

    # --------------------------------------------------------- contract methods
    def _external(self) -> ContractError:
        return ContractError(
            "The sb3 bridge trains through stable-baselines3's own loop, not through compute_advantages/update.",
            "Call vlarl_sb3.trainer.SB3Bridge.learn(env, total_timesteps, log), or use algorithm 'ppo'.",
        )

    def setup(self, policy: Any) -> None:
        raise self._external()

    def compute_advantages(self, buffer: Any) -> dict[str, float]:
        raise self._external()

    def update(self, policy: Any, buffer: Any) -> dict[str, float]:
        raise self._external()


def make(cfg: SB3Config) -> SB3Bridge:
    return SB3Bridge(cfg)
