"""vlarl env plugin for the LIBERO benchmark (robosuite on MuJoCo), run on the CPU."""
