"""Rollout storage: one entry per executed chunk, stacked to [n_chunks, N, ...]."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from vlarl.contracts.env import ChunkStep
from vlarl.contracts.policy import ActOutput, Replay

_NUMPY_DTYPES = {torch.float32: np.float32, torch.bool: np.bool_}


def _keep(x: Any, dtype: torch.dtype, device: torch.device) -> Any:
    """Per-chunk env output as stored until finish(): NumPy stays NumPy (own copy, given dtype)."""
    if isinstance(x, torch.Tensor):
        return x.to(device=device, dtype=dtype)
    return np.array(x, dtype=_NUMPY_DTYPES[dtype])  # a copy: envs may reuse their arrays, Ray's are read-only


class RolloutBuffer:
    """Chunks, rewards, masks, replay records, log-probs and values of one rollout.

    Fill it with :meth:`add` once per chunk, then :meth:`finish`. Afterwards:

    * ``rewards`` float32, ``terminations``/``truncations``/``valid`` bool: [T, N, C]
    * ``log_probs`` [T, N, ...]; ``values`` [T, N] or [T, N, C] or None
    * ``bootstrap_values`` [T, N]: critic value of the final observation of
      episodes that were *truncated* in chunk t (0 elsewhere), or None
    * ``last_values`` [N]: critic value of the observation after the last chunk
    * ``replay``: dict of [T, N, ...]
    * ``advantages`` / ``returns``: set by the algorithm
    """

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self._steps: list[dict[str, Any]] = []
        self.advantages: torch.Tensor | None = None
        self.returns: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self._steps) if not hasattr(self, "rewards") else self.rewards.shape[0]

    def add(self, act: ActOutput, step: ChunkStep, bootstrap_values: torch.Tensor | None = None) -> None:
        dev = self.device
        self._steps.append(
            {
                "actions": act.actions.detach().to(dev),
                "log_probs": act.log_probs.detach().to(dev),
                "values": None if act.values is None else act.values.detach().to(dev),
                "replay": {k: v.detach().to(dev) for k, v in act.replay.items()},
                # NumPy arrays (CPU envs) are kept as they are and stacked once in finish(): one
                # conversion per rollout instead of one per chunk. Tensors (GPU envs) move now.
                "rewards": _keep(step.rewards, torch.float32, dev),
                "terminations": _keep(step.terminations, torch.bool, dev),
                "truncations": _keep(step.truncations, torch.bool, dev),
                "valid": _keep(step.valid, torch.bool, dev),
                "bootstrap_values": None
                if bootstrap_values is None
                else bootstrap_values.detach().to(dev, torch.float32),
            }
        )

    def finish(self, last_values: torch.Tensor | None = None) -> RolloutBuffer:
        if not self._steps:
            raise ValueError("finish() on an empty rollout buffer")
        steps = self._steps

        def stack(key: str) -> torch.Tensor | None:
            if steps[0][key] is None:
                return None
            if isinstance(steps[0][key], np.ndarray):
                return torch.from_numpy(np.stack([s[key] for s in steps])).to(self.device)
            return torch.stack([s[key] for s in steps])

        self.actions = stack("actions")
        self.log_probs = stack("log_probs")
        self.values = stack("values")
        self.rewards = stack("rewards")
        self.terminations = stack("terminations")
        self.truncations = stack("truncations")
        self.valid = stack("valid")
        if any(s["bootstrap_values"] is not None for s in steps):
            zeros = torch.zeros(self.rewards.shape[1], device=self.device)
            self.bootstrap_values = torch.stack(
                [zeros if s["bootstrap_values"] is None else s["bootstrap_values"] for s in steps]
            )
        else:
            self.bootstrap_values = None
        self.replay: Replay = {k: torch.stack([s["replay"][k] for s in steps]) for k in steps[0]["replay"]}
        self.last_values = None if last_values is None else last_values.detach().to(self.device, torch.float32)
        self._steps = []
        return self

    @classmethod
    def concat_envs(cls, parts: list[RolloutBuffer]) -> RolloutBuffer:
        """Join finished buffers of disjoint sub-env groups along the env dim (pipeline stages)."""
        out = cls(parts[0].device)
        for key in ("actions", "log_probs", "values", "rewards", "terminations", "truncations", "valid", "last_values"):
            values = [getattr(p, key) for p in parts]
            dim = 0 if key == "last_values" else 1
            setattr(out, key, None if values[0] is None else torch.cat(values, dim=dim))
        if any(p.bootstrap_values is not None for p in parts):
            out.bootstrap_values = torch.cat(
                [
                    p.bootstrap_values if p.bootstrap_values is not None else torch.zeros(p.rewards.shape[:2])
                    for p in parts
                ],
                dim=1,
            )
        else:
            out.bootstrap_values = None
        out.replay = {k: torch.cat([p.replay[k] for p in parts], dim=1) for k in parts[0].replay}
        return out

    @property
    def n_chunks(self) -> int:
        return self.rewards.shape[0]

    @property
    def num_envs(self) -> int:
        return self.rewards.shape[1]

    @property
    def chunk_len(self) -> int:
        return self.rewards.shape[2]

    @property
    def dones(self) -> torch.Tensor:
        return self.terminations | self.truncations

    def flat(self, key: str) -> Any:
        """``key`` reshaped from [T, N, ...] to [T*N, ...] (replay: a dict of such)."""
        value = getattr(self, key)
        if isinstance(value, dict):
            return {k: v.reshape(-1, *v.shape[2:]) for k, v in value.items()}
        return None if value is None else value.reshape(-1, *value.shape[2:])

    def minibatches(self, num_minibatches: int, generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
        """Shuffled index sets over the T*N decisions."""
        total = self.n_chunks * self.num_envs
        if num_minibatches < 1 or num_minibatches > total:
            raise ValueError(f"num_minibatches={num_minibatches} must be in [1, {total}]")
        perm = torch.randperm(total, generator=generator)
        yield from perm.tensor_split(num_minibatches)
