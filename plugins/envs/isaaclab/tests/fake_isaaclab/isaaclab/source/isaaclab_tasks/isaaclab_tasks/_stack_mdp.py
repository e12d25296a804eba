"""Toy termination terms with the real names (cubes_stacked -> 'success')."""

import torch


def time_out(env) -> torch.Tensor:
    return env.episode_length_buf >= env.max_episode_length


def eef_below(env, minimum_height: float = -0.2) -> torch.Tensor:
    return env.eef_pos[:, 2] < minimum_height


def cubes_stacked(env, threshold: float = 0.08) -> torch.Tensor:
    # stand-in for the real check: at the goal with the gripper open
    return ((env.eef_pos - env.goal).norm(dim=-1) < threshold) & (env.gripper > 0.02)
