"""vlarl env plugin for gymnasium envs."""
