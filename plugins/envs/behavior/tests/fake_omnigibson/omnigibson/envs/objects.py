"""Fake scene, robot, sensors, task-relevant objects and BehaviorTask of the fake OmniGibson.

Scenes sit apart in one stage (``Scene.origin``); poses stored in task instances are scene-relative, so a
robot placed with ``frame="world"`` from such a pose lands in the first scene's area (upstream #2257).
``Scene.dump_state`` / ``load_state`` / ``update_initial_file`` / ``reset`` (which, like the real one, runs
one physics step) cover the robot and the objects; ``Entity.load_state`` wants tensors, like the real
``_load_state`` that indexes them.
"""

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
SCENE_SPACING = 50.0


class Box:
    def __init__(self, shape):
        self.shape = tuple(shape)


class Dict:
    def __init__(self, spaces):
        self.spaces = dict(spaces)


def _require_tensors(value, where):
    if isinstance(value, dict):
        for k, v in value.items():
            _require_tensors(v, f"{where}.{k}")
    elif not isinstance(value, th.Tensor):
        raise TypeError(f"load_state: {where} must be a torch tensor, got {type(value).__name__}")


class VisionSensor:
    def __init__(self, name):
        self.name = name
        self.image_height = 128
        self.image_width = 128
        self.horizontal_aperture = 20.955

    def load_observation_space(self):
        return Dict({"rgb": Box((self.image_height, self.image_width, 4))})


class Robot:
    def __init__(self, name, model, proprio_obs, obs_modalities, scene):
        self.name = name
        self.model = model
        self.scene = scene
        self.action_dim = 23
        self.sensors = {f"{name}:{link}:Camera:0": VisionSensor(f"{name}:{link}:Camera:0") for link in CAMERA_LINKS}
        self._proprio_obs = list(proprio_obs)
        self._obs_modalities = list(obs_modalities)
        self.position = scene.origin.clone()
        self.orientation = th.tensor([0.0, 0.0, 0.0, 1.0])
        self.last_action = th.zeros(self.action_dim)

    def set_position_orientation(self, position=None, orientation=None, frame="world"):
        assert frame in ("world", "scene"), frame
        if position is not None:
            position = th.as_tensor(position, dtype=th.float32)
            self.position = position + self.scene.origin if frame == "scene" else position
        if orientation is not None:
            self.orientation = th.as_tensor(orientation, dtype=th.float32)

    def apply_action(self, action):
        action = th.as_tensor(action, dtype=th.float32).flatten()
        assert action.shape[0] == self.action_dim, f"Action must be dimension {self.action_dim}, got {action.shape[0]}"
        self.last_action = action

    def drive(self, dt):
        """The holonomic base keeps its last velocity command (x, y in m/s) while physics runs."""
        self.position = self.position + th.cat([self.last_action[:2], th.zeros(1)]) * dt

    def keep_still(self):
        pass

    def dump_state(self):
        return {"position": self.position.clone(), "orientation": self.orientation.clone(),
                "controllers": {"last_action": self.last_action.clone()}}  # fmt: skip

    def load_state(self, state, serialized=False):
        self.position, self.orientation = state["position"].clone(), state["orientation"].clone()
        self.last_action = state["controllers"]["last_action"].clone()


class Entity:
    """A task-relevant object of a BDDL object scope (load_state / keep_still)."""

    def __init__(self, name, state):
        self.name = name
        self.state = state

    def load_state(self, state, serialized=False):
        assert not serialized
        _require_tensors(state, self.name)
        self.state = {k: v.clone() for k, v in state.items()}

    def dump_state(self):
        return deepcopy(self.state)

    def keep_still(self):
        pass


