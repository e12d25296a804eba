"""vlarl env plugin for IsaacLab: see README.md. Importing this package is light."""
