"""vlarl env plugin for BEHAVIOR-1K (OmniGibson, R1 Pro)."""
