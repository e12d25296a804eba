"""The RL algorithm contract.

An algorithm owns its optimizer. Per iteration the runner fills a
:class:`~vlarl.contracts.buffer.RolloutBuffer` (shape [n_chunks, N, C]), then
calls ``compute_advantages(buffer)`` and ``update(policy, buffer)``.

When the actor is a group of ranks (``cluster.component_placement.actor`` with several devices), each
rank's algorithm gets its shard of the rollout (contiguous sub-envs) and ``dist``, a
:class:`~vlarl.distributed.DistContext` set by the runner before the first rollout: whatever the
algorithm computes over the whole batch (advantage normalization, group statistics, gradient norms,
metrics) goes through it to stay global. Its default is the single-process context.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from vlarl.contracts.buffer import RolloutBuffer
from vlarl.contracts.policy import ChunkedPolicy
from vlarl.distributed.context import LOCAL, DistContext


class Algorithm(ABC):
    requires_critic: ClassVar[bool] = False
    dist: DistContext = LOCAL
    """World size, rank and global statistics; the runner replaces it on actor ranks of a group."""
    supports_distributed: ClassVar[bool] = False
    """True once the algorithm keeps its statistics global through ``dist``; the runner refuses more than
    one actor rank for an algorithm that does not."""

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
