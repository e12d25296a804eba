"""Group-relative trajectory advantages over a rollout [T, N, C].

Only the first episode of each sub-env counts: the env is reset (with shared
initial states per group) before every rollout, so that episode is the one
that started from the group's state; steps after its first done are masked.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def first_episode_mask(valid: torch.Tensor, dones: torch.Tensor) -> torch.Tensor:
    """Bool [T, N, C]: valid sub-steps up to and including each sub-env's first done."""
    t, n, c = valid.shape
    ends = (dones & valid).permute(0, 2, 1).reshape(t * c, n).long()
    ended_before = (ends.cumsum(0) - ends).reshape(t, c, n).permute(0, 2, 1) > 0
    return valid & ~ended_before


@dataclass
class GroupAdvantages:
    advantages: torch.Tensor  # [N] one per trajectory (0 for filtered groups)
    returns: torch.Tensor  # [N] first-episode return
    keep: torch.Tensor  # bool [N]: trajectory belongs to a group that was not filtered
    filtered_groups: int


def group_advantages(
    returns: torch.Tensor,
    group_size: int,
    eps: float = 1e-6,
    normalize_by_std: bool = True,
    filter_equal: bool = False,
    lower: float | None = None,
    upper: float | None = None,
) -> GroupAdvantages:
    """(R - group mean) / (group std + eps) with the unbiased std over each group of ``group_size``."""
    groups = returns.reshape(-1, group_size)
    mean = groups.mean(1, keepdim=True)
    adv = groups - mean
    if normalize_by_std:
        adv = adv / (groups.std(1, keepdim=True) + eps)
    keep = torch.ones(groups.shape[0], dtype=torch.bool, device=returns.device)
    if filter_equal:
        keep &= (groups.max(1).values - groups.min(1).values) > 1e-8
    if lower is not None:
        keep &= mean.squeeze(1) >= lower
    if upper is not None:
        keep &= mean.squeeze(1) <= upper
    adv = torch.where(keep[:, None], adv, torch.zeros_like(adv))
    return GroupAdvantages(
        adv.reshape(-1),
        returns,
        keep[:, None].expand_as(groups).reshape(-1),
        int((~keep).sum()),
    )


def reward_to_go_advantages(
    rewards: torch.Tensor,
    first: torch.Tensor,
    group_size: int,
    episode: GroupAdvantages,
    eps: float = 1e-6,
    normalize_by_std: bool = True,
) -> torch.Tensor:
    """[T, N] per-chunk advantages: each chunk's return-to-go minus its group's mean return-to-go at that chunk.

    ``rewards`` [T, N, C] is already masked to the first episodes (``first``). The return-to-go from chunk t
    sums the rewards of chunks t, t+1, ... of the first episode, so a chunk is credited only with what came
    after it (REINFORCE's reward-to-go). The baseline at chunk t is the mean over the group's members whose
    first episode is still running there. With ``normalize_by_std`` a group's deviations are divided by their
    own std (over its running chunks): not by the std of its returns, which can be near 0 (four successes earn
    the same shaped return) while the deviations, set by where each member stood at chunk t, are not.
    Chunks after a first episode, and every chunk of a filtered group, get 0."""
    t, n, _ = rewards.shape
    per_chunk = rewards.sum(-1)
    to_go = per_chunk.flip(0).cumsum(0).flip(0)  # [T, N]
    alive = first.any(-1).to(to_go.dtype)  # [T, N]
    g_to_go = (to_go * alive).reshape(t, -1, group_size)
    g_alive = alive.reshape(t, -1, group_size)
    baseline = g_to_go.sum(-1, keepdim=True) / g_alive.sum(-1, keepdim=True).clamp(min=1)
    adv = (g_to_go - baseline) * g_alive
    if normalize_by_std:
        count = g_alive.sum((0, 2))
        var = (adv**2).sum((0, 2)) / (count - 1).clamp(min=1)  # the deviations have mean 0 at every chunk
        adv = adv / (var.sqrt() + eps)[None, :, None]
    keep = episode.keep.reshape(-1, group_size)[None]
    return torch.where(keep, adv, torch.zeros_like(adv)).reshape(t, n)
