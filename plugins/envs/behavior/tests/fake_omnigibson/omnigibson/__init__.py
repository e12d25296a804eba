"""A fake `omnigibson` for vlarl-behavior's tests: the public shape of BEHAVIOR-1K's OmniGibson 3.7.

Mirrors: ``og.sim`` (None until launched), ``og.launch(...)``, ``og.shutdown()`` (ends the process),
``og.Environment(configs=...)``, ``og.envs.VectorEnvironment(num_envs, config)``, ``omnigibson.macros.gm``.
No physics, no rendering: camera images and proprioception are cheap deterministic functions of the
task state, so tests can check where each value ends up.
"""

import os
import sys

from omnigibson.macros import gm
from omnigibson.simulator import Simulator

sim = None
example_config_path = os.path.join(os.path.dirname(__file__), "configs")


def launch(physics_dt, rendering_dt, sim_step_dt, device=None, viewer_width=1280, viewer_height=720):
    global sim
    if sim is None:
        sim = Simulator(physics_dt, rendering_dt, sim_step_dt, device, viewer_width, viewer_height)
    return sim


def shutdown(due_to_signal=False):
    # The real one closes the Kit app and exits the process.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


from omnigibson import envs  # noqa: E402
from omnigibson.envs import Environment, VectorEnvironment  # noqa: E402

__all__ = ["Environment", "VectorEnvironment", "envs", "gm", "launch", "shutdown", "sim"]
