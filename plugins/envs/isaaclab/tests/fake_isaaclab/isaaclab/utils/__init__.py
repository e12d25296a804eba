"""Fake of ``isaaclab.utils``: ``configclass`` (the real one turns the class into a dataclass)."""


def configclass(cls):
    return cls
