from isaaclab_tasks._stack_mdp import cubes_stacked, eef_below, time_out

__all__ = ["cubes_stacked", "eef_below", "time_out"]
