"""The OmniGibson config dict for one BEHAVIOR activity on the R1 Pro (what ``og.Environment(configs=...)`` reads)."""

from __future__ import annotations

import copy
from typing import Any

from vlarl_behavior.robot import ROBOT_NAME

# Controllers of the challenge's R1 Pro setup, giving the 23-dim action: base velocity (x, y, yaw), absolute
# joint positions for trunk and arms, one smooth command per gripper.
_CONTROLLERS: dict[str, Any] = {
    "base": {
        "name": "HolonomicBaseJointController",
        "motor_type": "velocity",
        "vel_kp": 150,
        "command_input_limits": [[-0.75, -0.75, -1.0], [0.75, 0.75, 1.0]],
        "command_output_limits": [[-0.75, -0.75, -1.0], [0.75, 0.75, 1.0]],
        "use_impedances": False,
    },
    **{
        part: {
            "name": "JointController",
            "motor_type": "position",
            "pos_kp": 150,
            "command_input_limits": None,
            "command_output_limits": None,
            "use_impedances": False,
            "use_delta_commands": False,
        }
        for part in ("trunk", "arm_left", "arm_right")
    },
    **{
        part: {
            "name": "MultiFingerGripperController",
            "mode": "smooth",
            "command_input_limits": "default",
            "command_output_limits": "default",
        }
        for part in ("gripper_left", "gripper_right")
    },
}


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge (lists and scalars in ``extra`` replace those in ``base``)."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        elif key == "robots" and isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = [merge(b, e) if isinstance(e, dict) else e for b, e in zip(out[key], value)] + out[key][
                len(value) :
            ]
        else:
            out[key] = copy.deepcopy(value)
    return out


def build(
    *,
    activity: str,
    definition_id: int,
    instance_id: int,
    scene_model: str,
    proprio_obs: list[str],
    max_steps: int,
    physics_frequency: float,
    action_frequency: float,
    rendering_frequency: float,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "env": {
            "action_frequency": action_frequency,
            "rendering_frequency": rendering_frequency,
            "physics_frequency": physics_frequency,
            "device": None,
            "automatic_reset": False,  # vlarl resets finished sub-envs at chunk boundaries
            "flatten_obs_space": False,
            "flatten_action_space": False,
        },
        "render": {"viewer_width": 1280, "viewer_height": 720},
        "scene": {
            "type": "InteractiveTraversableScene",
            "scene_model": scene_model,
            "load_room_types": None,
            "include_robots": False,
        },
        "robots": [
            {
                "type": "R1Pro",
                "name": ROBOT_NAME,
                "action_normalize": False,
                "action_type": "continuous",
                "grasping_mode": "assisted",
                "self_collisions": False,
                "obs_modalities": ["rgb", "proprio"],
                "proprio_obs": list(proprio_obs),
                "controller_config": copy.deepcopy(_CONTROLLERS),
            }
        ],
        "task": {
            "type": "BehaviorTask",
            "activity_name": activity,
            "activity_definition_id": definition_id,
            "activity_instance_id": instance_id,
            "predefined_problem": None,
            "online_object_sampling": False,
            "highlight_task_relevant_objects": False,
            "termination_config": {"max_steps": max_steps},
            "reward_config": {"r_potential": 1.0},
            "include_obs": False,
        },
    }
    return merge(cfg, overrides or {})
