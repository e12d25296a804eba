from omnigibson.envs.env_base import Environment
from omnigibson.envs.vec_env_base import VectorEnvironment

__all__ = ["Environment", "VectorEnvironment"]
