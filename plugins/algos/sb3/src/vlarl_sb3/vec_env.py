"""An SB3 ``VecEnv`` over a vlarl :class:`~vlarl.contracts.env.ChunkedVectorEnv`.

One SB3 step executes one chunk: the SB3 action is the chunk flattened to
[chunk_len * action_dim] (chunk_len = 1 gives plain per-step control). The
reward is the sum over the chunk's valid sub-steps; a sub-env is done when its
episode ended inside the chunk. As SB3 expects, the returned observation of a
done sub-env is its reset observation and ``infos[i]["terminal_observation"]``
the final one, ``TimeLimit.truncated`` marks truncations (SB3 bootstraps them),
and ``infos[i]["episode"]`` carries the Monitor-style return/length.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from vlarl.contracts.env import ChunkedVectorEnv
from vlarl.errors import ConfigError


def _np(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


class ChunkedVecEnv(VecEnv):
    def __init__(self, env: ChunkedVectorEnv, chunk_len: int = 1) -> None:
        if chunk_len < 1:
            raise ConfigError(f"algorithm.chunk_len={chunk_len} must be >= 1.", "Set algorithm.chunk_len to 1 or more.")
        self.env, self.chunk_len = env, chunk_len
        spec = env.action_spec
        self._discrete = chunk_len == 1 and spec.dim == 1 and spec.dims[0].kind == "discrete"
        if self._discrete:
            self._offset = int(spec.low[0])
            action_space: gym.Space = gym.spaces.Discrete(int(spec.high[0] - spec.low[0] + 1))
        else:
            low, high = np.tile(spec.low, chunk_len), np.tile(spec.high, chunk_len)
            action_space = gym.spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)
        ospec = env.observation_spec
        self._keys = [k for k in ("states", "images") if getattr(ospec, k) is not None]
        if not self._keys:
            raise ConfigError("The env returns neither states nor images.", "Use an env with a states or images key.")
        spaces = {
            k: gym.spaces.Box(-np.inf, np.inf, ospec.states, np.float32)
            if k == "states"
            else gym.spaces.Box(0, 255, ospec.images, np.uint8)
            for k in self._keys
        }
        obs_space = spaces["states"] if self._keys == ["states"] else gym.spaces.Dict(spaces)
        super().__init__(env.num_envs, obs_space, action_space)
        self._actions: np.ndarray | None = None

    def _obs(self, obs: dict[str, Any]) -> Any:
        if self._keys == ["states"]:
            return _np(obs["states"]).astype(np.float32)
        return {k: _np(obs[k]) for k in self._keys}

    def _row(self, obs: Any, i: int) -> Any:
        return obs[i] if not isinstance(obs, dict) else {k: v[i] for k, v in obs.items()}

    def reset(self) -> Any:
        seed = self._seeds[0]
        obs, _ = self.env.reset(seed=seed, options=self._options[0] or None)
        self._reset_seeds()
        self._reset_options()
        return self._obs(obs)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> Any:
        n, a = self.num_envs, self.env.action_spec.dim
        if self._discrete:
            chunk = (self._actions.reshape(n, 1, 1) + self._offset).astype(np.float32)
        else:
            chunk = self._actions.reshape(n, self.chunk_len, a).astype(np.float32)
        step = self.env.chunk_step(chunk)
        valid = _np(step.valid).astype(bool)
        rewards = np.where(valid, _np(step.rewards), 0.0).sum(1).astype(np.float32)
        term = (_np(step.terminations).astype(bool) & valid).any(1)
        trunc = (_np(step.truncations).astype(bool) & valid).any(1) & ~term
        done = _np(step.infos["done"]).astype(bool)
        obs = self._obs(step.observations)
        final = self._obs(step.infos["final_observation"]) if done.any() else None
        episode = step.infos.get("episode", {})
        infos: list[dict[str, Any]] = [{} for _ in range(n)]
        for i in np.flatnonzero(done):
            infos[i]["terminal_observation"] = self._row(final, i)
            infos[i]["TimeLimit.truncated"] = bool(trunc[i])
            if episode:
                infos[i]["episode"] = {
                    "r": float(_np(episode["return"])[i]),
                    "l": int(_np(episode["episode_len"])[i]),
                    "success_once": float(_np(episode["success_once"])[i]),
                }
        return obs, rewards, done, infos

    def close(self) -> None:
        self.env.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        # vlarl envs render through render_frames(), not gymnasium's render_mode.
        value = getattr(self.env, attr_name, None) if attr_name == "render_mode" else getattr(self.env, attr_name)
        return [value] * len(list(self._get_indices(indices)))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self.env, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        result = getattr(self.env, method_name)(*method_args, **method_kwargs)
        return [result] * len(list(self._get_indices(indices)))

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(list(self._get_indices(indices)))
