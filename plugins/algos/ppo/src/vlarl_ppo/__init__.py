"""vlarl algorithm plugin: PPO (GAE, clipped ratio, value clipping) over action chunks."""
