"""Fake ``omnigibson.macros``: the ``gm`` global macros the plugin sets."""

import os


class _Macros:
    def __init__(self):
        path = os.environ.get("OMNIGIBSON_DATA_PATH", "")
        # The real determine_data_path() asserts at import time.
        assert path and os.path.exists(path), f"Data path {path} does not exist!"
        self.DATA_PATH = path
        self.HEADLESS = False
        self.USE_GPU_DYNAMICS = False
        self.ENABLE_OBJECT_STATES = True
        self.ENABLE_TRANSITION_RULES = True
        self.ENABLE_FLATCACHE = False
        self.USE_NUMPY_CONTROLLER_BACKEND = True
        self.DEFAULT_SIM_STEP_FREQ = 30
        self.DEFAULT_RENDERING_FREQ = 30
        self.DEFAULT_PHYSICS_FREQ = 120
        self.GPU_ID = os.environ.get("OMNIGIBSON_GPU_ID")


gm = _Macros()
