"""Fake ``omnigibson.envs.env_base.Environment`` (BEHAVIOR-1K 3.7 shape).

Observation layout (flatten_obs_space=False): ``obs[robot_name][sensor_name]["rgb"]`` (uint8 RGBA [H, W, 4]
torch tensor) for each camera and ``obs[robot_name]["proprio"]`` (float32 tensor). ``info["done"]`` holds
``success`` and ``termination_conditions`` ({"predicate": {...}, "timeout": {...}}), as BehaviorTask's.
Fake task: the predicate holds once the summed right-gripper command reaches the instance's ``goal``.
"""

import os
from copy import deepcopy

import torch as th

import omnigibson as og
from omnigibson.macros import gm

CAMERA_LINKS = ("zed_link", "left_realsense_link", "right_realsense_link")
R1PRO_PROPRIO_DIMS = {
    "joint_qpos": 28, "joint_qpos_sin": 28, "joint_qpos_cos": 28, "joint_qvel": 28, "joint_qeffort": 28,
    "robot_pos": 3, "robot_ori_cos": 3, "robot_ori_sin": 3, "robot_2d_ori": 1, "robot_2d_ori_cos": 1,
    "robot_2d_ori_sin": 1, "robot_lin_vel": 3, "robot_ang_vel": 3, "arm_left_qpos": 7, "arm_left_qpos_sin": 7,
    "arm_left_qpos_cos": 7, "arm_left_qvel": 7, "eef_left_pos": 3, "eef_left_quat": 4, "gripper_left_qpos": 2,
    "gripper_left_qvel": 2, "arm_right_qpos": 7, "arm_right_qpos_sin": 7, "arm_right_qpos_cos": 7,
    "arm_right_qvel": 7, "eef_right_pos": 3, "eef_right_quat": 4, "gripper_right_qpos": 2,
    "gripper_right_qvel": 2, "trunk_qpos": 4, "trunk_qvel": 4, "base_qpos": 3, "base_qpos_sin": 3,
    "base_qpos_cos": 3, "base_qvel": 3,
}  # fmt: skip
REGISTERED_ROBOTS = {"R1Pro": 23}
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


class VisionSensor:
    def __init__(self, name):
        self.name = name
        self.image_height = 128
        self.image_width = 128
        self.horizontal_aperture = 20.955


class Robot:
    def __init__(self, name, model, proprio_obs, obs_modalities):
        self.name = name
        self.model = model
        self.action_dim = REGISTERED_ROBOTS["R1Pro"]
        self.sensors = {f"{name}:{link}:Camera:0": VisionSensor(f"{name}:{link}:Camera:0") for link in CAMERA_LINKS}
        self._proprio_obs = list(proprio_obs)
        self._obs_modalities = list(obs_modalities)
        self.position = th.zeros(3)
        self.orientation = th.tensor([0.0, 0.0, 0.0, 1.0])
        self.last_action = th.zeros(self.action_dim)

    def set_position_orientation(self, position=None, orientation=None, frame="world"):
        if position is not None:
            self.position = th.as_tensor(position, dtype=th.float32)
        if orientation is not None:
            self.orientation = th.as_tensor(orientation, dtype=th.float32)

    def apply_action(self, action):
        action = th.as_tensor(action, dtype=th.float32).flatten()
        assert action.shape[0] == self.action_dim, f"Action must be dimension {self.action_dim}, got {action.shape[0]}"
        self.last_action = action


class Entity:
    """A task-relevant object of ``task.object_scope`` (load_state / keep_still)."""

    def __init__(self, state):
        self.state = state

    def load_state(self, state, serialized=False):
        assert not serialized
        self.state = {k: (v.clone() if isinstance(v, th.Tensor) else v) for k, v in state.items()}

    def keep_still(self):
        pass


class Scene:
    def __init__(self, scene_model):
        self.scene_model = scene_model
        self.metadata = {}
        self.resets = 0

    def write_task_metadata(self, key, data):
        self.metadata[key] = data

    def update_initial_file(self):
        pass

    def reset(self):
        self.resets += 1


class BehaviorTask:
    def __init__(self, cfg):
        self.activity_name = cfg["activity_name"]
        self.activity_definition_id = cfg.get("activity_definition_id", 0)
        self.activity_instance_id = cfg.get("activity_instance_id", 0)
        self.max_steps = cfg.get("termination_config", {}).get("max_steps", 500)
        # Real BehaviorTask loads the cached instance at construction; the fake one uses the id as goal offset.
        self.object_scope = {
            "radio.n.01_1": Entity({"goal": th.tensor([2.0 + self.activity_instance_id]), "marker": th.tensor([0.0])}),
            "agent.n.01_1": None,
        }
        self.progress = 0.0
        self.steps = 0

    def reset(self):
        self.progress = 0.0
        self.steps = 0

    def step(self, action):
        self.steps += 1
        self.progress += float(action[22])
        success = self.progress >= float(self.object_scope["radio.n.01_1"].state["goal"][0])
        timeout = self.steps >= self.max_steps
        done = {
            "success": success,
            "termination_conditions": {
                "predicate": {"done": success, "success": success},
                "timeout": {"done": timeout, "success": False},
            },
        }
        return float(success), success or timeout, {"done": done}


