"""PPO over rollouts of action chunks (the :class:`vlarl.contracts.algorithm.Algorithm` contract)."""

from __future__ import annotations

import math
import warnings

import torch

from vlarl.contracts.algorithm import Algorithm
from vlarl.contracts.buffer import RolloutBuffer
from vlarl.contracts.policy import ChunkedPolicy
from vlarl.errors import ConfigError, ContractError, VlarlError
from vlarl.rl.losses import broadcast_to, clipped_policy_loss, mask_like, masked_mean
from vlarl.rl.state import OptimizerResumeState
from vlarl_ppo.gae import chunk_level_inputs, gae_action_level, gae_chunk_level
from vlarl_ppo.losses import explained_variance, value_loss
from vlarl_ppo.register import PPOConfig

UPDATE_METRICS = (
    "actor/loss",
    "actor/policy_loss",
    "actor/value_loss",
    "actor/entropy",
    "actor/grad_norm",
    "actor/approx_kl",
    "actor/pg_clipfrac",
    "actor/value_clip_ratio",
)
CRITIC_NAME_MARKERS = ("value_head", "critic")
"""Parameters whose name contains one of these get ``critic_lr`` (and are the only ones trained in warm-up)."""


class NonFiniteLossError(VlarlError):
    """A loss term became NaN or inf; raised before the optimizer steps, so weights stay untouched."""


