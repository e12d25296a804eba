"""The chunked policy contract (a torch module).

``act`` maps an observation batch to action chunks [N, C, A] in the env's
units, their log-probabilities, values (when the policy has a critic) and a
*replay record*: the tensors ``evaluate`` needs to recompute the same
log-probabilities differentiably. At unchanged weights ``evaluate(replay)``
reproduces ``act``'s log-probs (the conformance kit checks 1e-5 in float32).

Shapes by declared granularity (``logprob_type``):

* ``"token"``: [N, C, T] (T tokens or factors per action, often A)
* ``"action"``: [N, C]
* ``"chunk"``: [N]

Values by ``value_type``: ``"chunk"`` [N] (one per decision) or ``"action"``
[N, C] (one per sub-step). Entropy has the shape of the log-probs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal

import torch
from torch import nn

from vlarl.contracts.observation import ObsBatch
from vlarl.contracts.spaces import GripperConvention

if TYPE_CHECKING:
    from vlarl.contracts.dataset import DemoBatch, DemoStatistics

LogProbType = Literal["token", "action", "chunk"]
ValueType = Literal["chunk", "action"]
Replay = dict[str, torch.Tensor]
"""Tensors with a leading batch dim N; stackable across chunks by the buffer."""


@dataclass
class ActOutput:
    actions: torch.Tensor  # float32 [N, C, A], env units
    log_probs: torch.Tensor  # see module docstring
    values: torch.Tensor | None
    replay: Replay


@dataclass
class EvalOutput:
    log_probs: torch.Tensor
    entropy: torch.Tensor
    values: torch.Tensor | None


@dataclass
class SupervisedOutput:
    loss: torch.Tensor  # scalar, differentiable
    metrics: dict[str, float] = field(default_factory=dict)


class ChunkedPolicy(nn.Module, ABC):
    """Base class for every policy plugin."""

    logprob_type: ClassVar[LogProbType] = "action"
    value_type: ClassVar[ValueType] = "chunk"
    gripper_convention: GripperConvention = "none"
    """Sign convention of the gripper dims this policy outputs; the runner converts."""

    action_chunk: int
    action_dim: int
    has_critic: bool
    unused_parameters: tuple[str, ...] = ()
    """Name prefixes of parameters no output depends on (e.g. a ViT block after the one whose features
    are read). The conformance kit expects every other trainable parameter to receive a gradient."""

    @abstractmethod
    def act(self, obs: ObsBatch, deterministic: bool = False) -> ActOutput:
        """Sample (or pick greedily) action chunks. Runs under ``torch.no_grad`` in rollouts."""

    @abstractmethod
    def evaluate(self, replay: Replay) -> EvalOutput:
        """Recompute log-probs, entropy and values differentiably from a replay record."""

    def supervised_loss(self, batch: DemoBatch) -> SupervisedOutput:
        """The policy's own loss for learning from demonstrations (behaviour cloning / SFT).

        ``batch.actions`` [B, C, A] are in env units and already in this policy's gripper
        convention; ``batch.action_mask`` [B, C] marks the real (non-padded) steps. Policies
        that mirror an official model implement its official fine-tuning loss.
        """
        raise NotImplementedError(f"{type(self).__name__} does not define a supervised loss")

    def fit_normalization(self, stats: DemoStatistics) -> None:
        """Called once before supervised training from scratch with the dataset's statistics.

        Policies that normalize inputs from data (e.g. per-dim state standardization) store them in
        buffers, so checkpoints carry them into RL. Policies whose statistics come from an official
        checkpoint leave this a no-op.
        """

    def fsdp_units(self) -> list[nn.Module]:
        """Submodules that FSDP2 shards as their own units when the actor trains on several ranks.

        A unit's parameters are gathered just before it runs and freed after it, so peak memory is one
        unit's full parameters, not the whole model's: return the repeated blocks of a large model (its
        transformer layers), innermost first or in any order (the host shards nested units first). Each must
        be a submodule of the policy; what no unit holds belongs to the root unit. Default: no units, the
        whole policy is gathered at once (right for small models, where more units only add collectives).
        """
        return []

    @property
    def supports_supervised(self) -> bool:
        return type(self).supervised_loss is not ChunkedPolicy.supervised_loss

    @torch.no_grad()
    def predict_values(self, obs: ObsBatch) -> torch.Tensor | None:
        """Critic values for ``obs`` (used to bootstrap truncated episodes)."""
        return self.act(obs, deterministic=True).values

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")
