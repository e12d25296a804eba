"""The envs of one worker, over either OmniGibson multi-env API (imports omnigibson: worker only).

* current main (BEHAVIOR-1K after "Merge vector into main", OmniGibson 3.9): one ``og.Environment(configs)``
  holds ``config["env"]["num_envs"]`` scenes; ``env.robots[i]`` is scene i's robot list,
  ``env.task.object_scopes[i]``, ``env.scenes[i]``, ``env.step(actions[N, A])``,
  ``env.reset(env_indices=...)`` -> (obs of those envs, ``{"obs_info": ...}``).
* 3.7: ``og.envs.VectorEnvironment(n, config)`` of ``Environment(configs, in_vec_env=True)``s, each with one
  scene, ``robots[0]``, ``task.object_scope``; ``vec.step(list of actions)``, ``env.reset()`` per env.

Told apart by ``Environment.__init__``'s ``in_vec_env`` parameter. Either way all scenes share one simulator:
``og.sim.step()`` / ``step_physics()`` advance every env of the worker.
"""

from __future__ import annotations

import copy
import inspect
from abc import ABC, abstractmethod
from typing import Any

import torch


def _sensor(robot: Any, key: str) -> Any:
    return robot.sensors[key.split("::")[1]]


class OgEnvs(ABC):
    api: str
    num_envs: int

    @abstractmethod
    def robot(self, i: int) -> Any: ...

    @abstractmethod
    def scene(self, i: int) -> Any: ...

    @abstractmethod
    def object_scope(self, i: int) -> dict[str, Any]: ...

    @abstractmethod
    def step(self, actions: list[torch.Tensor]) -> tuple[list[Any], list[bool], list[bool], list[dict[str, Any]]]:
        """One action per env (all of them: they share the physics step) -> (obs, terminated, truncated, infos)."""

    @abstractmethod
    def reset(self, ids: list[int]) -> list[Any]:
        """Reset envs ``ids`` (task and scene); their observations, in order."""

    @abstractmethod
    def _refresh_obs_space(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    def set_cameras(self, cameras: dict[str, str], sides: dict[str, int], head_aperture: float) -> None:
        """Camera resolutions (and the head camera's aperture) on every env's robot, then the obs space."""
        for i in range(self.num_envs):
            robot = self.robot(i)
            for camera, key in cameras.items():
                sensor = _sensor(robot, key)
                if camera == "head":
                    sensor.horizontal_aperture = head_aperture
                sensor.image_height = sides[camera]
                sensor.image_width = sides[camera]
        self._refresh_obs_space()


class SceneBatchEnvs(OgEnvs):
    """Current main: one Environment over ``n`` scenes."""

    api = "main"

    def __init__(self, og: Any, config: dict[str, Any], n: int) -> None:
        config = copy.deepcopy(config)
        config.setdefault("env", {})["num_envs"] = n
        self.num_envs = n
        self.env = og.Environment(configs=config)

    def robot(self, i: int) -> Any:
        return self.env.robots[i][0]

    def scene(self, i: int) -> Any:
        return self.env.scenes[i]

    def object_scope(self, i: int) -> dict[str, Any]:
        return self.env.task.object_scopes[i]

    def step(self, actions: list[torch.Tensor]) -> tuple[list[Any], list[bool], list[bool], list[dict[str, Any]]]:
        obs, _rewards, terms, truncs, infos = self.env.step(torch.stack(actions))
        return obs, [bool(t) for t in terms], [bool(t) for t in truncs], infos

    def reset(self, ids: list[int]) -> list[Any]:
        obs, _info = self.env.reset(env_indices=torch.tensor(ids, dtype=torch.long))
        return list(obs)

    def _refresh_obs_space(self) -> None:
        # As upstream's RGBLowResWrapper: patch only scene 0's camera spaces (the env's space is built from it);
        # a full load_observation_space() would rebuild proprio from joint positions not readable at this point.
        robot = self.robot(0)
        spaces = getattr(self.env, "observation_space", None)
        if spaces is None:
            return
        robot_space = spaces.spaces[robot.name]
        for name in list(robot_space.spaces):
            if name in robot.sensors:
                robot_space.spaces[name] = robot.sensors[name].load_observation_space()

    def close(self) -> None:
        self.env.close()


class VectorEnvs(OgEnvs):
    """3.7: a VectorEnvironment of single-scene Environments."""

    api = "3.7"

    def __init__(self, og: Any, config: dict[str, Any], n: int) -> None:
        config = copy.deepcopy(config)
        # 3.7's BehaviorTask.reset places the presampled robot pose in the world frame, which puts the robot of
        # env >= 1 into the first scene; the pose vlarl sets in the scene frame is kept by scene.reset() instead.
        config.setdefault("task", {})["use_presampled_robot_pose"] = False
        self.num_envs = n
        self.vec = og.envs.VectorEnvironment(n, config)

    def robot(self, i: int) -> Any:
        return self.vec.envs[i].robots[0]

    def scene(self, i: int) -> Any:
        return self.vec.envs[i].scene

    def object_scope(self, i: int) -> dict[str, Any]:
        return self.vec.envs[i].task.object_scope

    def step(self, actions: list[torch.Tensor]) -> tuple[list[Any], list[bool], list[bool], list[dict[str, Any]]]:
        obs, _rewards, terms, truncs, infos = self.vec.step(actions)
        return obs, [bool(t) for t in terms], [bool(t) for t in truncs], infos

    def reset(self, ids: list[int]) -> list[Any]:
        return [self.vec.envs[i].reset()[0] for i in ids]

    def _refresh_obs_space(self) -> None:
        for env in self.vec.envs:
            env.load_observation_space()

    def close(self) -> None:
        self.vec.close()


def open_envs(og: Any, config: dict[str, Any], n: int) -> OgEnvs:
    """The installed OmniGibson's multi-env API, with ``n`` envs of ``config``."""
    if "in_vec_env" in inspect.signature(og.Environment.__init__).parameters:
        return VectorEnvs(og, config, n)
    return SceneBatchEnvs(og, config, n)