class Environment:
    def __init__(self, configs, in_vec_env=False):
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
        self._flatten_obs_space = env_cfg.get("flatten_obs_space", False)
        scene_cfg = self.config["scene"]
        assert scene_cfg.get("type") == "InteractiveTraversableScene", "fake supports InteractiveTraversableScene"
        self.scene = Scene(scene_cfg["scene_model"])
        robot_cfg = self.config["robots"][0]
        assert robot_cfg["type"] in REGISTERED_ROBOTS, f"{robot_cfg['type']} is not a registered robot."
        bad = [k for k in robot_cfg.get("proprio_obs", []) if k not in R1PRO_PROPRIO_DIMS]
        assert not bad, f"Unknown proprio keys {bad}"
        self.robots = [
            Robot(robot_cfg["name"], robot_cfg["type"].lower(), robot_cfg["proprio_obs"], robot_cfg["obs_modalities"])
        ]
        task_cfg = self.config["task"]
        assert task_cfg["type"] in REGISTERED_TASKS, f"task type {task_cfg['type']} not registered"
        self.task = BehaviorTask(task_cfg)
        self._current_step = 0
        self.in_vec_env = in_vec_env
        if not in_vec_env:
            og.sim.play()
            self.post_play_load()

    def post_play_load(self):
        self.load_observation_space()
        self.reset()

    def load_observation_space(self):
        self.observation_space = {
            name: (s.image_height, s.image_width, 4) for name, s in self.robots[0].sensors.items()
        }
        return self.observation_space

    # ---------------------------------------------------------------- observations
    def get_obs(self):
        robot = self.robots[0]
        state = self.task.object_scope["radio.n.01_1"].state
        marker = float(state["marker"][0])
        robot_obs = {}
        for cam_idx, (name, _sensor) in enumerate(robot.sensors.items()):
            h, w = self.observation_space[name][:2]
            img = th.zeros((h, w, 4), dtype=th.uint8)
            img[..., 0] = int(marker * 40 + cam_idx * 60 + self._current_step) % 256
            img[..., 1] = (th.arange(h) * 255 // max(h - 1, 1)).to(th.uint8)[:, None]  # bright at the bottom
            img[..., 2] = min(255, int(self.task.progress * 10))
            img[..., 3] = 255
            robot_obs[name] = {"rgb": img}
        dim = sum(R1PRO_PROPRIO_DIMS[k] for k in robot._proprio_obs)
        proprio = th.zeros(dim)
        proprio[0] = float(self._current_step)
        proprio[1] = self.task.progress
        proprio[2] = marker
        proprio[3 : 3 + min(23, dim - 3)] = robot.last_action[: min(23, dim - 3)]
        robot_obs["proprio"] = proprio
        obs = {robot.name: robot_obs}
        if self._flatten_obs_space:
            obs = {
                f"{robot.name}::{k}::rgb" if isinstance(v, dict) else f"{robot.name}::{k}": v["rgb"]
                if isinstance(v, dict)
                else v
                for k, v in robot_obs.items()
            }
        return obs, {}

    # ---------------------------------------------------------------- stepping
    def _pre_step(self, action):
        self.robots[0].apply_action(action)

    def _post_step(self, action):
        reward, _done, info = self.task.step(th.as_tensor(action, dtype=th.float32))
        self._current_step += 1
        obs, obs_info = self.get_obs()
        info["episode_length"] = self._current_step
        info["obs_info"] = obs_info
        conds = info["done"]["termination_conditions"]
        truncated = conds["timeout"]["done"]
        terminated = any(c["done"] for n, c in conds.items() if n != "timeout")
        return obs, reward, terminated, truncated and not terminated, info

    def step(self, action, n_render_iterations=1):
        self._pre_step(action)
        og.sim.step()
        return self._post_step(action)

    def reset(self, get_obs=True, **kwargs):
        self.task.reset()
        self._current_step = 0
        self.robots[0].last_action = th.zeros(self.robots[0].action_dim)
        if get_obs:
            og.sim.step()
            return self.get_obs()
        return None

    def close(self):
        pass
