import omnigibson as og
from omnigibson.envs.env_base import Environment

if og.API == "3.7":
    from omnigibson.envs.vec_env_base import VectorEnvironment

    __all__ = ["Environment", "VectorEnvironment"]
else:
    __all__ = ["Environment"]
