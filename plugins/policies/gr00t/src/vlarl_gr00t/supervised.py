"""Supervised fine-tuning of GR00T N1.5: targets, which parts train, and the flow-matching loss.

Official references (NVIDIA Isaac-GR00T @ 4af2b622):

* targets: ``GR00TTransform._prepare_action`` (gr00t/model/transforms.py:272-299) zero-pads the normalized
  actions to ``max_action_dim`` and marks the real dims in ``action_mask``; the data config's
  ``StateActionTransform`` normalizes them first (the embodiment's modes, :mod:`vlarl_gr00t.normalization`).
* trainable parts: ``EagleBackbone.set_trainable_parameters`` (gr00t/model/backbone/eagle_backbone.py:65-83) and
  ``FlowmatchingActionHead.set_trainable_parameters`` (flow_matching_action_head.py:217-238), with the
  fine-tuning script's defaults (scripts/gr00t_finetune.py:73-82); frozen parts stay in eval mode while training
  (``set_frozen_modules_to_eval_mode``, eagle_backbone.py:85-95, flow_matching_action_head.py:240-254).
* loss: ``FlowmatchingActionHead.forward`` (flow_matching_action_head.py:270-347), see :mod:`vlarl_gr00t.flow_matching`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from vlarl.contracts.dataset import DemoBatch
from vlarl.contracts.policy import Replay, SupervisedOutput
from vlarl.errors import ContractError
from vlarl_gr00t import flow_matching as fm
from vlarl_gr00t.model import Gr00tN15
from vlarl_gr00t.register import Gr00tConfig

if TYPE_CHECKING:
    from vlarl_gr00t.policy import Gr00tPolicy

PROJECTOR = ("state_encoder", "action_encoder", "action_decoder", "position_embedding")
"""The action head's "projector" (tune_projector); ``model`` is the DiT (tune_diffusion_model). The head's
vlln, vl_self_attention and future_tokens, and the backbone's eagle_linear, are under no flag: always trained."""


def _tuned(model: Gr00tN15, config: Gr00tConfig) -> list[tuple[nn.Module, bool]]:
    eagle, head = model.backbone.eagle_model, model.action_head
    parts = [(eagle.language_model, config.tune_llm), (eagle.vision_model, config.tune_visual)]
    parts.append((eagle.mlp1, config.tune_visual))
    parts += [(m, config.tune_projector) for name in PROJECTOR if (m := getattr(head, name)) is not None]
    return [*parts, (head.model, config.tune_diffusion_model)]


def set_trainable(model: Gr00tN15, config: Gr00tConfig) -> None:
    """requires_grad by the four tune_* flags; everything they do not name stays trainable."""
    model.requires_grad_(True)
    for module, tune in _tuned(model, config):
        module.requires_grad_(tune)


def frozen_modules(model: Gr00tN15, config: Gr00tConfig) -> list[nn.Module]:
    """Modules kept in eval mode in training: the frozen ones, except mlp1 (upstream leaves it in train mode)."""
    eagle = model.backbone.eagle_model
    return [m for m, tune in _tuned(model, config) if not tune and m is not eagle.mlp1]


def targets(policy: Gr00tPolicy, batch: DemoBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Demonstrated chunks [B, C, A] in env units -> normalized float32 actions [B, H, A_model] and the loss mask.

    Targets, noise, times and x_t stay float32 whatever the model's dtype (upstream keeps float32 data under
    bf16 autocast); only x_t is cast for the network.

    The mask is the official one (valid action dims) times the chunk steps that exist: steps past an
    episode's end (``batch.action_mask`` False; unless ``sft_mask_past_episode_end`` is false) and, when
    C < H (``num_action_chunks`` below the horizon), the horizon steps the batch does not hold. Those
    missing steps repeat step C - 1 as model input, like the dataset's own padding.
    """
    head = policy.model.action_head
    actions = np.asarray(batch.actions)
    steps = np.asarray(batch.action_mask, dtype=bool)
    n, h, a = len(actions), head.action_horizon, policy.action_dim
    if actions.ndim != 3 or actions.shape[2] != a or not 1 <= actions.shape[1] <= h or steps.shape != actions.shape[:2]:
        raise ContractError(
            f"Demonstration chunks are {actions.shape} with action_mask {steps.shape}; GR00T embodiment "
            f"'{policy.embodiment.tag}' trains on [B, C <= {h}, {a}] with a [B, C] mask.",
            "Read the dataset with the policy's chunk length (num_action_chunks) and the embodiment's action keys.",
        )
    if not policy.config.sft_mask_past_episode_end:
        steps = np.ones_like(steps)
    c = actions.shape[1]
    norm = policy.embodiment.normalize_action(actions.astype(np.float64))
    norm = np.concatenate([norm, np.repeat(norm[:, -1:], h - c, axis=1)], axis=1)
    out = np.zeros((n, h, head.action_dim), dtype=np.float32)
    out[..., :a] = norm
    mask = np.zeros((n, h, head.action_dim), dtype=bool)
    mask[:, :c, :a] = steps[:, :, None]
    dev = policy.device
    return torch.from_numpy(out).to(dev), torch.from_numpy(mask).to(dev)


def _expand(x: torch.Tensor, k: int) -> torch.Tensor:
    """The batch k times over (torch ``repeat`` along dim 0, as upstream's ``expand_batch``)."""
    return x.repeat(k, *[1] * (x.ndim - 1))


def flow_matching_loss(
    policy: Gr00tPolicy,
    replay: Replay,
    actions: torch.Tensor,
    mask: torch.Tensor,
    draw: fm.FlowDraw | None = None,
    generator: torch.Generator | None = None,
) -> SupervisedOutput:
    """The official loss on prepared inputs (``replay`` as :meth:`Gr00tPolicy.prepare` makes it) and targets.

    With the config's ``expand_batch`` k (unset in released N1.5 configs), every sample counts k times, each
    copy with its own draw (flow_matching_action_head.py:276-293): the draw then covers k B rows."""
    head = policy.model.action_head
    enc = policy.encode(replay)
    k = int(head.cfg.get("expand_batch") or 1)
    context, state, cat = (_expand(enc[n], k) for n in ("context", "state_features", "cat"))  # type: ignore[arg-type]
    head_mask = None if enc["head_mask"] is None else _expand(enc["head_mask"], k)
    actions, mask = _expand(actions, k), _expand(mask, k)
    dist = fm.TimeDistribution.from_head(head.cfg)
    d = draw if draw is not None else fm.draw(tuple(actions.shape), dist, actions.device, actions.dtype, generator)
    if tuple(d.noise.shape) != tuple(actions.shape) or tuple(d.t.shape) != (actions.shape[0],):
        raise ContractError(
            f"The flow draw has noise {tuple(d.noise.shape)} and t {tuple(d.t.shape)}; the targets need noise "
            f"{tuple(actions.shape)} and t ({actions.shape[0]},).",
            "Draw the noise at the head's padded action shape [B, action_horizon, action_dim] and one t per sample.",
        )
    noise, t = d.noise.to(actions.device, actions.dtype), d.t.to(actions.device, actions.dtype)
    x_t, target = fm.noisy_trajectory(actions, fm.FlowDraw(noise, t))
    t_disc = fm.discretize(t, head.num_timestep_buckets)
    pred, _ = head.predict(x_t.to(policy._dtype), t_disc, context, head_mask, state, cat)
    loss = fm.masked_mse(pred, target, mask)
    return SupervisedOutput(loss, {"sft/t_mean": float(t.float().mean())})
