"""GRPO over rollouts of action chunks (the :class:`vlarl.contracts.algorithm.Algorithm` contract)."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import torch

from vlarl.contracts.algorithm import Algorithm
from vlarl.contracts.buffer import RolloutBuffer
from vlarl.contracts.env import GROUP_SIZE_OPTION
from vlarl.contracts.policy import ChunkedPolicy
from vlarl.errors import ConfigError, ContractError, VlarlError
from vlarl.rl.losses import broadcast_to, clipped_policy_loss, mask_like, masked_mean
from vlarl.rl.state import OptimizerResumeState
from vlarl_grpo.advantages import first_episode_mask, group_advantages, reward_to_go_advantages
from vlarl_grpo.register import GRPOConfig

LOSS_AGG_FUNCS = ("token-mean", "seq-mean-token-mean")
ADVANTAGES = ("episode", "reward_to_go")


def trajectory_lengths(lp_mask: torch.Tensor) -> torch.Tensor:
    """[N]: the counted log-prob entries of each trajectory (lp_mask is [T, N, ...])."""
    return lp_mask.transpose(0, 1).reshape(lp_mask.shape[1], -1).sum(1).to(torch.float32)


def trajectory_weights(lengths: torch.Tensor, mean_length: float) -> torch.Tensor:
    """[N]: ``mean_length / L_n`` for a trajectory of L_n counted entries (0 where it has none).

    The clipped surrogate is linear in a positive scale of the advantage, so scaling trajectory n's advantage by
    this turns the token mean over the rollout, sum_n sum_t l_nt / sum_n L_n, into the trajectory mean
    (1/N) sum_n (1/L_n) sum_t l_nt, with the minibatches and their (distributed) token counts unchanged."""
    return torch.where(lengths > 0, mean_length / lengths.clamp(min=1), torch.zeros_like(lengths))


class NonFiniteLossError(VlarlError):
    """A loss term became NaN or inf; raised before the optimizer steps, so weights stay untouched."""


def check_config(cfg: GRPOConfig) -> None:
    if cfg.group_size < 2:
        raise ConfigError(
            f"algorithm.group_size={cfg.group_size}: GRPO compares at least 2 rollouts per initial state.",
            "Set algorithm.group_size >= 2 (and env.num_envs to a multiple of it).",
        )
    if cfg.update_epochs < 1 or cfg.num_minibatches < 1:
        raise ConfigError("algorithm.update_epochs/num_minibatches must be >= 1.", "Set both to positive integers.")
    if cfg.clip_ratio_low < 0 or cfg.clip_ratio_low >= 1 or cfg.clip_ratio_high < 0:
        raise ConfigError(
            "algorithm.clip_ratio_low/clip_ratio_high need 0 <= low < 1, high >= 0.", "E.g. 0.2 and 0.28."
        )
    if cfg.clip_ratio_c is not None and cfg.clip_ratio_c <= 1.0:
        raise ConfigError(f"algorithm.clip_ratio_c={cfg.clip_ratio_c}: dual clip must be > 1.", "Use e.g. 3.0 or null.")
    if cfg.loss_agg_func not in LOSS_AGG_FUNCS:
        raise ConfigError(
            f"algorithm.loss_agg_func={cfg.loss_agg_func!r} is not one of {', '.join(LOSS_AGG_FUNCS)}.",
            "Use token-mean (every log-prob entry weighs the same) or seq-mean-token-mean (every trajectory does).",
        )
    if cfg.advantage not in ADVANTAGES:
        raise ConfigError(
            f"algorithm.advantage={cfg.advantage!r} is not one of {', '.join(ADVANTAGES)}.",
            "Use episode (GRPO: one advantage per trajectory) or reward_to_go (one per chunk, from the rewards after it).",
        )
    lo, hi = cfg.returns_lower_bound, cfg.returns_upper_bound
    if lo is not None and hi is not None and lo > hi:
        raise ConfigError(
            f"algorithm.returns_lower_bound={lo} > algorithm.returns_upper_bound={hi}: every group would be filtered.",
            "Swap the bounds or unset one.",
        )


class GRPO(OptimizerResumeState, Algorithm):
    requires_critic = False
    supports_distributed = True
    """Groups never straddle actor ranks (the runner checks that each rank's envs hold whole groups), so
    group statistics are local; everything else goes through ``self.dist``."""

    def __init__(self, cfg: GRPOConfig) -> None:
        check_config(cfg)
        self.cfg = cfg
        self.optimizer: torch.optim.Optimizer | None = None
        self.num_updates = 0
        self.generator = torch.Generator().manual_seed(cfg.seed)
        # Set by compute_advantages for update: (id(buffer), loss mask [T, N, C], advantage per chunk [T, N]).
        self._rollout: tuple[int, torch.Tensor, torch.Tensor] | None = None

    def reset_options(self) -> dict[str, Any]:
        return {GROUP_SIZE_OPTION: self.cfg.group_size}

    def setup(self, policy: ChunkedPolicy) -> None:
        params = [p for p in policy.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(
            params, lr=self.cfg.lr, eps=self.cfg.adam_eps, weight_decay=self.cfg.weight_decay
        )
        for g in self.optimizer.param_groups:
            g["initial_lr"] = g["lr"]
        self.apply_pending_state()

    def compute_advantages(self, buffer: RolloutBuffer) -> dict[str, float]:
        cfg = self.cfg
        n = buffer.num_envs
        if n % cfg.group_size:
            raise ConfigError(
                f"algorithm.group_size={cfg.group_size} does not divide env.num_envs={n}.",
                "Set env.num_envs to a multiple of algorithm.group_size.",
            )
        first = first_episode_mask(buffer.valid, buffer.dones)
        rewards = torch.where(first, buffer.rewards.float(), torch.zeros_like(buffer.rewards, dtype=torch.float32))
        returns = rewards.sum((0, 2))
        g = group_advantages(
            returns,
            cfg.group_size,
            cfg.adv_eps,
            cfg.normalize_by_std,
            cfg.filter_equal_returns,
            cfg.returns_lower_bound,
            cfg.returns_upper_bound,
        )
        mask = first & g.keep[None, :, None]
        zeros = torch.zeros_like(rewards)
        if cfg.advantage == "reward_to_go":
            per_chunk = reward_to_go_advantages(rewards, first, cfg.group_size, g, cfg.adv_eps, cfg.normalize_by_std)
        else:
            per_chunk = g.advantages[None, :].expand(rewards.shape[0], -1)
        buffer.advantages = torch.where(mask, per_chunk[..., None].expand_as(rewards), zeros)
        buffer.returns = torch.where(first, returns[None, :, None].expand_as(rewards), zeros)
        self._rollout = (id(buffer), mask, per_chunk)
        finished = (buffer.dones & first).any(-1).any(0)
        dist = self.dist
        all_returns = dist.gather(returns)  # [N] per rank: the whole rollout's returns on every rank
        counts = dist.sum(torch.tensor([float(g.filtered_groups), float((~finished).sum())], dtype=torch.float64))
        return {
            "rollout/returns_mean": float(all_returns.mean()),
            "rollout/returns_std": float(all_returns.std()) if all_returns.numel() > 1 else 0.0,
            "rollout/advantages_mean": dist.masked_mean(buffer.advantages, mask),
            "rollout/rewards_mean": dist.masked_mean(rewards, first),
            "rollout/filtered_groups": float(counts[0]),
            "rollout/unfinished_episodes": float(counts[1]),
        }

    def _check_finite(self, name: str, value: torch.Tensor) -> None:
        if not torch.isfinite(value).all():
            raise NonFiniteLossError(
                f"{name} is {float(value.detach())} (not finite); the update stopped before the optimizer step, "
                "so the weights and the last checkpoint are intact.",
                "Lower algorithm.lr, set algorithm.max_grad_norm, or check the policy's log-probs for NaN/inf.",
            )

    def update(self, policy: ChunkedPolicy, buffer: RolloutBuffer) -> dict[str, float]:
        cfg = self.cfg
        if self.optimizer is None:
            raise ContractError("GRPO.update() called before setup(policy).", "Call algorithm.setup(policy) first.")
        if self._rollout is None or self._rollout[0] != id(buffer):
            raise ContractError("GRPO.update() called before compute_advantages(buffer).", "Call it first.")
        frac = 1.0
        if cfg.lr_anneal_updates:
            frac = max(0.0, 1.0 - self.num_updates / cfg.lr_anneal_updates)
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * frac

        old_lp = buffer.log_probs.float()
        _, mask, per_chunk_adv = self._rollout
        lp_mask = mask_like(mask, old_lp)
        if cfg.loss_agg_func == "seq-mean-token-mean":
            lengths = trajectory_lengths(lp_mask)
            totals = self.dist.sum(torch.stack([lengths.sum(), (lengths > 0).sum()]).double())  # all ranks' N
            per_chunk_adv = per_chunk_adv * trajectory_weights(lengths, float(totals[0] / totals[1].clamp(min=1)))
        adv = broadcast_to(per_chunk_adv, old_lp)

        def flat(x: torch.Tensor) -> torch.Tensor:
            return x.reshape(-1, *x.shape[2:])

        f_lp, f_mask, f_adv = flat(old_lp), flat(lp_mask), flat(adv)
        replay = buffer.flat("replay")
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        sums: dict[str, float] = defaultdict(float)
        count = 0
        stop = False
        dist = self.dist
        for _ in range(cfg.update_epochs):
            for idx, empty in dist.minibatches(buffer, cfg.num_minibatches, self.generator):
                m = torch.zeros_like(f_mask[idx]) if empty else f_mask[idx]
                if dist.distributed:
                    n_lp, g_lp = dist.counts((f_lp[idx], m))
                    if float(g_lp) == 0:
                        continue  # no rank holds an entry of this minibatch that counts
                    w = dist.weight(n_lp, g_lp)
                elif not m.any():
                    continue  # nothing of this minibatch counts (all filtered or after first episodes)
                out = policy.evaluate({k: v[idx] for k, v in replay.items()})
                pg_loss, stats = clipped_policy_loss(
                    out.log_probs.float(), f_lp[idx], f_adv[idx], m,
                    cfg.clip_ratio_low, cfg.clip_ratio_high, cfg.clip_ratio_c,
                )  # fmt: skip
                entropy = masked_mean(out.entropy.float(), m)
                if dist.distributed:  # each term becomes this rank's part of the global minibatch mean
                    pg_loss, entropy, stats = pg_loss * w, entropy * w, {k: v * w for k, v in stats.items()}
                loss = pg_loss - cfg.entropy_coef * entropy
                row = torch.stack([loss, pg_loss, entropy, stats["approx_kl"], stats["pg_clipfrac"]]).detach()
                if dist.distributed:
                    row = dist.sum(row.double()).to(row.dtype)  # global means: the finite checks agree on every rank
                self._check_finite("actor/policy_loss", row[1])
                self._check_finite("actor/entropy", row[2])
                self._check_finite("actor/loss", row[0])
                self.optimizer.zero_grad(set_to_none=True)
                dist.backward(loss)
                max_norm = cfg.max_grad_norm if cfg.max_grad_norm is not None else math.inf
                grad_norm = dist.clip_grad_norm_(params, max_norm)
                self._check_finite("actor/grad_norm", grad_norm)
                self.optimizer.step()
                for key, val in (
                    ("actor/loss", row[0]),
                    ("actor/policy_loss", row[1]),
                    ("actor/entropy", row[2]),
                    ("actor/grad_norm", grad_norm),
                    ("actor/approx_kl", row[3]),
                    ("actor/pg_clipfrac", row[4]),
                ):
                    sums[key] += float(val.detach())
                count += 1
                if cfg.target_kl is not None and float(row[3]) > 1.5 * cfg.target_kl:
                    stop = True
                    break
            if stop:
                break
        self.num_updates += 1
        metrics = {k: v / max(count, 1) for k, v in sums.items()}
        for key in ("actor/loss", "actor/policy_loss", "actor/entropy", "actor/grad_norm", "actor/approx_kl"):
            metrics.setdefault(key, 0.0)
        metrics.setdefault("actor/pg_clipfrac", 0.0)
        metrics["actor/lr"] = float(self.optimizer.param_groups[0]["lr"])
        metrics["actor/minibatch_steps"] = float(count)
        return metrics


def make(cfg: GRPOConfig) -> GRPO:
    return GRPO(cfg)