class Scene:
    def __init__(self, scene_model):
        self.scene_model = scene_model
        self.idx = None
        self.origin = th.zeros(3)
        self._task_metadata = {}
        self.objects = {}
        self.physics_steps = 0
        self._initial = None

    def physics_step(self, dt):
        self.physics_steps += 1
        robot = self.objects.get("robot")
        if robot is not None:
            robot.drive(dt)

    def place(self, idx):
        self.origin = th.tensor([SCENE_SPACING * idx, 0.0, 0.0])

    def get_task_metadata(self, key):
        return self._task_metadata.get(key)

    def write_task_metadata(self, key, data):
        self._task_metadata[key] = data

    def dump_state(self, serialized=False):
        assert not serialized
        return {"physics_steps": self.physics_steps, "objects": {k: o.dump_state() for k, o in self.objects.items()}}

    def load_state(self, state, serialized=False):
        assert not serialized
        self.physics_steps = state["physics_steps"]
        for k, s in state["objects"].items():
            self.objects[k].load_state(deepcopy(s))

    def update_initial_file(self, scene_file=None):
        # as upstream: None snapshots the scene now, else @scene_file (a save() dict) becomes the reset target
        self._initial = deepcopy(self.dump_state() if scene_file is None else scene_file["state"])

    def reset(self, hard=True):
        assert og.sim.is_playing(), "Simulator must be playing in order to reset the scene!"
        self.load_state(deepcopy(self._initial))
        og.sim.step_physics()


class BehaviorTask:
    """One task over all scenes: per-env object scopes, progress and step counters.

    Fake goal: the predicate holds once the summed right-gripper command reaches the instance's ``goal``.
    """

    def __init__(self, cfg, scenes, robots):
        assert gm.ENABLE_OBJECT_STATES, "Must set gm.ENABLE_OBJECT_STATES=True in order to use BehaviorTask!"
        self.activity_name = cfg["activity_name"]
        self.activity_definition_id = cfg.get("activity_definition_id", 0)
        self.activity_instance_id = cfg.get("activity_instance_id", 0)
        self.max_steps = cfg.get("termination_config", {}).get("max_steps", 500)
        self.use_presampled_robot_pose = cfg.get("use_presampled_robot_pose", True)
        self.scenes, self.robots = scenes, robots
        # Real BehaviorTask loads the cached instance at construction; the fake one uses the id as goal offset.
        goal = th.tensor([2.0 + self.activity_instance_id])
        self.object_scopes = []
        for scene, robot in zip(scenes, robots):
            radio = Entity("radio", {"goal": goal.clone(), "marker": th.tensor([0.0]), "joint_pos": th.zeros(2, 2)})
            scene.objects = {"robot": robot, "radio": radio}
            self.object_scopes.append({"radio.n.01_1": radio, "agent.n.01_1": robot})
        self.progress = [0.0] * len(scenes)
        self.steps = [0] * len(scenes)

    def reset(self, env_indices):
        for i in env_indices:
            self.scenes[i].reset()
            self.progress[i], self.steps[i] = 0.0, 0
            poses = {k.lower(): v for k, v in (self.scenes[i].get_task_metadata("robot_poses") or {}).items()}
            options = poses.get("robot") or poses.get(self.robots[i].model)
            if self.use_presampled_robot_pose and options:
                # Presampled poses are scene-relative: main places them with frame="scene"; 3.7 (single-scene
                # code) used the default world frame, which puts env >= 1's robot into the first scene.
                frame = "world" if og.API == "3.7" else "scene"
                self.robots[i].set_position_orientation(options[0]["position"], options[0]["orientation"], frame)

    def step(self, i, action):
        self.steps[i] += 1
        self.progress[i] += float(action[22])
        success = self.progress[i] >= float(self.object_scopes[i]["radio.n.01_1"].state["goal"][0])
        timeout = self.steps[i] >= self.max_steps
        done = {
            "success": success,
            "termination_conditions": {
                "predicate": {"done": success, "success": success},
                "timeout": {"done": timeout, "success": False},
            },
        }
        return float(success), success or timeout, {"done": done}
