"""Scaling: worker groups at 1 vs 2 workers per component, and FSDP2 memory per rank of the 7B OpenVLA-OFT.

    .venv/bin/python benchmarks/scaling.py memory            # meta device: seconds, no weights allocated
    .venv/bin/python benchmarks/scaling.py throughput --iterations 6

``memory``: the 7b preset built on the meta device (real shapes, no storage), with and without LoRA; per rank
under FSDP2 every parameter, gradient and Adam state is sharded over the ranks; one FSDP unit (the largest
Llama decoder layer) is gathered whole at a time, twice with prefetching. Activations are not counted: they
depend on the batch, and activation checkpointing bounds them.

``throughput``: CartPole + mlp + PPO on the Ray backend, ``env, rollout, actor`` on one CPU slot each vs on
two (2 env workers, 2 rollout replicas, 2 actor ranks on Gloo with FSDP2); medians of ``env/steps_per_sec`` and
``time/update`` after the first iteration, and their ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

GIB = 1024**3
GPU_BYTES = 80 * 10**9  # an 80 GB A100 / H100


def memory(ranks: int = 8, param_bytes: int = 4) -> list[dict]:
    import torch

    from vlarl.contracts.spaces import ActionSpec, ObservationSpec
    from vlarl_openvla_oft.policy import make
    from vlarl_openvla_oft.register import OpenVLAOFTConfig

    obs = ObservationSpec(states=(8,), images=(3, 224, 224), wrist_images=(3, 224, 224))
    rows = []
    for lora in (False, True):
        with torch.device("meta"):
            policy = make(OpenVLAOFTConfig(preset="7b", use_lora=lora), observation_spec=obs,
                          action_spec=ActionSpec.box(7))  # fmt: skip
        total = sum(p.numel() for p in policy.parameters())
        trainable = sum(p.numel() for p in policy.parameters() if p.requires_grad)
        layer = max(
            sum(p.numel() for p in m.parameters()) for m in policy.modules() if type(m).__name__ == "LlamaDecoderLayer"
        )
        for world in (1, ranks):
            shard = {
                "parameters": total * param_bytes / world,
                "gradients": trainable * param_bytes / world,
                "adam": 2 * trainable * param_bytes / world,
                "gathered_units": 0 if world == 1 else 2 * layer * param_bytes,
            }
            rows.append({
                "lora": lora, "ranks": world, "params_b": total / 1e9, "trainable_m": trainable / 1e6,
                **{k: v / GIB for k, v in shard.items()}, "total_gib": sum(shard.values()) / GIB,
                "fits_80gb": sum(shard.values()) < GPU_BYTES,
            })  # fmt: skip
    return rows


def throughput(iterations: int) -> dict[str, dict[str, float]]:
    from vlarl.config import load_config
    from vlarl.runner.train import train

    example = Path(__file__).parents[1] / "examples" / "gymnasium_cartpole_ppo_mlp.yaml"
    settings = {
        "1 worker each": "{env: 0, rollout: 0, actor: 0}",
        "2 workers each": "{env: 0-1, rollout: 0-1, actor: 0-1}",
    }
    out = {}
    for name, placement in settings.items():
        with tempfile.TemporaryDirectory() as tmp:
            cfg = load_config(example, [
                f"runner.logger.log_path={tmp}", "runner.logger.experiment_name=s", "cluster.backend=ray",
                "cluster.num_cpus=2", f"cluster.component_placement={placement}", "env.num_envs=8",
                "rollout.n_chunks=64", f"runner.max_epochs={iterations}", f"runner.save_interval={iterations}",
                "runner.torch_threads=1",
            ])  # fmt: skip
            train(cfg)
            rows = [json.loads(line) for line in (Path(tmp) / "s" / "metrics.jsonl").read_text().splitlines()][1:]
        out[name] = {
            "env_steps_per_sec": statistics.median(r["env/steps_per_sec"] for r in rows),
            "update_s": statistics.median(r["time/update"] for r in rows),
            "weight_sync_s": statistics.median(r["cluster/weight_sync_s"] for r in rows),
            "weight_sync_bytes": rows[-1]["cluster/weight_sync_bytes"],
        }
    one, two = out.values()
    out["ratio 2/1"] = {k: two[k] / one[k] for k in ("env_steps_per_sec", "update_s")}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["memory", "throughput"])
    ap.add_argument("--ranks", type=int, default=8)
    ap.add_argument("--iterations", type=int, default=6)
    a = ap.parse_args()
    if a.what == "memory":
        print(
            "| LoRA | ranks | params (B) | trainable (M) | params GiB | grads GiB | Adam GiB | gathered GiB | total GiB | fits 80 GB |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in memory(a.ranks):
            print(f"| {r['lora']} | {r['ranks']} | {r['params_b']:.2f} | {r['trainable_m']:.1f} | {r['parameters']:.1f} | "
                  f"{r['gradients']:.1f} | {r['adam']:.1f} | {r['gathered_units']:.2f} | {r['total_gib']:.1f} | "
                  f"{'yes' if r['fits_80gb'] else 'no'} |")  # fmt: skip
    else:
        print(json.dumps(throughput(a.iterations), indent=2))


if __name__ == "__main__":
    main()
