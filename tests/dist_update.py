"""One actor rank's update on a fixed rollout, as its own process (run by tests/test_distributed_update.py).

    python tests/dist_update.py OUT --policy mlp --algo ppo --strategy fsdp --rank 0 --world 2 --port P

Every process builds the same policy (same seed) and the same synthetic rollout, keeps its shard of the
sub-envs, trains once with the others over Gloo, and rank 0 writes the whole weights (safetensors) and
the update's metrics (JSON) to OUT.

``--resume CKPT --step 2``: start from a checkpoint (written at any number of ranks), write what was
resumed (``resumed.safetensors``, ``resumed_trainer.pt``: consolidated; ``local_rank<r>.pt``: each FSDP
rank's own shards), then train once on a rollout of the resumed policy and checkpoint as step 2.
"""

from __future__ import annotations

import argparse
import json
import types
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf
from safetensors.torch import save_file

from vlarl.contracts.buffer import RolloutBuffer
from vlarl.contracts.spaces import ActionSpec, ObservationSpec
from vlarl.distributed.parallel import full_state_dict
from vlarl.distributed.rank import TrainerRank, shard_envs
from vlarl.runner import checkpoint as ckpt
from vlarl.runner.setup import validate
from vlarl.testing.synth import synthetic_obs

POLICIES = {
    "mlp": ({"name": "mlp", "num_action_chunks": 2, "hidden_sizes": [16, 16]}, ObservationSpec(states=(4,)),
            ActionSpec.box(2)),
    "openvla_oft": ({"name": "openvla_oft", "preset": "tiny", "use_lora": True, "lora_rank": 4, "action_chunk": 2},
                    ObservationSpec(states=(8,), images=(3, 112, 112), wrist_images=(3, 112, 112)), ActionSpec.box(7)),
}  # fmt: skip
ALGOS = {
    "ppo": {"name": "ppo", "update_epochs": 2, "num_minibatches": 4, "max_grad_norm": 0.05, "lr": 1e-3},
    "grpo": {"name": "grpo", "group_size": 2, "update_epochs": 2, "num_minibatches": 2, "max_grad_norm": 0.05,
             "lr": 1e-3},
    # Trajectory-mean aggregation: its mean trajectory length is a sum over ranks.
    "grpo_seq": {"name": "grpo", "group_size": 2, "update_epochs": 2, "num_minibatches": 2, "max_grad_norm": 0.05,
                 "lr": 1e-3, "loss_agg_func": "seq-mean-token-mean"},
}  # fmt: skip


def rollout(policy, obs_spec, n_chunks: int, num_envs: int, seed: int = 0) -> RolloutBuffer:
    """Sampled actions of ``policy`` on synthetic observations, random rewards and terminations."""
    rng = np.random.default_rng(seed)
    buffer = RolloutBuffer()
    torch.manual_seed(seed)
    with torch.no_grad():
        for t in range(n_chunks + 1):
            obs = synthetic_obs(obs_spec, num_envs, seed + t)
            if t == n_chunks:
                return buffer.finish(policy.predict_values(obs) if policy.has_critic else None)
            out = policy.act(obs)
            c = out.actions.shape[1]
            term = rng.random((num_envs, c)) < 0.15
            ended_before = np.cumsum(term, 1) - term > 0
            step = types.SimpleNamespace(
                rewards=rng.standard_normal((num_envs, c)).astype(np.float32), terminations=term & ~ended_before,
                truncations=np.zeros((num_envs, c), bool), valid=~ended_before,
            )  # fmt: skip
            buffer.add(out, step)
    raise AssertionError


def write_resumed(rank: TrainerRank, out: Path) -> None:
    """What the ranks hold after resuming: consolidated (rank 0) and each FSDP rank's local shards."""
    weights = full_state_dict(rank.policy)  # collectives: every rank calls them
    state = rank.trainer_state()
    if rank.strategy == "fsdp":
        names = {id(p): n for n, p in rank.policy.named_parameters()}
        local = {names[id(p)]: {"param": p.detach().to_local().clone(),
                                **{k: v.to_local().clone() for k, v in s.items() if k != "step"}}
                 for p, s in rank.algo.optimizer.state.items()}  # fmt: skip
        torch.save(local, out / f"local_rank{rank.rank}.pt")
    if rank.ctx.is_main:
        save_file(weights, str(out / "resumed.safetensors"))
        torch.save(state, out / "resumed_trainer.pt")
        names = {id(p): n for n, p in rank.policy.named_parameters()}
        order = [names[id(p)] for g in rank.algo.optimizer.param_groups for p in g["params"]]
        (out / "optimizer_params.json").write_text(json.dumps(order))  # the names of the state's integer ids


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--policy", default="mlp")
    ap.add_argument("--algo", default="ppo")
    ap.add_argument("--strategy", default="none")
    ap.add_argument("--rank", type=int, default=0)
    ap.add_argument("--world", type=int, default=1)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--num-envs", type=int, default=8)
    ap.add_argument("--n-chunks", type=int, default=4)
    ap.add_argument("--resume", default=None)
    ap.add_argument("--step", type=int, default=1)
    a = ap.parse_args()
    policy_cfg, obs_spec, act_spec = POLICIES[a.policy]
    cfg = OmegaConf.create({
        "env": {"name": "gymnasium", "env_id": "CartPole-v1", "num_envs": a.num_envs},
        "policy": policy_cfg, "algorithm": ALGOS[a.algo],
        "runner": {"torch_threads": 1, "device": "cpu", "seed": 0}, "cluster": {"actor_strategy": a.strategy},
    })  # fmt: skip
    spec = validate(cfg)
    rank = TrainerRank(spec, (obs_spec, act_spec), a.rank, a.world, a.strategy, seed=0)
    if a.resume:  # the rollout comes from the resumed weights, as the next iteration's would
        ckpt.load_weights(Path(a.resume), rank.policy)
    buffer = rollout(rank.policy, obs_spec, a.n_chunks, a.num_envs, seed=a.step - 1)  # before wrapping: same everywhere
    if a.rank == 0:  # before the update, to show it moved the weights
        initial = {k: v.detach().clone() for k, v in rank.policy.state_dict().items()}
        save_file(initial, str(a.out / "initial.safetensors"))
    if a.world > 1:
        rank.join("127.0.0.1", a.port)
    rank.prepare(a.resume, str(a.out / "checkpoints"))
    if a.resume:
        write_resumed(rank, a.out)
    metrics = rank.train(shard_envs(buffer, rank.ctx.env_shard(a.num_envs)))
    weights, _ = rank.weights()
    full = rank.save(str(a.out / "checkpoints"), a.step, {})
    if rank.ctx.is_main:
        save_file(weights, str(a.out / "trainable.safetensors"))
        (a.out / "metrics.json").write_text(json.dumps(metrics))
        print("saved", full, "with", len(weights), "tensors for the rollout workers")
    rank.close()


if __name__ == "__main__":
    main()
