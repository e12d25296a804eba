"""Generalized advantage estimation over a rollout of action chunks [T, N, C].

Both reward types reduce to one backward recursion over a sequence of steps
[S, N]: chunk_level uses S = T decisions (rewards summed over each chunk's
valid sub-steps), action_level uses S = T*C sub-steps in time order. Invalid
steps (after an episode ended inside a chunk) get advantage 0 and are skipped
by the recursion, so the next step of the sequence is always the next *valid*
one, which after a done is the first step of the new (autoreset) episode.
"""

from __future__ import annotations

import numpy as np
import torch


def gae_sequence(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    done_values: torch.Tensor,
    valid: torch.Tensor,
    last_values: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and returns [S, N] of a step sequence.

    ``dones[s]``: the episode ended at step s; ``done_values[s]`` is the value
    it bootstraps from there (0 on termination, V(final obs) on truncation).
    ``last_values`` [N]: value of the observation after the last step.
    """
    # The recursion runs in NumPy on the CPU: each of its S steps is a handful of ops on [N] rows,
    # where torch's per-op dispatch (or a GPU launch) would cost more than the arithmetic.
    device, dtype = rewards.device, rewards.dtype
    r, v, dv = (x.detach().to("cpu", torch.float64).numpy() for x in (rewards, values, done_values))
    d, ok = dones.cpu().numpy(), valid.cpu().numpy()
    adv = np.zeros_like(r)
    next_value = last_values.detach().to("cpu", torch.float64).numpy().copy()
    next_adv = np.zeros_like(next_value)
    for s in range(r.shape[0] - 1, -1, -1):
        boot = np.where(d[s], dv[s], next_value)
        a = r[s] + gamma * boot - v[s] + gamma * gae_lambda * ~d[s] * next_adv
        adv[s] = np.where(ok[s], a, 0.0)
        next_value = np.where(ok[s], v[s], next_value)
        next_adv = np.where(ok[s], a, next_adv)
    advantages = torch.from_numpy(adv).to(device, dtype)
    returns = torch.where(valid, advantages + values.to(dtype), torch.zeros_like(advantages))
    return advantages, returns


def chunk_level_inputs(
    rewards: torch.Tensor,
    terminations: torch.Tensor,
    truncations: torch.Tensor,
    valid: torch.Tensor,
    bootstrap_values: torch.Tensor | None,
) -> dict[str, torch.Tensor]:
    """Per-decision rewards, dones, done values and validity [T, N] from [T, N, C] arrays."""
    term = (terminations & valid).any(-1)
    trunc = (truncations & valid).any(-1) & ~term
    boot = torch.zeros_like(rewards[..., 0]) if bootstrap_values is None else bootstrap_values.to(rewards.dtype)
    return {
        "rewards": torch.where(valid, rewards, torch.zeros_like(rewards)).sum(-1),
        "dones": term | trunc,
        "done_values": torch.where(trunc, boot, torch.zeros_like(boot)),
        "valid": valid.any(-1),
    }


def _time_major(x: torch.Tensor) -> torch.Tensor:
    """[T, N, C] -> [T*C, N] in time order."""
    t, n, c = x.shape
    return x.permute(0, 2, 1).reshape(t * c, n)


def _from_time_major(x: torch.Tensor, t: int, c: int) -> torch.Tensor:
    return x.reshape(t, c, -1).permute(0, 2, 1)


def gae_chunk_level(
    rewards: torch.Tensor,
    terminations: torch.Tensor,
    truncations: torch.Tensor,
    valid: torch.Tensor,
    values: torch.Tensor,
    bootstrap_values: torch.Tensor | None,
    last_values: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages/returns [T, N]: one decision per chunk, discount gamma per chunk."""
    x = chunk_level_inputs(rewards, terminations, truncations, valid, bootstrap_values)
    return gae_sequence(x["rewards"], values, x["dones"], x["done_values"], x["valid"], last_values, gamma, gae_lambda)


def gae_action_level(
    rewards: torch.Tensor,
    terminations: torch.Tensor,
    truncations: torch.Tensor,
    valid: torch.Tensor,
    values: torch.Tensor,
    bootstrap_values: torch.Tensor | None,
    last_values: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages/returns [T, N, C]: one reward and one value per sub-step, discount gamma per sub-step."""
    t, n, c = rewards.shape
    term = terminations & valid
    trunc = truncations & valid & ~term
    boot = torch.zeros(t, n, dtype=rewards.dtype, device=rewards.device)
    if bootstrap_values is not None:
        boot = bootstrap_values.to(rewards.dtype)
    done_values = torch.where(trunc, boot.unsqueeze(-1).expand(t, n, c), torch.zeros_like(rewards))
    adv, ret = gae_sequence(
        _time_major(torch.where(valid, rewards, torch.zeros_like(rewards))),
        _time_major(values.to(rewards.dtype)),
        _time_major(term | trunc),
        _time_major(done_values),
        _time_major(valid),
        last_values,
        gamma,
        gae_lambda,
    )
    return _from_time_major(adv, t, c), _from_time_major(ret, t, c)
