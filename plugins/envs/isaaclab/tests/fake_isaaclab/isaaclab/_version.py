"""The release line the fake behaves as: 2 (IsaacLab 2.3) or 3 (IsaacLab 3.0), from the distribution metadata."""

import importlib.metadata

try:
    VERSION = importlib.metadata.version("isaaclab")
except importlib.metadata.PackageNotFoundError:
    VERSION = "2.3.2.post1"
GENERATION = 3 if int(VERSION.split(".")[0]) >= 3 else 2
