"""The RL algorithm contract.

An algorithm owns its optimizer. Per iteration the runner fills a
:class:`~vlarl.contracts.buffer.RolloutBuffer` (shape [n_chunks, N, C]), then
calls ``compute_advantages(buffer)`` and ``update(policy, buffer)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from vlarl.contracts.buffer import RolloutBuffer
from vlarl.contracts.policy import ChunkedPolicy


class Algorithm(ABC):
    requires_critic: ClassVar[bool] = False

    def reset_options(self) -> dict[str, Any] | None:
        """Options passed to ``env.reset`` at the start of each rollout, or None to autoreset only.

        Algorithms that compare rollouts from one initial state (GRPO) return
        ``{"group_size": G}`` and get a fresh reset before every rollout.
        """
        return None

    @abstractmethod
    def setup(self, policy: ChunkedPolicy) -> None:
        """Build optimizers and schedulers for ``policy``; called once before training."""

    @abstractmethod
    def compute_advantages(self, buffer: RolloutBuffer) -> dict[str, float]:
        """Fill ``buffer.advantages`` and ``buffer.returns``; return ``rollout/*`` metrics."""

    @abstractmethod
    def update(self, policy: ChunkedPolicy, buffer: RolloutBuffer) -> dict[str, float]:
        """Epochs of minibatch updates; returns finite ``actor/*``/``critic/*`` metrics."""

    def state_dict(self) -> dict[str, Any]:
        """Optimizer/scheduler state for exact resume."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
