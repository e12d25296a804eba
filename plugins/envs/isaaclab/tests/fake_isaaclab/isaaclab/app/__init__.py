"""Fake of ``isaaclab.app``.

2.3: ``AppLauncher(launcher_args=None, **kwargs)`` with ``.app``. 3.0: ``launch_simulation(cfg, launcher_args)``
(a context manager) and ``AppLauncher`` as its deprecated wrapper (``app_launcher.py`` of the 3.0 wheel).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from typing import Any

from isaaclab import _log
from isaaclab._version import GENERATION

logger = logging.getLogger(__name__)


def _start(args: dict[str, Any]) -> Any:
    from isaacsim import SimulationApp

    app = SimulationApp({"headless": bool(args.get("headless", False))})
    _log.set_launched()
    _log.event(
        f"launch headless={bool(args.get('headless', False))} enable_cameras={bool(args.get('enable_cameras', False))}"
        f" device={args.get('device', 'cuda:0')}"
    )
    return app


if GENERATION >= 3:
    _RUNTIME = contextlib.ExitStack()

    class launch_simulation:  # a function returning a context manager in the real API
        """``with launch_simulation(cfg, args):`` starts the app on enter and closes it on exit."""

        def __init__(self, cfg: Any, launcher_args: argparse.Namespace | dict | None = None) -> None:
            self._args = vars(launcher_args) if isinstance(launcher_args, argparse.Namespace) else launcher_args
            self._app: Any = None

        def __enter__(self) -> None:
            self._app = _start(dict(self._args or {}))

        def __exit__(self, *exc: Any) -> None:
            self._app.close()

    class AppLauncher:
        def __init__(self, launcher_args: argparse.Namespace | dict | None = None, **kwargs: Any) -> None:
            logger.warning("AppLauncher is deprecated; use isaaclab.app.launch_simulation.")
            _log.event("deprecated AppLauncher")
            args = vars(launcher_args) if isinstance(launcher_args, argparse.Namespace) else dict(launcher_args or {})
            args.update(kwargs, require_kit=True)
            _RUNTIME.enter_context(launch_simulation(None, args))
            self.app = _LaunchedApp()

    class _LaunchedApp:
        def close(self, *args: Any, **kwargs: Any) -> None:
            _RUNTIME.close()

    __all__ = ["AppLauncher", "launch_simulation"]
else:

    class AppLauncher:  # type: ignore[no-redef]
        def __init__(self, launcher_args: argparse.Namespace | dict | None = None, **kwargs: Any) -> None:
            if isinstance(launcher_args, argparse.Namespace):
                launcher_args = vars(launcher_args)
            args = {**(launcher_args or {}), **kwargs}
            self.headless = bool(args.get("headless", False))
            self.enable_cameras = bool(args.get("enable_cameras", False))
            self.device = args.get("device", "cuda:0")
            self._app = _start(args)

        @property
        def app(self) -> Any:
            return self._app

    __all__ = ["AppLauncher"]
