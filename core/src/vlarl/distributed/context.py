"""What an algorithm needs to keep whole-batch statistics global when the actor is a group of ranks.

Each actor rank holds a contiguous, equal shard of the rollout's sub-envs (rank r: envs
``[r * n, (r + 1) * n)``). With this context an algorithm written for one process computes, on every
rank, the statistics one process would compute over the whole rollout:

* minibatches: one permutation over all ranks' decisions (same generator on every rank); each rank
  takes the part of each minibatch that lies in its shard (:meth:`DistContext.minibatches`);
* means in losses: each rank's masked mean weighted by its share of the global count
  (:meth:`DistContext.counts` / :meth:`DistContext.weight`), and ``world_size`` times the loss
  backpropagated, since DDP and FSDP2 average gradients over ranks (:meth:`DistContext.backward`);
* advantage normalization over the global minibatch (:meth:`DistContext.normalize`), gradient norms
  over the whole model (:meth:`DistContext.clip_grad_norm_`), metrics all-reduced (:meth:`DistContext.sum`).

At ``world_size == 1`` every helper is exactly the single-process computation (same ops, same
random draws), so an algorithm using it is bit-identical to one that does not.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from vlarl.rl.losses import masked_mean, masked_normalize


@dataclass
class DistContext:
    world_size: int = 1
    rank: int = 0
    group: Any = None
    """The actor ranks' torch.distributed process group (None: the default group)."""

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # ------------------------------------------------------------------ collectives
    def sum(self, x: torch.Tensor) -> torch.Tensor:
        """Sum over ranks (a new tensor; gradients do not flow through it)."""
        if not self.distributed:
            return x
        import torch.distributed as dist

        out = x.detach().clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM, group=self.group)
        return out

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """Every rank's ``x`` (same shape on all ranks) concatenated along dim 0, in rank order."""
        if not self.distributed:
            return x
        import torch.distributed as dist

        x = x.detach().contiguous()
        out = torch.empty((self.world_size * x.shape[0], *x.shape[1:]), dtype=x.dtype, device=x.device)
        dist.all_gather_into_tensor(out, x, group=self.group)
        return out

    def any(self, flag: bool) -> bool:
        return bool(self.sum(torch.tensor([float(flag)]))[0] > 0)

    # ------------------------------------------------------------------ shards and minibatches
    def env_shard(self, num_envs: int) -> slice:
        """The sub-envs of this rank in a rollout of ``num_envs`` (the caller checked divisibility)."""
        n = num_envs // self.world_size
        return slice(self.rank * n, (self.rank + 1) * n)

    def minibatches(
        self, buffer: Any, num_minibatches: int, generator: torch.Generator | None = None
    ) -> Iterator[tuple[torch.Tensor, bool]]:
        """(local indices into the flat [T*N_local] decisions, empty) per minibatch of the global rollout.

        ``empty``: none of this minibatch lies on this rank; the indices then name one placeholder
        decision whose masks the caller sets to False, so every rank still runs forward and backward
        (the gradient collectives need all of them).
        """
        if not self.distributed:
            for idx in buffer.minibatches(num_minibatches, generator):
                yield idx, False
            return
        t, n_local = buffer.n_chunks, buffer.num_envs
        n_global = n_local * self.world_size
        total = t * n_global
        if num_minibatches < 1 or num_minibatches > total:
            raise ValueError(f"num_minibatches={num_minibatches} must be in [1, {total}]")
        lo = self.rank * n_local
        perm = torch.randperm(total, generator=generator)
        for idx in perm.tensor_split(num_minibatches):
            chunk, env = idx // n_global, idx % n_global
            mine = (env >= lo) & (env < lo + n_local)
            local = chunk[mine] * n_local + (env[mine] - lo)
            yield (local, False) if local.numel() else (torch.zeros(1, dtype=torch.long), True)

    def total_decisions(self, buffer: Any) -> int:
        return buffer.n_chunks * buffer.num_envs * self.world_size

    # ------------------------------------------------------------------ global means
    def counts(self, *pairs: tuple[torch.Tensor, torch.Tensor | None]) -> list[torch.Tensor]:
        """Local and global entry counts of several (tensor, mask) pairs, in one all-reduce.

        Returns ``[local_0, global_0, local_1, global_1, ...]`` as float64 scalars.
        """
        local = torch.tensor(
            [float(x.numel()) if m is None else float(m.bool().sum()) for x, m in pairs], dtype=torch.float64
        )
        total = self.sum(local)
        return [v for pair in zip(local, total) for v in pair]

    def weight(self, local: torch.Tensor, total: torch.Tensor) -> float:
        """This rank's share of a global mean: its local mean times this is its part of the global mean."""
        return float(local / total) if float(total) > 0 else 0.0

    def backward(self, loss: torch.Tensor) -> None:
        """Backpropagate this rank's part of the global loss (DDP and FSDP2 average gradients over ranks)."""
        (loss * self.world_size if self.distributed else loss).backward()

    def masked_mean(self, x: torch.Tensor, mask: torch.Tensor | None) -> float:
        """The mean over valid entries of all ranks (a metric: no gradient)."""
        if not self.distributed:
            return float(masked_mean(x, mask))
        m = torch.ones_like(x, dtype=torch.bool) if mask is None else mask.bool()
        s = torch.stack([torch.where(m, x, torch.zeros_like(x)).sum().double(), m.sum().double()])
        s = self.sum(s)
        return float(s[0] / s[1].clamp(min=1))

    def normalize(self, x: torch.Tensor, mask: torch.Tensor | None, eps: float = 1e-8) -> torch.Tensor:
        """:func:`vlarl.rl.losses.masked_normalize` with the mean and (unbiased) std of all ranks' entries."""
        if not self.distributed:
            return masked_normalize(x, mask, eps)
        m = torch.ones_like(x, dtype=torch.bool) if mask is None else mask.bool()
        x = torch.where(m, x, torch.zeros_like(x))
        s = self.sum(torch.stack([x.sum().double(), m.sum().double()]))
        if s[1] < 2:
            return x
        mean = (s[0] / s[1]).to(x.dtype)
        sq = self.sum(torch.where(m, (x - mean) ** 2, torch.zeros_like(x)).sum().double().reshape(1))
        std = (sq[0] / (s[1] - 1)).sqrt().to(x.dtype)
        return torch.where(m, (x - mean) / (std + eps), torch.zeros_like(x))

    def explained_variance(self, values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> float | None:
        """1 - Var(returns - values) / Var(returns) over all ranks' valid entries; None on one rank (the caller's own)."""
        if not self.distributed:
            return None
        m = mask.bool()
        r, d = returns[m].double(), (returns[m] - values[m]).double()
        s = self.sum(torch.stack([torch.tensor(float(r.numel()), dtype=torch.float64), r.sum(), (r * r).sum(),
                                  d.sum(), (d * d).sum()]))  # fmt: skip
        n = float(s[0])
        if n < 2:
            return 0.0
        var_r = float(s[2] - s[1] ** 2 / n)
        var_d = float(s[4] - s[3] ** 2 / n)
        return 0.0 if var_r <= 1e-12 * max(float(s[2]), 1.0) else 1.0 - var_d / var_r

    # ------------------------------------------------------------------ gradients
    def clip_grad_norm_(
        self, params: Iterable[torch.Tensor], max_norm: float, foreach: bool | None = None
    ) -> torch.Tensor:
        """Clip by the norm of the whole model's gradient (under FSDP2 the shards' norms are combined)."""
        norm = torch.nn.utils.clip_grad_norm_(list(params), max_norm, foreach=foreach)
        full = getattr(norm, "full_tensor", None)  # a DTensor under FSDP2
        return full() if full is not None else norm


LOCAL = DistContext()
"""One process: every helper is the plain single-process computation."""
