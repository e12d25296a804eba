"""Exact-resume state for optimizer-based algorithms."""

from __future__ import annotations

from typing import Any

import torch


class OptimizerResumeState:
    """``state_dict``/``load_state_dict`` over ``optimizer``, ``num_updates`` and the minibatch ``generator``.

    A state loaded before ``setup()`` has built the optimizer is kept and applied by
    :meth:`apply_pending_state`, which ``setup()`` calls once the optimizer exists.
    """

    optimizer: torch.optim.Optimizer | None = None
    num_updates: int = 0
    generator: torch.Generator
    _pending_state: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "num_updates": self.num_updates,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.optimizer is None:
            self._pending_state = state
            return
        self._pending_state = None
        if state.get("optimizer") is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        self.num_updates = int(state.get("num_updates", 0))
        if state.get("generator") is not None:
            self.generator.set_state(state["generator"])

    def apply_pending_state(self) -> None:
        if self._pending_state is not None:
            self.load_state_dict(self._pending_state)
