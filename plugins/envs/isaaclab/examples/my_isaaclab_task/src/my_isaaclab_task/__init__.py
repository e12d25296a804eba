"""Example user task package for vlarl-isaaclab (importing it is light)."""