def check_config(cfg: PPOConfig) -> None:
    """Reject inconsistent settings before any simulation, naming the keys."""

    def bad(key: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(f"algorithm.{key}: {problem}", fix)

    if cfg.reward_type not in ("chunk_level", "action_level"):
        raise bad("reward_type", f"{cfg.reward_type!r} is not a reward type.", "Use chunk_level or action_level.")
    if cfg.value_loss not in ("mse", "huber"):
        raise bad("value_loss", f"{cfg.value_loss!r} is not a value loss.", "Use mse or huber.")
    if not 0.0 <= cfg.gamma <= 1.0 or not 0.0 <= cfg.gae_lambda <= 1.0:
        raise bad("gamma/gae_lambda", "must lie in [0, 1].", "Set algorithm.gamma and algorithm.gae_lambda in [0, 1].")
    if cfg.update_epochs < 1 or cfg.num_minibatches < 1:
        raise bad("update_epochs/num_minibatches", "must be >= 1.", "Set both to positive integers.")
    if cfg.clip_ratio_low < 0 or cfg.clip_ratio_low >= 1 or cfg.clip_ratio_high < 0:
        raise bad("clip_ratio_low/clip_ratio_high", "need 0 <= low < 1 and high >= 0.", "E.g. 0.2 and 0.28.")
    if cfg.clip_ratio_c is not None and cfg.clip_ratio_c <= 1.0:
        raise bad(
            "clip_ratio_c", f"dual clip must be > 1, got {cfg.clip_ratio_c}.", "Use e.g. 3.0, or null to disable."
        )
    if cfg.value_clip is not None and cfg.value_clip <= 0:
        raise bad("value_clip", "must be > 0.", "Use e.g. 0.2, or null to disable value clipping.")
    if cfg.lr <= 0 or (cfg.critic_lr is not None and cfg.critic_lr <= 0):
        raise bad("lr/critic_lr", "learning rates must be > 0.", "Set positive learning rates.")


class PPO(OptimizerResumeState, Algorithm):
    requires_critic = True
    supports_distributed = True

    def __init__(self, cfg: PPOConfig) -> None:
        check_config(cfg)
        self.cfg = cfg
        self.optimizer: torch.optim.Optimizer | None = None
        self.num_updates = 0
        self.generator = torch.Generator().manual_seed(cfg.seed)

    # ------------------------------------------------------------------ setup
    def setup(self, policy: ChunkedPolicy) -> None:
        if not getattr(policy, "has_critic", False):
            raise ConfigError(
                f"PPO needs a critic but the policy {type(policy).__name__} has has_critic=False.",
                "Enable the policy's value head (e.g. policy.add_value_head=true) or use algorithm 'grpo'.",
            )
        cfg = self.cfg
        actor, critic = [], []
        for name, p in policy.named_parameters():
            if p.requires_grad:
                (critic if any(m in name for m in CRITIC_NAME_MARKERS) else actor).append(p)
        if cfg.critic_lr is None:
            # One learning rate: one group, so each optimizer step is one fused pass over all parameters.
            groups = [{"params": actor + critic, "lr": cfg.lr, "name": "actor+critic"}]
        else:
            groups = [
                {"params": actor, "lr": cfg.lr, "name": "actor"},
                {"params": critic, "lr": cfg.critic_lr, "name": "critic"},
            ]
        groups = [g for g in groups if g["params"]]
        for g in groups:
            g["initial_lr"] = g["lr"]
        self.optimizer = torch.optim.Adam(groups, eps=cfg.adam_eps, weight_decay=cfg.weight_decay, foreach=True)
        self.apply_pending_state()

    # ------------------------------------------------------------------ advantages
    def _values(self, v: torch.Tensor) -> torch.Tensor:
        """Values in the reward type's granularity ([T, N] or [T, N, C])."""
        if self.cfg.reward_type == "chunk_level" and v.dim() == 3:
            return v[..., 0]  # value of the chunk's start state
        return v

    def compute_advantages(self, buffer: RolloutBuffer) -> dict[str, float]:
        cfg = self.cfg
        if buffer.values is None:
            raise ContractError(
                "The rollout buffer holds no values: PPO needs the policy's critic values from act().",
                "Use a policy with a value head (has_critic=True).",
            )
        if buffer.last_values is None:
            raise ContractError(
                "buffer.last_values is missing: PPO bootstraps the last chunk from the value of the next observation.",
                "Call buffer.finish(last_values=policy.predict_values(next_obs)).",
            )
        if buffer.bootstrap_values is None and bool((buffer.truncations & buffer.valid).any()):
            warnings.warn("Truncated episodes but no buffer.bootstrap_values: bootstrapping them from 0.", stacklevel=2)
        last = buffer.last_values.float()
        last = last[..., 0] if last.dim() == 2 else last
        boot = buffer.bootstrap_values
        if boot is not None and boot.dim() == 3:
            boot = boot[..., 0]
        args = (buffer.rewards.float(), buffer.terminations, buffer.truncations, buffer.valid)
        if cfg.reward_type == "action_level":
            if buffer.values.dim() != 3:
                raise ConfigError(
                    f"algorithm.reward_type=action_level needs one value per sub-step [T, N, C], but the policy's "
                    f"values have shape {tuple(buffer.values.shape)} (policy value_type 'chunk').",
                    "Set algorithm.reward_type=chunk_level, or a policy with value_type 'action' "
                    "(e.g. policy.value_type=action).",
                )
            adv, ret = gae_action_level(*args, buffer.values.float(), boot, last, cfg.gamma, cfg.gae_lambda)
            mask = buffer.valid
            rewards = buffer.rewards.float()
        else:
            values = self._values(buffer.values.float())
            adv, ret = gae_chunk_level(*args, values, boot, last, cfg.gamma, cfg.gae_lambda)
            x = chunk_level_inputs(*args, boot)
            mask, rewards = x["valid"], x["rewards"]
        buffer.advantages, buffer.returns = adv, ret
        # GAE is per sub-env, so each rank's shard is exact; the means are over every rank's entries.
        return {
            "rollout/returns_mean": self.dist.masked_mean(ret, mask),
            "rollout/advantages_mean": self.dist.masked_mean(adv, mask),
            "rollout/rewards_mean": self.dist.masked_mean(rewards, mask),
        }

    # ------------------------------------------------------------------ update
    def _set_lr(self) -> float:
        assert self.optimizer is not None
        frac = 1.0
        if self.cfg.lr_anneal_updates:
            frac = max(0.0, 1.0 - self.num_updates / self.cfg.lr_anneal_updates)
        for g in self.optimizer.param_groups:
            g["lr"] = g["initial_lr"] * frac
        return self.optimizer.param_groups[0]["lr"]

    @staticmethod
    def _check_finite(names: tuple[str, ...], values: torch.Tensor) -> None:
        """One check (one sync) for several scalars; the error names the first bad one."""
        finite = torch.isfinite(values)
        if not bool(finite.all()):
            i = int((~finite).nonzero()[0])
            raise NonFiniteLossError(
                f"{names[i]} is {float(values[i])} (not finite); the update stopped before the optimizer step, "
                "so the weights and the last checkpoint are intact.",
                "Lower algorithm.lr, enable algorithm.max_grad_norm, or check the rewards and the policy's "
                "log-probs for NaN/inf.",
            )

    def update(self, policy: ChunkedPolicy, buffer: RolloutBuffer) -> dict[str, float]:
        cfg = self.cfg
        if self.optimizer is None:
            raise ContractError("PPO.update() called before setup(policy).", "Call algorithm.setup(policy) first.")
        if buffer.advantages is None or buffer.returns is None:
            raise ContractError("PPO.update() called before compute_advantages().", "Call compute_advantages first.")
        lr = self._set_lr()
        warmup = self.num_updates < cfg.critic_warmup_steps

        old_lp = buffer.log_probs.float()
        lp_mask = mask_like(buffer.valid, old_lp)
        adv_lp = broadcast_to(buffer.advantages, old_lp)
        adv_mask = mask_like(buffer.valid, buffer.advantages)
        old_v = buffer.values.float()
        if cfg.reward_type == "chunk_level":
            old_v = self._values(old_v)
        v_mask = mask_like(buffer.valid, old_v)
        returns = buffer.returns

        dist = self.dist
        total = dist.total_decisions(buffer)
        if cfg.num_minibatches > total:
            raise ConfigError(
                f"algorithm.num_minibatches={cfg.num_minibatches} exceeds the {total} decisions of a rollout.",
                "Lower algorithm.num_minibatches or collect more chunks per rollout.",
            )

        # Without an episode ending inside a chunk every entry is valid: the losses then skip masking.
        full = bool(buffer.valid.all())

        def flat(x: torch.Tensor) -> torch.Tensor:
            return x.reshape(-1, *x.shape[2:])

        def flat_mask(m: torch.Tensor) -> torch.Tensor | None:
            return None if full else flat(m)

        def pick(m: torch.Tensor | None, idx: torch.Tensor, ref: torch.Tensor, empty: bool) -> torch.Tensor | None:
            if empty:  # this rank holds none of the minibatch: its placeholder entry counts nowhere
                return torch.zeros(ref[idx].shape, dtype=torch.bool, device=ref.device)
            return None if m is None else m[idx]

        flat_adv, flat_adv_mask = flat(buffer.advantages), flat_mask(adv_mask)
        flat_lp, flat_lp_mask, flat_adv_lp = flat(old_lp), flat_mask(lp_mask), flat(adv_lp)
        flat_v, flat_v_mask, flat_ret = flat(old_v), flat_mask(v_mask), flat(returns)
        replay = buffer.flat("replay")

        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        max_norm = cfg.max_grad_norm if cfg.max_grad_norm is not None else math.inf
        history: list[torch.Tensor] = []
        stop = False
        for _ in range(cfg.update_epochs):
            for idx, empty in dist.minibatches(buffer, cfg.num_minibatches, self.generator):
                v_m, adv_m = pick(flat_v_mask, idx, flat_v, empty), pick(flat_adv_mask, idx, flat_adv, empty)
                lp_m = pick(flat_lp_mask, idx, flat_lp, empty)
                if dist.distributed:  # each rank's means weighted by its share of the global minibatch
                    n_lp, g_lp, n_v, g_v = dist.counts((flat_lp[idx], lp_m), (flat_v[idx], v_m))
                    w_lp, w_v = dist.weight(n_lp, g_lp), dist.weight(n_v, g_v)
                out = policy.evaluate({k: v[idx] for k, v in replay.items()})
                if out.values is None:
                    raise ContractError(
                        "policy.evaluate() returned no values.", "Return critic values from evaluate()."
                    )
                new_v = out.values.float()
                if cfg.reward_type == "chunk_level" and new_v.dim() == 2:
                    new_v = new_v[..., 0]
                v_loss, v_clip = value_loss(
                    new_v,
                    flat_v[idx],
                    flat_ret[idx],
                    v_m,
                    cfg.value_clip,
                    cfg.value_loss,
                    cfg.huber_delta,
                )
                adv = flat_adv_lp[idx]
                if cfg.normalize_advantages:
                    # Normalize at the advantages' own granularity, then broadcast to the log-probs.
                    adv = broadcast_to(dist.normalize(flat_adv[idx], adv_m), adv)
                pg_loss, pg_stats = clipped_policy_loss(
                    out.log_probs.float(),
                    flat_lp[idx],
                    adv,
                    lp_m,
                    cfg.clip_ratio_low,
                    cfg.clip_ratio_high,
                    cfg.clip_ratio_c,
                )
                entropy = masked_mean(out.entropy.float(), lp_m)
                if dist.distributed:  # from here on each term is this rank's part of the global mean
                    pg_loss, entropy, v_loss, v_clip = pg_loss * w_lp, entropy * w_lp, v_loss * w_v, v_clip * w_v
                    pg_stats = {k: v * w_lp for k, v in pg_stats.items()}
                if warmup:
                    loss = cfg.value_loss_coef * v_loss
                else:
                    loss = pg_loss + cfg.value_loss_coef * v_loss - cfg.entropy_coef * entropy
                self.optimizer.zero_grad(set_to_none=True)
                dist.backward(loss)
                grad_norm = dist.clip_grad_norm_(params, max_norm, foreach=True)
                # Kept as tensors: one conversion at the end instead of a sync per metric and minibatch.
                # Distributed: one all-reduce sums the ranks' parts into the global minibatch means.
                row = torch.stack(
                    [loss, pg_loss, v_loss, entropy, pg_stats["approx_kl"], pg_stats["pg_clipfrac"], v_clip]
                ).detach()
                row = dist.sum(row.double()).to(row.dtype) if dist.distributed else row
                row = torch.cat([row[:4], grad_norm.detach().reshape(1).to(row), row[4:]])
                # One check (one sync) per minibatch, before the optimizer step: a NaN loss makes a NaN gradient
                # norm too, but the loss terms come first so the message names the term that went bad.
                self._check_finite(
                    ("actor/policy_loss", "actor/value_loss", "actor/entropy", "actor/loss", "actor/grad_norm"),
                    row[[1, 2, 3, 0, 4]],
                )
                self.optimizer.step()
                history.append(row)
                if cfg.target_kl is not None and not warmup and float(row[5]) > 1.5 * cfg.target_kl:
                    stop = True
                    break
            if stop:
                break

        self.num_updates += 1
        count = len(history)
        means = torch.stack(history).mean(0).tolist() if history else [0.0] * len(UPDATE_METRICS)
        metrics = dict(zip(UPDATE_METRICS, means))
        metrics["actor/lr"] = float(lr)
        metrics["actor/critic_warmup"] = float(warmup)
        metrics["actor/minibatch_steps"] = float(count)
        ev = self.dist.explained_variance(old_v, returns, v_mask)
        metrics["critic/explained_variance"] = explained_variance(old_v, returns, v_mask) if ev is None else ev
        return metrics


def make(cfg: PPOConfig) -> PPO:
    return PPO(cfg)
