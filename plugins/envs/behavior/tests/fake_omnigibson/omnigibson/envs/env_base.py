"""Fake ``omnigibson.envs.env_base.Environment`` in the API of current main or of 3.7 (``og.API``).

main: ``Environment(configs)`` with ``config["env"]["num_envs"]`` scenes; ``step(actions[num_envs, A])`` ->
(list of obs, rewards[N], terminated[N], truncated[N], list of infos); ``reset(env_indices=None, get_obs=True)``
-> (list of obs of those envs, {"obs_info": [...]}) after ``task.reset`` (``scene.reset()``: one physics step
each) and ``og.sim.step()`` (every scene advances); ``robots`` -> one robot list per scene, ``scenes``.
3.7: ``Environment(configs, in_vec_env=False)``, one scene, ``robots`` flat, ``task.object_scope``;
``og.envs.VectorEnvironment`` steps several of them with one ``og.sim.step()``.

Observation layout (flatten_obs_space=False): ``obs[robot_name][sensor_name]["rgb"]`` (uint8 RGBA [H, W, 4])
and ``obs[robot_name]["proprio"]`` (float32). Fake proprio: [0] episode step, [1] task progress, [2] instance
marker, [3:26] last applied action, [26:29] robot position in its scene's frame. Every physics step moves each
robot by its last base velocity command (x, y), whichever env the step was run for. Terminated (a non-timeout condition) and truncated (timeout)
are computed independently, so both can be true. A reset checks camera images against
``observation_space`` as the real one does ("Observation space does not match returned observations!").
"""

import os
from copy import deepcopy

import torch as th

import omnigibson as og
from omnigibson.envs.objects import R1PRO_PROPRIO_DIMS, BehaviorTask, Dict, Robot, Scene
from omnigibson.macros import gm

REGISTERED_ROBOTS = ("R1Pro",)
REGISTERED_TASKS = ("BehaviorTask", "DummyTask")


def _maybe_fail_start():
    """FAKE_OG_FAIL_STARTS=<counter file>: fail while the file holds a count > 0, decrementing it."""
    path = os.environ.get("FAKE_OG_FAIL_STARTS")
    if not path or not os.path.exists(path):
        return
    with open(path) as f:
        left = int(f.read().strip() or 0)
    if left > 0:
        with open(path, "w") as f:
            f.write(str(left - 1))
        raise RuntimeError("Failed to start the Kit app (fake transient failure)")


