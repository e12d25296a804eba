"""One error type for everything a user can fix: it names the problem and the fix."""

from __future__ import annotations


class VlarlError(Exception):
    """A user-facing error. The CLI prints ``problem`` and ``fix`` without a traceback."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(problem if fix is None else f"{problem}\nFix: {fix}")


class ConfigError(VlarlError):
    """A malformed or inconsistent configuration."""


class PluginError(VlarlError):
    """An unknown, broken, duplicated or unsatisfied plugin."""


class ContractError(VlarlError):
    """An env, policy or algorithm that breaks its contract (raised by the conformance kit)."""
