"""The actor ranks' side of distributed training: process group, DDP / FSDP2 wrapping, full state dicts.

``cluster.actor_strategy``:

* ``fsdp``: FSDP2 (``torch.distributed.fsdp.fully_shard``) on each unit the policy names
  (``ChunkedPolicy.fsdp_units()``, e.g. its transformer blocks) and on the root; parameters, gradients and
  Adam states are sharded over the ranks. ``evaluate`` is registered as an FSDP forward method, so it
  gathers the parameters it needs as ``forward`` would.
* ``ddp``: ``DistributedDataParallel`` over an adapter whose ``forward`` is the policy's ``evaluate``;
  gradients are averaged in buckets during the backward pass.
* ``none``: one rank, no wrapping.

The collectives are torch.distributed's own: Gloo on CPUs, NCCL on GPUs.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from vlarl.distributed.context import DistContext
from vlarl.errors import ConfigError

STRATEGIES = ("auto", "fsdp", "ddp", "none")
MIXED_PRECISION = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}


def resolve_strategy(strategy: str, world_size: int) -> str:
    """``auto``: ``fsdp`` with several ranks, ``none`` with one."""
    if strategy == "auto":
        return "fsdp" if world_size > 1 else "none"
    return strategy


def init_group(rank: int, world_size: int, address: str, port: int, gpu: bool, timeout_s: float = 300.0) -> DistContext:
    """Join the actor ranks' process group (a TCP rendezvous at rank 0's ``address:port``)."""
    import datetime

    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if gpu and torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(0)  # each rank sees only its own GPU (Ray sets CUDA_VISIBLE_DEVICES)
        dist.init_process_group(
            backend, init_method=f"tcp://{address}:{port}", rank=rank, world_size=world_size,
            timeout=datetime.timedelta(seconds=timeout_s),
        )  # fmt: skip
    return DistContext(world_size=world_size, rank=rank)


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


class _Evaluate(nn.Module):
    """DDP hooks ``forward``: this adapter's forward is the policy's ``evaluate``, its output as a dict.

    DDP looks for the output tensors (to mark parameters no loss reaches, such as a critic under GRPO) in
    lists, tuples and dicts, not in dataclasses: the EvalOutput is taken apart here and rebuilt outside.
    """

    def __init__(self, policy: nn.Module) -> None:
        super().__init__()
        self.policy = policy
        self.output_type: Any = None

    def forward(self, replay: dict[str, torch.Tensor]) -> dict[str, Any]:
        out = type(self.policy).evaluate(self.policy, replay)
        self.output_type = type(out)
        return {f.name: getattr(out, f.name) for f in dataclasses.fields(out)}


class _DDPEvaluate:
    """``policy.evaluate`` under DDP: through the DDP module, back into the policy's output type."""

    def __init__(self, ddp: nn.Module, adapter: _Evaluate) -> None:
        self.ddp, self.adapter = ddp, adapter

    def __call__(self, replay: dict[str, torch.Tensor]) -> Any:
        fields = self.ddp(replay)
        return self.adapter.output_type(**fields)


def wrap_policy(
    policy: nn.Module, strategy: str, ctx: DistContext, mixed_precision: str | None = None, cpu_offload: bool = False
) -> nn.Module:
    """Make ``policy`` train as one model over the ranks; it keeps its class, names and methods.

    Call before building the optimizer: FSDP2 replaces the parameters by sharded DTensors.
    """
    if strategy == "none" or not ctx.distributed:
        return policy
    if strategy == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [policy.device.index or 0] if policy.device.type == "cuda" else None
        # find_unused_parameters: policies have parameters a loss may not reach (a critic under GRPO,
        # ViT blocks after the read-out layer); DDP must not wait for their gradients.
        adapter = _Evaluate(policy)
        ddp = DistributedDataParallel(adapter, device_ids=device_ids, find_unused_parameters=True)
        object.__setattr__(policy, "evaluate", _DDPEvaluate(ddp, adapter))  # not a submodule: names stay the policy's
        return policy
    if strategy == "fsdp":
        return shard_policy(policy, mixed_precision, cpu_offload)
    raise ValueError(f"unknown strategy {strategy!r}")


def fsdp_options(mixed_precision: str | None, cpu_offload: bool, root: bool) -> dict[str, Any]:
    """``fully_shard`` keyword arguments for ``cluster.fsdp_mixed_precision`` / ``cluster.fsdp_cpu_offload``."""
    from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy

    kwargs: dict[str, Any] = {}
    if mixed_precision:
        if mixed_precision not in MIXED_PRECISION:
            raise ConfigError(
                f"cluster.fsdp_mixed_precision={mixed_precision!r} is not a compute dtype.",
                f"Use one of {sorted(MIXED_PRECISION)}, or null for the policy's own dtype.",
            )
        # Gradients are reduced in float32; the root returns float32, so losses and ratios are not taken in bf16.
        kwargs["mp_policy"] = MixedPrecisionPolicy(
            param_dtype=MIXED_PRECISION[mixed_precision], reduce_dtype=torch.float32,
            output_dtype=torch.float32 if root else None,
        )  # fmt: skip
    if cpu_offload:
        # Pinned host memory needs an accelerator; without one the shards already live in CPU memory.
        kwargs["offload_policy"] = CPUOffloadPolicy(pin_memory=torch.cuda.is_available())
    return kwargs


