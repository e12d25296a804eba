"""R1 Pro layout facts: camera sensor names, the 23-dim action, the proprioception layout.

Mirrors ``omnigibson/learning/utils/eval_utils.py`` of BEHAVIOR-1K (ROBOT_CAMERA_NAMES["R1Pro"],
ACTION_QPOS_INDICES["R1Pro"], JOINT_RANGE["R1Pro"], PROPRIOCEPTION_INDICES["R1Pro"]).
"""

from __future__ import annotations

from vlarl.contracts.spaces import ActionDim, ActionSpec

ROBOT_NAME = "robot_r1"
# Flattened observation keys are "<robot>::<sensor>::<modality>"; sensor names are "<robot>:<link>:Camera:0".
CAMERAS: dict[str, str] = {
    "head": f"{ROBOT_NAME}::{ROBOT_NAME}:zed_link:Camera:0",
    "left_wrist": f"{ROBOT_NAME}::{ROBOT_NAME}:left_realsense_link:Camera:0",
    "right_wrist": f"{ROBOT_NAME}::{ROBOT_NAME}:right_realsense_link:Camera:0",
}
HEAD_APERTURE = 40.0  # horizontal aperture the challenge sets on the head camera

# (group, joint bounds) in action order; base is (x, y, yaw) velocity, the rest absolute joint positions.
_ACTION_GROUPS: tuple[tuple[str, list[str], list[float], list[float]], ...] = (
    ("base", ["x", "y", "yaw"], [-0.75, -0.75, -1.0], [0.75, 0.75, 1.0]),
    ("torso", ["j1", "j2", "j3", "j4"], [-1.1345, -2.7925, -1.8326, -3.0543], [1.8326, 2.5307, 1.5708, 3.0543]),
    (
        "left_arm",
        [f"j{i}" for i in range(1, 8)],
        [-4.4506, -0.1745, -2.3562, -2.0944, -2.3562, -1.0472, -1.5708],
        [1.3090, 3.1416, 2.3562, 0.3491, 2.3562, 1.0472, 1.5708],
    ),
    ("left_gripper", [""], [-1.0], [1.0]),
    (
        "right_arm",
        [f"j{i}" for i in range(1, 8)],
        [-4.4506, -3.1416, -2.3562, -2.0944, -2.3562, -1.0472, -1.5708],
        [1.3090, 0.1745, 2.3562, 0.3491, 2.3562, 1.0472, 1.5708],
    ),
    ("right_gripper", [""], [-1.0], [1.0]),
)


def action_spec() -> ActionSpec:
    """The 23 named dims; grippers follow OmniGibson's MultiFingerGripperController (+1 opens, -1 closes)."""
    dims: list[ActionDim] = []
    for group, names, lows, highs in _ACTION_GROUPS:
        kind = "gripper" if group.endswith("gripper") else "continuous"
        for name, lo, hi in zip(names, lows, highs):
            dims.append(ActionDim(f"{group}_{name}" if name else group, lo, hi, kind))
    return ActionSpec(tuple(dims), gripper="open_positive")


ACTION_DIM = 23
BASE_SLICE = slice(0, 3)

PROPRIO_DIMS: dict[str, int] = {
    "joint_qpos": 28,
    "joint_qpos_sin": 28,
    "joint_qpos_cos": 28,
    "joint_qvel": 28,
    "joint_qeffort": 28,
    "robot_pos": 3,
    "robot_ori_cos": 3,
    "robot_ori_sin": 3,
    "robot_2d_ori": 1,
    "robot_2d_ori_cos": 1,
    "robot_2d_ori_sin": 1,
    "robot_lin_vel": 3,
    "robot_ang_vel": 3,
    "arm_left_qpos": 7,
    "arm_left_qpos_sin": 7,
    "arm_left_qpos_cos": 7,
    "arm_left_qvel": 7,
    "eef_left_pos": 3,
    "eef_left_quat": 4,
    "gripper_left_qpos": 2,
    "gripper_left_qvel": 2,
    "arm_right_qpos": 7,
    "arm_right_qpos_sin": 7,
    "arm_right_qpos_cos": 7,
    "arm_right_qvel": 7,
    "eef_right_pos": 3,
    "eef_right_quat": 4,
    "gripper_right_qpos": 2,
    "gripper_right_qvel": 2,
    "trunk_qpos": 4,
    "trunk_qvel": 4,
    "base_qpos": 3,
    "base_qpos_sin": 3,
    "base_qpos_cos": 3,
    "base_qvel": 3,
}
DEFAULT_PROPRIO_OBS: list[str] = list(PROPRIO_DIMS)
