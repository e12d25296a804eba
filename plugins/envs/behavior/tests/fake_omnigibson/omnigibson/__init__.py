"""A fake `omnigibson` for vlarl-behavior's tests: the public shape of BEHAVIOR-1K's OmniGibson.

Two API generations, chosen by ``FAKE_OG_API``:

* ``main`` (default): current main after "Merge vector into main" (``__version__`` 3.9.2): one
  ``og.Environment(configs)`` holds ``config["env"]["num_envs"]`` scenes; ``env.robots[env_idx]`` is that
  scene's robot list, ``env.task.object_scopes[env_idx]``, ``env.reset(env_indices=...)``; no
  ``VectorEnvironment``.
* ``3.7``: ``og.envs.VectorEnvironment(num_envs, config)`` of ``Environment(configs, in_vec_env=True)``s.

Mirrors: ``og.sim`` (None until launched), ``og.launch(...)``, ``og.shutdown()`` (ends the process),
``omnigibson.macros.gm`` (locks a macro once read). No physics, no rendering: one simulator steps every
scene at once, images and proprioception are cheap deterministic functions of the task state.
"""

import os
import sys

from omnigibson.macros import gm
from omnigibson.simulator import Simulator

API = os.environ.get("FAKE_OG_API", "main")
__version__ = "3.7.1" if API == "3.7" else "3.9.2"
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
from omnigibson.envs import Environment  # noqa: E402

__all__ = ["API", "Environment", "envs", "gm", "launch", "shutdown", "sim"]
