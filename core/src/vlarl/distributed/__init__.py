"""Distributed training: the context algorithms see (world size, rank, global statistics) and the actor ranks'
process group, FSDP2 / DDP wrapping and state gathering (:mod:`vlarl.distributed.parallel`)."""

from vlarl.distributed.context import LOCAL, DistContext

__all__ = ["LOCAL", "DistContext"]
