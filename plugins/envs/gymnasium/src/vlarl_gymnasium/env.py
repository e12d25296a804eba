"""gymnasium envs behind the chunked vectorized env contract."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from vlarl.contracts.observation import ObsBatch
from vlarl.contracts.spaces import ActionDim, ActionSpec, ObservationSpec
from vlarl.envs.substep import SubStepResult, SubStepVectorEnv
from vlarl.errors import ConfigError
from vlarl_gymnasium.register import GymnasiumEnvConfig

DISCRETE_DIM_NAME = "discrete_action"


def _make_one(cfg: GymnasiumEnvConfig) -> gym.Env:
    kwargs = dict(cfg.make_kwargs)
    if cfg.render_images:
        kwargs["render_mode"] = "rgb_array"
    try:
        # The time limit is ours (SubStepVectorEnv truncates), so gymnasium's is disabled.
        return gym.make(cfg.env_id, max_episode_steps=None, disable_env_checker=True, **kwargs).unwrapped
    except gym.error.Error as exc:
        raise ConfigError(
            f"gymnasium cannot make env.env_id={cfg.env_id!r}: {exc}",
            "Use a registered id (python -c 'import gymnasium; gymnasium.pprint_registry()') "
            "and install its extra, e.g. pip install 'gymnasium[box2d]'.",
        ) from exc


def _action_spec(space: gym.Space) -> ActionSpec:
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        return ActionSpec(
            tuple(ActionDim(f"a{i}", float(lo), float(hi)) for i, (lo, hi) in enumerate(zip(space.low, space.high)))
        )
    if isinstance(space, gym.spaces.Discrete):
        # One dim holding the action index; policies round it (see README).
        return ActionSpec(
            (ActionDim(DISCRETE_DIM_NAME, float(space.start), float(space.start + space.n - 1), "discrete"),)
        )
    raise ConfigError(
        f"Unsupported gymnasium action space {space}.", "Use an env with a 1-D Box or Discrete action space."
    )


def _resize_nearest(frame: np.ndarray, size: int) -> np.ndarray:
    h, w = frame.shape[:2]
    rows = (np.arange(size) * h // size).clip(0, h - 1)
    cols = (np.arange(size) * w // size).clip(0, w - 1)
    return frame[rows][:, cols]


class GymnasiumChunkedEnv(SubStepVectorEnv):
    """N independent gymnasium envs, stepped sub-step by sub-step."""

    def __init__(self, cfg: GymnasiumEnvConfig) -> None:
        self.cfg = cfg
        self.envs = [_make_one(cfg) for _ in range(cfg.num_envs)]
        spec = gym.spec(cfg.env_id)
        limit = cfg.max_episode_steps or spec.max_episode_steps or 1000
        super().__init__(cfg.num_envs, limit)
        obs_space = self.envs[0].observation_space
        if not isinstance(obs_space, gym.spaces.Box):
            raise ConfigError(f"Unsupported observation space {obs_space}.", "Use an env with a Box observation space.")
        self.action_spec = _action_spec(self.envs[0].action_space)
        self._discrete = isinstance(self.envs[0].action_space, gym.spaces.Discrete)
        self._low, self._high = self.action_spec.low, self.action_spec.high
        state_dim = int(np.prod(obs_space.shape))
        image = (3, cfg.image_size, cfg.image_size) if cfg.render_images else None
        self.observation_spec = ObservationSpec(states=(state_dim,), images=image)
        self.task_description = cfg.task_description or cfg.env_id

    def _observe(self, ids: np.ndarray, raw: list[Any]) -> ObsBatch:
        obs: ObsBatch = {
            "states": np.stack([np.asarray(o, dtype=np.float32).reshape(-1) for o in raw]),
            "task_descriptions": [self.task_description] * len(ids),
        }
        if self.cfg.render_images:
            frames = [_resize_nearest(self.envs[i].render(), self.cfg.image_size) for i in ids]
            obs["images"] = np.stack(frames).transpose(0, 3, 1, 2).copy()
        return obs

    def reset_envs(self, ids: np.ndarray, seeds: list[int | None], options: dict[str, Any]) -> ObsBatch:
        raw = [self.envs[i].reset(seed=s)[0] for i, s in zip(ids, seeds)]
        return self._observe(ids, raw)

    def step_envs(self, ids: np.ndarray, actions: np.ndarray) -> SubStepResult:
        # Clip (and round) the whole batch at once: per-env NumPy calls cost more than CartPole's physics.
        clipped = np.clip(actions, self._low, self._high)
        per_env = np.rint(clipped[:, 0]).astype(np.int64).tolist() if self._discrete else list(clipped)
        raws, rewards, terms, truncs = [], [], [], []
        for i, action in zip(ids.tolist(), per_env):
            obs, reward, term, trunc, _ = self.envs[i].step(action)
            raws.append(obs)
            rewards.append(reward)
            terms.append(term)
            truncs.append(trunc)
        # Classic gymnasium tasks have no success notion: a terminated episode counts as none.
        successes = np.zeros(len(ids), dtype=bool)
        return SubStepResult(
            self._observe(ids, raws), np.asarray(rewards, np.float32), np.asarray(terms), np.asarray(truncs), successes
        )

    def render_frames(self) -> np.ndarray | None:
        if not self.cfg.render_images:
            return None
        return np.stack([env.render() for env in self.envs])

    def close(self) -> None:
        for env in self.envs:
            env.close()


def make_env(cfg: GymnasiumEnvConfig) -> GymnasiumChunkedEnv:
    return GymnasiumChunkedEnv(cfg)
