"""Registration of the ``grpo`` algorithm plugin (light: no torch import)."""

from __future__ import annotations

from dataclasses import dataclass

import vlarl


@dataclass
class GRPOConfig:
    group_size: int = 8
    """G: consecutive groups of G sub-envs start from one initial state; env.num_envs must be a multiple."""
    adv_eps: float = 1e-6
    """advantage = (return - group mean) / (group std + adv_eps)."""
    normalize_by_std: bool = True
    """False: advantage = return - group mean (no division by the group std)."""
    advantage: str = "episode"
    """``episode`` (GRPO): every chunk of a trajectory gets the trajectory's group-normalised return.
    ``reward_to_go``: each chunk gets its return-to-go minus the group's mean return-to-go at that chunk (divided
    by the group's return std when ``normalize_by_std``), so a chunk is credited only with the rewards after it;
    per-chunk credit without a critic, useful with a dense (e.g. shaped) reward."""
    filter_equal_returns: bool = False
    """Drop groups whose returns are all equal (no learning signal) from the loss."""
    returns_lower_bound: float | None = None
    """Drop groups whose mean return is below this (e.g. tasks never solved)."""
    returns_upper_bound: float | None = None
    """Drop groups whose mean return is above this (e.g. tasks always solved)."""
    lr: float = 1e-4
    lr_anneal_updates: int | None = None
    """Decay the learning rate linearly to 0 over this many update() calls; None: constant."""
    adam_eps: float = 1e-5
    weight_decay: float = 0.0
    update_epochs: int = 1
    num_minibatches: int = 1
    clip_ratio_low: float = 0.2
    clip_ratio_high: float = 0.2
    clip_ratio_c: float | None = None
    """Dual clip (> 1) for negative advantages."""
    loss_agg_func: str = "token-mean"
    """How the clipped surrogate is averaged. ``token-mean`` (RLinf's default): every valid log-prob entry of a
    minibatch weighs the same, so a long (often failed) episode weighs more than a short success.
    ``seq-mean-token-mean`` (DeepSeekMath's GRPO, 1/|o_i| per trajectory): each trajectory's entries share one
    weight, so every episode counts the same however long it ran."""
    entropy_coef: float = 0.0
    max_grad_norm: float | None = 1.0
    target_kl: float | None = None
    """Stop the epochs of an update once a minibatch's approx_kl exceeds 1.5 * target_kl."""
    seed: int = 0
    """Seed of the minibatch shuffling."""


@vlarl.hookimpl
def vlarl_register() -> list[vlarl.PluginSpec]:
    return [
        vlarl.PluginSpec(
            kind="algo",
            name="grpo",
            factory="vlarl_grpo.algorithm:make",
            description="GRPO: G rollouts per initial state, (return - group mean) / group std advantages, no critic.",
            config=GRPOConfig,
            requirements=(vlarl.Requirement("python", "torch", "pip install torch"),),
        )
    ]
