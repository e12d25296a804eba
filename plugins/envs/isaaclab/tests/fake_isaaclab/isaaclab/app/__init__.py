"""Fake of ``isaaclab.app``: ``AppLauncher(launcher_args=None, **kwargs)`` with ``.app``."""

from __future__ import annotations

import argparse
from typing import Any

from isaaclab import _log


class AppLauncher:
    def __init__(self, launcher_args: argparse.Namespace | dict | None = None, **kwargs: Any) -> None:
        if isinstance(launcher_args, argparse.Namespace):
            launcher_args = vars(launcher_args)
        args = {**(launcher_args or {}), **kwargs}
        self.headless = bool(args.get("headless", False))
        self.enable_cameras = bool(args.get("enable_cameras", False))
        self.device = args.get("device", "cuda:0")
        from isaacsim import SimulationApp

        self._app = SimulationApp({"headless": self.headless})
        _log.set_launched()
        _log.event(f"launch headless={self.headless} enable_cameras={self.enable_cameras} device={self.device}")

    @property
    def app(self) -> Any:
        return self._app
