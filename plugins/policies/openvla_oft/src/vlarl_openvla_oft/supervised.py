"""The official OpenVLA-OFT fine-tuning losses (``vla-scripts/finetune.py``, ``run_forward_pass``).

Training sequence (``RLDSBatchTransform`` + ``PrismaticForConditionalGeneration.forward``): the prompt
``In: What action should the robot take to {task}?\\nOut: `` followed by the C*A action tokens and ``</s>``,
tokenized ``[BOS, prompt..., "▁", a_1..a_CA, </s>]``; the action tokens' embeddings are zeroed, so the LLM
sees exactly the inference sequence. Labels are IGNORE_INDEX everywhere except the last C*A + 1 ids (the
action tokens and the stop token); image and proprio positions get IGNORE_INDEX too.

* discrete head: HF causal-LM cross-entropy, logits at position t scored against the label at t + 1
  (full vocabulary, mean over the non-ignored labels of the batch). The scored rows are the official head
  slice (from "▁", one before the first action position) plus the last action position, which predicts
  ``</s>``.
* L1 head: ``L1Loss`` between the L1 head's output on the head slice and the normalized chunk.

Padded chunk steps (past an episode's end, ``action_mask`` False) do not count: their tokens get IGNORE_INDEX
and their elements leave the L1 mean. With every step real both equal the official losses.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from vlarl_openvla_oft.prismatic import STOP_INDEX  # "</s>", labelled after the last action (predict_stop_token)

IGNORE_INDEX = -100  # prismatic/vla/constants.py


def action_token_ids(normalized: torch.Tensor, vocab_size: int, n_bins: int) -> torch.Tensor:
    """``ActionTokenizer``: ``vocab_size - np.digitize(clip(a, -1, 1), np.linspace(-1, 1, n_bins))``."""
    bins = torch.from_numpy(np.linspace(-1.0, 1.0, n_bins)).to(normalized.device)
    # np.digitize(x, bins) (right=False) is the i with bins[i-1] <= x < bins[i]: torch.bucketize(right=True)
    return vocab_size - torch.bucketize(normalized.clamp(-1, 1).double(), bins, right=True)


def discrete_labels(token_ids: torch.Tensor, step_mask: torch.Tensor) -> torch.Tensor:
    """[B, C, A] action token ids + [B, C] real steps -> [B, C*A + 1] labels (padded steps ignored, then stop)."""
    b = token_ids.shape[0]
    labels = token_ids.masked_fill(~step_mask[..., None], IGNORE_INDEX).reshape(b, -1)
    stop = torch.full((b, 1), STOP_INDEX, dtype=labels.dtype, device=labels.device)
    return torch.cat([labels, stop], dim=1)


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """[B, L, V] logits of the rows one before each label, [B, L] labels -> the mean over non-ignored labels."""
    return F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)


def masked_l1(pred: torch.Tensor, target: torch.Tensor, step_mask: torch.Tensor) -> torch.Tensor:
    """Mean |pred - target| over the elements of real steps ([B, C, A], [B, C, A], [B, C])."""
    weight = step_mask[..., None].to(pred.dtype).expand_as(pred)
    return ((pred - target).abs() * weight).sum() / weight.sum().clamp_min(1.0)


def discrete_metrics(
    logits: torch.Tensor, labels: torch.Tensor, bin_centers: torch.Tensor, vocab_size: int, action_dim: int
) -> dict[str, float]:
    """finetune.py's logged metrics: token accuracy and L1 of the decoded bins, current action vs the rest."""
    pred = logits[:, :-1].argmax(-1)  # the rows that predict action tokens
    gt = labels[:, :-1]
    real = gt != IGNORE_INDEX
    current = torch.zeros_like(real)
    current[:, :action_dim] = True

    def decode(ids: torch.Tensor) -> torch.Tensor:  # ActionTokenizer.decode_token_ids_to_actions
        return bin_centers[(vocab_size - ids - 1).clamp(0, bin_centers.shape[0] - 1)]

    out = {}
    for name, sel in (("curr_action", real & current), ("next_actions", real & ~current)):
        if sel.any():
            out[f"sft/{name}_accuracy"] = float((pred[sel] == gt[sel]).float().mean())
            out[f"sft/{name}_l1_loss"] = float((decode(pred[sel]) - decode(gt[sel])).abs().mean())
    return out


def l1_metrics(pred: torch.Tensor, target: torch.Tensor, step_mask: torch.Tensor) -> dict[str, float]:
    """finetune.py's logged L1 of the current action (step 0) and of the following steps."""
    return {
        "sft/curr_action_l1_loss": float(masked_l1(pred[:, :1], target[:, :1], step_mask[:, :1])),
        "sft/next_actions_l1_loss": float(masked_l1(pred[:, 1:], target[:, 1:], step_mask[:, 1:])),
    }
