"""What a LIBERO / robomimic HDF5 file holds, and how its arrays map to vlarl observations.

LIBERO writes one file per task: a ``data`` group with JSON attributes (``problem_info`` holds the
``language_instruction``), one ``data/demo_<i>`` group per demonstration with ``actions`` [T, 7],
``obs/ee_states`` [T, 6] (eef position + axis-angle), ``obs/gripper_states`` [T, 2], camera images
``obs/agentview_rgb`` / ``obs/eye_in_hand_rgb`` [T, H, W, 3] uint8 as robosuite renders them
(OpenGL convention: upside down), ``rewards``, ``dones`` and ``states``. robomimic's object-state
key ``obs/object`` carries privileged object poses (its ``names`` attribute names each dim).
"""

from __future__ import annotations

from vlarl.contracts.spaces import ActionDim, ActionSpec

ROBOT_STATE_NAMES: tuple[str, ...] = (
    "eef_pos.x", "eef_pos.y", "eef_pos.z",
    "eef_axis_angle.x", "eef_axis_angle.y", "eef_axis_angle.z",
    "gripper_qpos.0", "gripper_qpos.1",
)  # fmt: skip
"""The libero env's 8 robot state dims, in its order."""

CAMERA_KEYS = {
    "agentview": ("obs/agentview_rgb", "images"),
    "robot0_eye_in_hand": ("obs/eye_in_hand_rgb", "wrist_images"),
}
"""camera name -> (HDF5 key, observation key)."""

OBJECT_KEY = "obs/object"

# OSC_POSE delta end-effector control normalised to [-1, 1]; gripper -1 opens, +1 closes (LIBERO's sign).
LIBERO_ACTION_SPEC = ActionSpec(
    dims=(
        ActionDim("dx"), ActionDim("dy"), ActionDim("dz"),
        ActionDim("droll"), ActionDim("dpitch"), ActionDim("dyaw"),
        ActionDim("gripper", kind="gripper"),
    ),
    gripper="close_positive",
)  # fmt: skip