class _Core:
    """N scenes, one robot each, one task; what both API generations are made of."""

    def _build(self, configs, num_envs):
        configs = configs if isinstance(configs, (list, tuple)) else [configs]
        self.config = {"env": {}, "render": {"viewer_width": 1280, "viewer_height": 720}, "robots": [], "task": {}}
        for cfg in configs:
            for k, v in deepcopy(cfg).items():
                self.config[k] = {**self.config.get(k, {}), **v} if isinstance(v, dict) else v
        env_cfg = self.config["env"]
        physics_dt = 1.0 / env_cfg.get("physics_frequency", gm.DEFAULT_PHYSICS_FREQ)
        rendering_dt = 1.0 / env_cfg.get("rendering_frequency", gm.DEFAULT_RENDERING_FREQ)
        sim_step_dt = 1.0 / env_cfg.get("action_frequency", gm.DEFAULT_SIM_STEP_FREQ)
        if og.sim is not None:
            assert og.sim.initial_physics_dt == physics_dt, "Physics frequency mismatch!"
        else:
            _maybe_fail_start()
            og.launch(physics_dt=physics_dt, rendering_dt=rendering_dt, sim_step_dt=sim_step_dt)
        self.num_envs = num_envs
        self._flatten_obs_space = env_cfg.get("flatten_obs_space", False)
        scene_cfg = self.config["scene"]
        assert scene_cfg.get("type") == "InteractiveTraversableScene", "fake supports InteractiveTraversableScene"
        self._scenes = [Scene(scene_cfg["scene_model"]) for _ in range(num_envs)]
        og.sim.import_scene(self._scenes)
        for scene in self._scenes:
            scene.place(scene.idx)
        robot_cfg = self.config["robots"][0]
        assert robot_cfg["type"] in REGISTERED_ROBOTS, f"{robot_cfg['type']} is not a registered robot."
        bad = [k for k in robot_cfg.get("proprio_obs", []) if k not in R1PRO_PROPRIO_DIMS]
        assert not bad, f"Unknown proprio keys {bad}"
        self._robots = [
            Robot(
                robot_cfg["name"], robot_cfg["type"].lower(), robot_cfg["proprio_obs"], robot_cfg["obs_modalities"], s
            )
            for s in self._scenes
        ]
        task_cfg = self.config["task"]
        assert task_cfg["type"] in REGISTERED_TASKS, f"task type {task_cfg['type']} not registered"
        self._task = BehaviorTask(task_cfg, self._scenes, self._robots)
        self._current_steps = [0] * num_envs
        self._loaded = False

    def _post_play_load(self):
        for scene in self._scenes:
            scene.update_initial_file()
        self.load_observation_space()
        self._reset(list(range(self.num_envs)))
        self._loaded = True

    def load_observation_space(self):
        robot = self._robots[0]
        spaces = {name: s.load_observation_space() for name, s in robot.sensors.items()}
        self.observation_space = Dict({robot.name: Dict(spaces)})
        return self.observation_space

    @property
    def task(self):
        return self._task

    # ---------------------------------------------------------------- observations
    def _obs(self, i):
        robot, task, scene = self._robots[i], self._task, self._scenes[i]
        marker = float(task.object_scopes[i]["radio.n.01_1"].state["marker"][0])
        robot_obs = {}
        for cam_idx, (name, sensor) in enumerate(robot.sensors.items()):
            h, w = sensor.image_height, sensor.image_width
            img = th.zeros((h, w, 4), dtype=th.uint8)
            img[..., 0] = int(marker * 40 + cam_idx * 60 + self._current_steps[i]) % 256
            img[..., 1] = (th.arange(h) * 255 // max(h - 1, 1)).to(th.uint8)[:, None]  # bright at the bottom
            img[..., 2] = min(255, int(task.progress[i] * 10))
            img[..., 3] = 255
            robot_obs[name] = {"rgb": img}
        proprio = th.zeros(sum(R1PRO_PROPRIO_DIMS[k] for k in robot._proprio_obs))
        proprio[0], proprio[1], proprio[2] = float(self._current_steps[i]), task.progress[i], marker
        proprio[3:26] = robot.last_action[:23]
        proprio[26:29] = robot.position - scene.origin
        robot_obs["proprio"] = proprio
        if self._flatten_obs_space:
            return {f"{robot.name}::{k}" + ("::rgb" if isinstance(v, dict) else ""): v["rgb"] if isinstance(v, dict)
                    else v for k, v in robot_obs.items()}  # fmt: skip
        return {robot.name: robot_obs}

    def _check_obs_space(self, obs):
        robot = self._robots[0]
        for name, space in self.observation_space.spaces[robot.name].spaces.items():
            got = tuple(obs[robot.name][name]["rgb"].shape)
            if got != space.spaces["rgb"].shape:
                raise ValueError(f"Observation space does not match returned observations! ({name}: {got})")

    # ---------------------------------------------------------------- stepping
    def _apply(self, i, action):
        self._robots[i].apply_action(action)

    def _finish_step(self, i, action):
        reward, _done, info = self._task.step(i, th.as_tensor(action, dtype=th.float32))
        self._current_steps[i] += 1
        info["episode_length"] = self._current_steps[i]
        info["obs_info"] = {}
        conds = info["done"]["termination_conditions"]
        truncated = conds["timeout"]["done"]
        terminated = any(c["done"] for n, c in conds.items() if n != "timeout")
        return self._obs(i), reward, terminated, truncated, info

    def _reset(self, ids):
        self._task.reset(ids)
        for i in ids:
            self._current_steps[i] = 0
            self._robots[i].last_action = th.zeros(23)
        og.sim.step()
        obs = [self._obs(i) for i in ids]
        if self._loaded and not self._flatten_obs_space:
            self._check_obs_space(obs[0])
        return obs

    def close(self):
        pass


if og.API == "3.7":

    class Environment(_Core):
        def __init__(self, configs, in_vec_env=False):
            self._build(configs, 1)
            self.in_vec_env = in_vec_env
            if not in_vec_env:
                og.sim.play()
                self.post_play_load()

        def post_play_load(self):
            self._post_play_load()

        @property
        def robots(self):
            return self._robots

        @property
        def scene(self):
            return self._scenes[0]

        def _pre_step(self, action):
            self._apply(0, action)

        def _post_step(self, action):
            return self._finish_step(0, action)

        def step(self, action, n_render_iterations=1):
            self._pre_step(action)
            og.sim.step()
            return self._post_step(action)

        def reset(self, get_obs=True, **kwargs):
            obs = self._reset([0])
            return (obs[0], {}) if get_obs else None

    def _legacy_scope(task):
        return task.object_scopes[0]

    BehaviorTask.object_scope = property(_legacy_scope)

else:

    class Environment(_Core):  # type: ignore[no-redef]
        def __init__(self, configs):
            num_envs = (configs if isinstance(configs, dict) else {}).get("env", {}).get("num_envs", 1)
            self._build(configs, num_envs)
            og.sim.play()
            self._post_play_load()

        @property
        def robots(self):
            """robots[env_idx] -> list of robots in that scene."""
            return [[r] for r in self._robots]

        @property
        def scenes(self):
            return self._scenes

        @property
        def scene(self):
            assert len(self._scenes) == 1, (
                "The legacy 'env.scene' property is only supported for single-scene environments!"
            )
            return self._scenes[0]

        def step(self, action, n_render_iterations=1):
            action = th.as_tensor(action, dtype=th.float32)
            if action.dim() == 1:
                action = action.unsqueeze(0)
            assert action.shape[0] == self.num_envs, f"need one action per env ({self.num_envs}), got {action.shape}"
            for i in range(self.num_envs):
                self._apply(i, action[i])
            og.sim.step()
            results = [self._finish_step(i, action[i]) for i in range(self.num_envs)]
            obs, rewards, terms, truncs, infos = (list(x) for x in zip(*results))
            return obs, th.tensor(rewards), th.tensor(terms), th.tensor(truncs), infos

        def reset(self, env_indices=None, get_obs=True, **kwargs):
            ids = list(range(self.num_envs)) if env_indices is None else [int(i) for i in env_indices]
            obs = self._reset(ids)
            return (obs, {"obs_info": [{} for _ in ids]}) if get_obs else None
