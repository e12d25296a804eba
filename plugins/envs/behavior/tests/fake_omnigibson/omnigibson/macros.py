"""Fake ``omnigibson.macros``: ``gm`` as a ``MacroDict`` that, like the real one, refuses a change once read.

Real ``MacroDict.__setattr__``: "Cannot set attribute {name} in MacroDict, it has already been used. If
knowingly overwriting value, set value within context `with unlocked()`"; reading ``gm.X`` records X in
``gm["_read"]`` (item access does not).
"""

import contextlib
import os


class MacroDict(dict):
    def __init__(self):
        super().__init__()
        self["_read"] = set()
        object.__setattr__(self, "_locked", True)

    def __setattr__(self, name, value):
        if name in self["_read"] and self._locked:
            raise AttributeError(
                f"Cannot set attribute {name} in MacroDict, it has already been used. "
                f"If knowingly overwriting value, set value within context `with unlocked()`"
            )
        self[name] = value

    def __getattr__(self, item):
        if item.startswith("__"):
            raise AttributeError(item)
        self["_read"].add(item)
        try:
            return self[item]
        except KeyError:
            raise AttributeError(f"'MacroDict' object has no attribute '{item}'") from None

    @contextlib.contextmanager
    def unlocked(self):
        object.__setattr__(self, "_locked", False)
        try:
            yield
        finally:
            object.__setattr__(self, "_locked", True)


def _data_path():
    path = os.environ.get("OMNIGIBSON_DATA_PATH", "")
    # The real determine_data_path() asserts at import time.
    assert path and os.path.exists(path), f"Data path {path} does not exist!"
    return path


gm = MacroDict()
gm.DATA_PATH = _data_path()
gm.GPU_ID = os.getenv("OMNIGIBSON_GPU_ID", None)
gm.HEADLESS = os.getenv("OMNIGIBSON_HEADLESS", "False").lower() in ("true", "1", "t")
gm.USE_NUMPY_CONTROLLER_BACKEND = True
gm.USE_GPU_DYNAMICS = False
gm.ENABLE_FLATCACHE = False
gm.ENABLE_OBJECT_STATES = True
gm.ENABLE_TRANSITION_RULES = True
gm.DEFAULT_SIM_STEP_FREQ = 30
gm.DEFAULT_RENDERING_FREQ = 30
gm.DEFAULT_PHYSICS_FREQ = 120
gm["_read"].clear()  # the assignments above do not count as reads
