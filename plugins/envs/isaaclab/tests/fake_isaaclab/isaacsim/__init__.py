"""Test fake of ``isaacsim`` (Isaac Sim's pip metapackage): only ``SimulationApp``."""

from isaaclab import _log


class SimulationApp:
    def __init__(self, config: dict | None = None) -> None:
        self.config = dict(config or {})
        self._running = True

    def is_running(self) -> bool:
        return self._running

    def close(self) -> None:
        self._running = False
        _log.event("app.close")