def fsdp_units(policy: nn.Module) -> list[nn.Module]:
    """The policy's FSDP2 units (``ChunkedPolicy.fsdp_units()``), innermost first, checked to be its submodules."""
    units = list(getattr(policy, "fsdp_units", lambda: [])())
    depth = {id(m): name.count(".") + 1 for name, m in policy.named_modules() if name}
    bad = [type(m).__name__ for m in units if id(m) not in depth]
    if bad:
        raise ConfigError(
            f"{type(policy).__name__}.fsdp_units() returned modules that are not submodules of the policy: {bad}.",
            "Return submodules of the policy (not the policy itself); the root is sharded in any case.",
        )
    if len({id(m) for m in units}) != len(units):
        raise ConfigError(f"{type(policy).__name__}.fsdp_units() names a module twice.", "Return each unit once.")
    return sorted(units, key=lambda m: -depth[id(m)])  # stable: nested units are sharded before their parents


def shard_policy(policy: nn.Module, mixed_precision: str | None = None, cpu_offload: bool = False) -> nn.Module:
    """FSDP2 over the current process group: each of the policy's units, then the root (the rest)."""
    from torch.distributed.fsdp import fully_shard, register_fsdp_forward_method

    for unit in fsdp_units(policy):
        fully_shard(unit, **fsdp_options(mixed_precision, cpu_offload, root=False))
    fully_shard(policy, **fsdp_options(mixed_precision, cpu_offload, root=True))
    register_fsdp_forward_method(policy, "evaluate")
    if mixed_precision:
        _autocast_method(policy, "evaluate", MIXED_PRECISION[mixed_precision])
    return policy


def _autocast_method(policy: nn.Module, name: str, dtype: torch.dtype) -> None:
    """Run ``policy.<name>`` under autocast to ``dtype``.

    FSDP2 casts the gathered parameters, not buffers or what the policy computes from them: a float32
    buffer (an input normalizer's mean and std) meeting bf16 weights would fail in the first matmul.
    Autocast runs matmuls in ``dtype`` whatever their inputs; the ops it keeps in float32 (on GPUs softmax,
    norms, log-softmax) stay there.
    """
    inner = getattr(policy, name)
    device_type = next(iter(policy.parameters())).device.type

    @functools.wraps(inner)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with torch.autocast(device_type, dtype=dtype):
            return inner(*args, **kwargs)

    object.__setattr__(policy, name, wrapped)


def trainable_names(policy: nn.Module) -> set[str]:
    return {name for name, p in policy.named_parameters() if p.requires_grad}


def full_state_dict(policy: nn.Module, trainable_only: bool = False) -> dict[str, torch.Tensor] | None:
    """The whole (unsharded) state dict on CPU on rank 0, None on the other ranks; every rank must call it.

    ``trainable_only``: only parameters that train (what changes after an update, e.g. LoRA and heads).
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    if not dist.is_initialized():
        state = policy.state_dict()
    else:
        state = get_model_state_dict(policy, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        if dist.get_rank() != 0:
            return None
    keep = trainable_names(policy) if trainable_only else None
    return {k: v.detach().cpu().contiguous() for k, v in state.items() if keep is None or k in keep}


def _param_fqns(policy: nn.Module, optimizer: torch.optim.Optimizer) -> list[str]:
    names = {id(p): n for n, p in policy.named_parameters()}
    return [names[id(p)] for g in optimizer.param_groups for p in g["params"]]


def full_optimizer_state(policy: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any] | None:
    """The optimizer's state as one process's ``optimizer.state_dict()`` would hold it (whole tensors, integer
    ids in parameter order): rank 0 gets it, other ranks None; every rank must call it.

    The same layout at any world size is what lets a checkpoint resume at another number of ranks.
    """
    if not dist.is_initialized():
        return optimizer.state_dict()
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    full = get_optimizer_state_dict(policy, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if dist.get_rank() != 0:
        return None
    ids = {fqn: i for i, fqn in enumerate(_param_fqns(policy, optimizer))}
    groups = [{**g, "params": [ids[f] for f in g["params"]]} for g in full["param_groups"]]
    return {"state": {ids[f]: v for f, v in full["state"].items()}, "param_groups": groups}


def load_full_optimizer_state(policy: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Load what :func:`full_optimizer_state` returned, resharding it over this world size."""
    if not dist.is_initialized():
        optimizer.load_state_dict(state)
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    fqns = _param_fqns(policy, optimizer)
    full = {
        "state": {fqns[int(i)]: v for i, v in state["state"].items()},
        "param_groups": [{**g, "params": [fqns[int(i)] for i in g["params"]]} for g in state["param_groups"]],
    }
    set_optimizer_state_dict(policy, optimizer, full, options=StateDictOptions(full_state_dict=True))
