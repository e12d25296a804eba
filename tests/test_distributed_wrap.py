"""FSDP2 wrapping of a policy: the units it shards are the policy's own, and the mixed-precision and CPU-offload
options take effect.

These run in the test process on a one-rank Gloo group: ``shard_policy`` is the code the actor ranks run
under ``cluster.actor_strategy=fsdp`` (the ranks' count changes the collectives, not what is sharded or how
parameters are cast). tests/test_distributed_update.py checks the numbers at two ranks.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn
from torch.distributed.fsdp import CPUOffloadPolicy, FSDPModule
from torch.distributed.tensor import DTensor

from vlarl.contracts.spaces import ActionSpec, ObservationSpec
from vlarl.distributed.parallel import shard_policy
from vlarl.errors import ConfigError
from vlarl.testing.synth import synthetic_obs

MLP_OBS = ObservationSpec(states=(4,))


@pytest.fixture
def group(tmp_path) -> Iterator[None]:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def mlp_policy() -> nn.Module:
    from vlarl_mlp.policy import make_policy
    from vlarl_mlp.register import MLPPolicyConfig

    torch.manual_seed(0)
    return make_policy(MLPPolicyConfig(num_action_chunks=2, hidden_sizes=[16, 16]), observation_spec=MLP_OBS,
                       action_spec=ActionSpec.box(2))  # fmt: skip


def oft_policy() -> nn.Module:
    from vlarl_openvla_oft.policy import make
    from vlarl_openvla_oft.register import OpenVLAOFTConfig

    spec = ObservationSpec(states=(8,), images=(3, 112, 112), wrist_images=(3, 112, 112))
    cfg = OpenVLAOFTConfig(preset="tiny", use_lora=True, lora_rank=4, action_chunk=2)
    return make(cfg, observation_spec=spec, action_spec=ActionSpec.box(7))


def sharded(policy: nn.Module) -> set[str]:
    return {name for name, m in policy.named_modules() if isinstance(m, FSDPModule)}


def names_of(policy: nn.Module, modules: list[nn.Module]) -> set[str]:
    ids = {id(m) for m in modules}
    return {name for name, m in policy.named_modules() if id(m) in ids}


@pytest.mark.parametrize("build,obs_spec", [(mlp_policy, MLP_OBS), (oft_policy, None)], ids=["mlp", "openvla_oft"])
def test_fsdp_shards_exactly_the_units_the_policy_names(group, build, obs_spec):
    policy = build()
    units = policy.fsdp_units()
    obs_spec = obs_spec or policy.observation_spec
    replay = policy.act(synthetic_obs(obs_spec, 2)).replay  # before wrapping: act is not an FSDP forward method
    shard_policy(policy)
    assert sharded(policy) == {""} | names_of(policy, units)  # "": the root holds the rest
    if build is oft_policy:  # every decoder layer and ViT block is its own unit, nothing else is
        layers = {n for n, _ in policy.named_modules() if n.count(".") == 4 and ".layers." in n}
        blocks = {n for n, _ in policy.named_modules() if n.endswith(tuple(f".blocks.{i}" for i in range(99)))}
        assert layers and blocks and sharded(policy) == {""} | layers | blocks
    else:
        assert units == []  # a small MLP is one unit: more would only add collectives
    assert all(isinstance(p, DTensor) for p in policy.parameters())
    policy.evaluate(replay).log_probs.float().sum().backward()  # the units gather and free their parameters
    grads = [p.grad for p in policy.parameters() if p.requires_grad]
    assert any(g is not None and float(g.full_tensor().abs().sum()) > 0 for g in grads)


def test_the_policys_units_not_the_class_names_decide(group):
    policy = mlp_policy()
    policy.fsdp_units = lambda: [policy.actor, policy.actor[0]]  # nested: the inner one must be sharded first
    shard_policy(policy)
    assert sharded(policy) == {"", "actor", "actor.0"}


def test_units_outside_the_policy_are_named(group):
    policy = mlp_policy()
    policy.fsdp_units = lambda: [nn.Linear(2, 2)]
    with pytest.raises(ConfigError, match=r"fsdp_units\(\) returned modules that are not submodules.*Linear"):
        shard_policy(policy)


def test_mixed_precision_computes_in_bf16_and_keeps_float32_shards(group):
    policy = mlp_policy()
    replay = policy.act(synthetic_obs(MLP_OBS, 4)).replay
    policy.fsdp_units = lambda: [policy.actor]
    seen: list[tuple[torch.dtype, torch.dtype]] = []
    policy.actor[0].register_forward_hook(lambda m, args, out: seen.append((m.weight.dtype, out.dtype)))
    shard_policy(policy, mixed_precision="bf16")
    out = policy.evaluate(replay)
    assert seen == [(torch.bfloat16, torch.bfloat16)]  # inside the unit: bf16 weights, bf16 compute
    assert out.log_probs.dtype == torch.float32 and out.values.dtype == torch.float32  # the root returns float32
    out.log_probs.sum().backward()
    # the root's parameters stay gathered from forward to backward; after it, every unit holds its shards
    stored = list(policy.parameters())
    assert all(isinstance(p, DTensor) and p.dtype == torch.float32 for p in stored)  # the shards stay float32
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in stored)  # reduced in float32
    assert any(p.grad is not None for p in stored)


def test_unknown_mixed_precision_is_named(group):
    with pytest.raises(ConfigError, match=r"cluster.fsdp_mixed_precision='bf17'.*\n.*bf16"):
        shard_policy(mlp_policy(), mixed_precision="bf17")


def offload_policies(policy: nn.Module) -> list[object]:
    # FSDP2 has no public reader for a module's offload policy: the parameter group's is what its params obey.
    return [m._get_fsdp_state()._fsdp_param_group.offload_policy for m in policy.modules() if isinstance(m, FSDPModule)]


def test_cpu_offload_is_applied_and_trains_without_an_accelerator(group):
    policy = mlp_policy()
    replay = policy.act(synthetic_obs(MLP_OBS, 4)).replay
    policy.fsdp_units = lambda: [policy.actor]
    shard_policy(policy, cpu_offload=True)  # pinned memory would need an accelerator: not asked for here
    applied = offload_policies(policy)
    assert len(applied) == 2 and all(isinstance(p, CPUOffloadPolicy) for p in applied)
    assert all(p.pin_memory == torch.cuda.is_available() for p in applied)
    before = {n: p.full_tensor().clone() for n, p in policy.named_parameters()}
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-2)
    policy.evaluate(replay).log_probs.sum().backward()
    optimizer.step()
    assert all(p.device.type == "cpu" for p in policy.parameters())
    assert all(p.grad.device.type == "cpu" for p in policy.parameters() if p.grad is not None)
    with torch.no_grad():
        moved = max(float((p.full_tensor() - before[n]).abs().max()) for n, p in policy.named_parameters())
    assert moved > 1e-3
