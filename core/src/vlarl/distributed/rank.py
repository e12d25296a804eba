"""One actor rank: policy + algorithm, trained together with the other ranks of its group.

Used by the Ray backend (one Ray actor per rank) and by the tests that compare 2 ranks with 1. The order
matters: weights are restored into the plain policy, then it is wrapped (FSDP2 shards its parameters),
then the algorithm builds its optimizer over the wrapped parameters, then the optimizer state is loaded
(resharded by torch.distributed.checkpoint from the whole tensors a checkpoint holds).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from vlarl.contracts.buffer import RolloutBuffer
from vlarl.distributed.context import LOCAL, DistContext
from vlarl.distributed.parallel import (
    full_optimizer_state,
    full_state_dict,
    init_group,
    load_full_optimizer_state,
    wrap_policy,
)
from vlarl.rl.state import merge_optimizer_state
from vlarl.runner import checkpoint as ckpt
from vlarl.runner.context import build_algorithm, build_policy, pick_device, seed_everything
from vlarl.runner.setup import RunSpec

_ENV_KEYS = ("actions", "log_probs", "values", "rewards", "terminations", "truncations", "valid", "bootstrap_values")


def shard_envs(buffer: RolloutBuffer, envs: slice) -> RolloutBuffer:
    """The sub-envs ``envs`` of a finished rollout buffer ([T, N, ...] -> [T, n, ...])."""
    out = RolloutBuffer(buffer.device)
    for key in _ENV_KEYS:
        value = getattr(buffer, key, None)
        setattr(out, key, None if value is None else value[:, envs].contiguous())
    out.last_values = None if buffer.last_values is None else buffer.last_values[envs].contiguous()
    out.replay = {k: v[:, envs].contiguous() for k, v in buffer.replay.items()}
    return out


class _SpecEnv:
    """Specs only: lets build_policy run where the env lives elsewhere."""

    def __init__(self, observation_spec: Any, action_spec: Any) -> None:
        self.observation_spec, self.action_spec = observation_spec, action_spec


class TrainerRank:
    def __init__(
        self, spec: RunSpec, specs: tuple[Any, Any], rank: int = 0, world_size: int = 1, strategy: str = "none",
        gpu: bool = False, seed: int = 0,
    ) -> None:  # fmt: skip
        seed_everything(seed)  # every rank builds the same initial weights
        if spec.runner.torch_threads > 0:
            torch.set_num_threads(spec.runner.torch_threads)
        self.spec, self.rank, self.world_size, self.gpu = spec, rank, world_size, gpu
        self.strategy = strategy if world_size > 1 else "none"
        self.policy = build_policy(spec, _SpecEnv(*specs), pick_device(spec.runner.device))
        self.ctx: DistContext = LOCAL
        self.algo: Any = None
        self.trainable_only = any(not p.requires_grad for p in self.policy.parameters())
        """LoRA or frozen parts: rollout workers get only what trains."""

    def join(self, address: str, port: int) -> None:
        """Join the group (blocks until every rank has joined)."""
        self.ctx = init_group(self.rank, self.world_size, address, port, self.gpu)

    def prepare(self, resume: str | None, root: str) -> dict[str, Any] | None:
        """Restore ``resume`` (``auto``: newest readable checkpoint), wrap, build the algorithm.

        Returns None when nothing was resumed (warnings only: ``{"path": None, "warnings": [...]}``), else the
        loaded checkpoint (weights dropped), the damaged checkpoints skipped and the algorithm's notes.
        """
        loaded, warnings = ckpt.read_for_resume(resume, Path(root))
        if loaded is not None:
            ckpt.restore(loaded, self.policy)
        c = self.spec.cluster
        wrap_policy(self.policy, self.strategy, self.ctx, c.fsdp_mixed_precision, c.fsdp_cpu_offload)
        self.algo = build_algorithm(self.spec, self.policy)
        self.algo.dist = self.ctx
        if loaded is None:
            return None if not warnings else {"loaded": None, "warnings": warnings}
        self._load_algo_state(loaded.trainer_state["algorithm"])
        loaded.weights, loaded.trainer_state = {}, {}  # the driver needs the path and meta only
        return {"loaded": loaded, "warnings": warnings, "notes": list(getattr(self.algo, "resume_notes", []))}

    def _load_algo_state(self, state: dict[str, Any]) -> None:
        if self.strategy != "fsdp":
            self.algo.load_state_dict(state)
            return
        optimizer_state = state.get("optimizer")
        self.algo.load_state_dict({**state, "optimizer": None})
        if optimizer_state is not None:
            merged, notes = merge_optimizer_state(self.algo.optimizer, optimizer_state)
            load_full_optimizer_state(self.policy, self.algo.optimizer, merged)
            self.algo.resume_notes = notes

    def reset_options(self) -> dict[str, Any] | None:
        return self.algo.reset_options()

    def ping(self) -> bool:
        return True

    def train(self, buffer: RolloutBuffer) -> dict[str, float]:
        """Advantages and update on this rank's shard (``buffer`` holds only this rank's sub-envs)."""
        metrics = dict(self.algo.compute_advantages(buffer))
        self.policy.train()
        metrics.update(self.algo.update(self.policy, buffer))
        return metrics

    def weights(self) -> tuple[dict[str, torch.Tensor] | None, float]:
        """The policy's weights for the rollout workers (rank 0; None elsewhere) and the seconds gathering took."""
        t0 = time.perf_counter()
        state = full_state_dict(self.policy, self.trainable_only)
        return state, time.perf_counter() - t0

    def trainer_state(self) -> dict[str, Any] | None:
        state = dict(self.algo.state_dict())
        if self.strategy == "fsdp" and getattr(self.algo, "optimizer", None) is not None:
            state["optimizer"] = full_optimizer_state(self.policy, self.algo.optimizer)
        return state if self.ctx.is_main else None

    def save(self, root: str, iteration: int, meta: dict[str, Any]) -> str | None:
        """Consolidated checkpoint (whole tensors, loadable by one process), written by rank 0."""
        weights = full_state_dict(self.policy)
        state = self.trainer_state()
        if not self.ctx.is_main:
            return None
        return str(ckpt.save_checkpoint(Path(root), iteration, self.policy, {"algorithm": state}, meta, weights))

    def close(self) -> None:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
