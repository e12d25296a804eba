"""Declares this package's IsaacLab task to vlarl-isaaclab (light: no isaaclab, no torch)."""

import vlarl

TASK_ID = "Vlarl-Example-Reach-Franka-v0"


# optionalhook: this module must not break vlarl when vlarl-isaaclab (the hook's owner) is absent.
@vlarl.hookimpl(optionalhook=True)
def vlarl_isaaclab_tasks() -> list[dict]:
    return [
        {
            "id": TASK_ID,
            "module": "my_isaaclab_task.tasks",
            "description": "Move the gripper to the target and keep it open.",
            "wrist_image_term": None,
            "wrist_image_sensor": None,
            "state_terms": [["eef_pos", "raw"], ["gripper_pos", "raw"]],
            "max_episode_steps": 64,
        }
    ]
