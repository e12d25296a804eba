"""A gymnasium ``VectorEnv`` view of a chunked env, for single-step code (chunk length 1).

Observations are a ``Dict`` space of the array keys; the task descriptions are
in ``infos["task_descriptions"]``. Finished sub-envs reset in the same step
(gymnasium's ``AutoresetMode.SAME_STEP``): the final observation is in
``infos["final_obs"]`` and the episode metrics in ``infos["final_info"]``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from vlarl.contracts.env import ChunkedVectorEnv
from vlarl.contracts.observation import ARRAY_KEYS, ObsBatch


def _to_numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


class GymVectorEnvView(VectorEnv):
    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, env: ChunkedVectorEnv) -> None:
        self.env = env
        self.num_envs = env.num_envs
        spaces: dict[str, gym.Space] = {}
        spec = env.observation_spec
        if spec.states is not None:
            spaces["states"] = gym.spaces.Box(-np.inf, np.inf, spec.states, np.float32)
        for key in ("images", "wrist_images"):
            shape = spec.shape(key)
            if shape is not None:
                spaces[key] = gym.spaces.Box(0, 255, shape, np.uint8)
        self.single_observation_space = gym.spaces.Dict(spaces)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.single_action_space = gym.spaces.Box(env.action_spec.low, env.action_spec.high, dtype=np.float32)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

    def _obs(self, obs: ObsBatch) -> dict[str, np.ndarray]:
        return {k: _to_numpy(obs[k]) for k in ARRAY_KEYS if k in obs and k in self.single_observation_space.spaces}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        obs, infos = self.env.reset(seed=seed, options=options)
        return self._obs(obs), {**infos, "task_descriptions": list(obs["task_descriptions"])}

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        actions = np.asarray(actions, dtype=np.float32).reshape(self.num_envs, 1, -1)
        step = self.env.chunk_step(actions)
        infos: dict[str, Any] = {"task_descriptions": list(step.observations["task_descriptions"])}
        done = _to_numpy(step.infos["done"])
        if done.any():
            infos["final_obs"] = self._obs(step.infos["final_observation"])
            infos["final_info"] = {k: _to_numpy(v) for k, v in step.infos["episode"].items()}
            infos["_final_obs"] = done
        return (
            self._obs(step.observations),
            _to_numpy(step.rewards)[:, 0],
            _to_numpy(step.terminations)[:, 0],
            _to_numpy(step.truncations)[:, 0],
            infos,
        )

    def close_extras(self, **kwargs: Any) -> None:
        self.env.close()
