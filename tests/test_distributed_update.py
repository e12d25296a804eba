"""2 actor ranks on Gloo (FSDP2 and DDP) give the parameters and metrics 1 rank gives on the same rollout.

Each rank is its own process (tests/dist_update.py): the same policy and rollout everywhere, each rank
trains on its half of the sub-envs, and every statistic the algorithm takes over the whole batch
(advantage normalization, GRPO groups, gradient-norm clipping at a norm small enough to clip, metrics)
must come out as one process computes it over the whole rollout.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).with_name("dist_update.py")
ROOT = Path(__file__).parents[1]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_update(
    out: Path, policy: str, algo: str, strategy: str, world: int, num_envs: int, n_chunks: int, *extra: str
) -> Path:
    """Run tests/dist_update.py as ``world`` rank processes (``extra``: more of its options, e.g. --resume)."""
    out.mkdir(parents=True, exist_ok=True)
    port = _port()
    args = [sys.executable, str(SCRIPT), str(out), "--policy", policy, "--algo", algo, "--strategy", strategy,
            "--world", str(world), "--port", str(port), "--num-envs", str(num_envs), "--n-chunks", str(n_chunks),
            *extra]  # fmt: skip
    procs = [subprocess.Popen([*args, "--rank", str(r)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for r in range(world)]  # fmt: skip
    logs = []
    for p in procs:
        try:
            logs.append(p.communicate(timeout=900)[0])
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
    assert all(p.returncode == 0 for p in procs), "\n".join(logs)[-4000:]
    return out


CASES = {"mlp": (8, 4), "openvla_oft": (4, 2)}  # num_envs, n_chunks
_reference: dict[tuple[str, str], Path] = {}


def reference(tmp_path_factory, policy: str, algo: str) -> Path:
    key = (policy, algo)
    if key not in _reference:
        out = tmp_path_factory.mktemp(f"one_rank_{policy}_{algo}")
        _reference[key] = run_update(out, policy, algo, "none", 1, *CASES[policy])
    return _reference[key]


@pytest.mark.parametrize(
    "policy,algo,strategy",
    [("mlp", "ppo", "fsdp"), ("mlp", "ppo", "ddp"), ("mlp", "grpo", "fsdp"), ("mlp", "grpo", "ddp"),
     ("mlp", "grpo_seq", "ddp"), ("openvla_oft", "ppo", "fsdp"), ("openvla_oft", "ppo", "ddp")],
)  # fmt: skip
def test_two_ranks_match_one_rank_after_an_update(tmp_path_factory, tmp_path, policy, algo, strategy):
    one = reference(tmp_path_factory, policy, algo)
    two = run_update(tmp_path / "two", policy, algo, strategy, 2, *CASES[policy])
    a = load_file(str(one / "checkpoints" / "step_000001" / "model.safetensors"))
    b = load_file(str(two / "checkpoints" / "step_000001" / "model.safetensors"))  # consolidated by rank 0
    assert a.keys() == b.keys() and all(v.dtype == torch.float32 for v in b.values())
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst < 1e-5, f"largest parameter difference {worst}"
    # the update moved the trained parameters far more than the tolerance: the comparison is not vacuous
    moved = load_file(str(one / "trainable.safetensors"))
    assert moved.keys() == load_file(str(two / "trainable.safetensors")).keys()
    initial = load_file(str(one / "initial.safetensors"))
    assert max(float((moved[k] - initial[k]).abs().max()) for k in moved) > 1e-3
    m1, m2 = (json.loads((d / "metrics.json").read_text()) for d in (one, two))
    assert m1.keys() == m2.keys()
    off = {k: (m1[k], m2[k]) for k in m1 if abs(m1[k] - m2[k]) > 1e-5 * max(1.0, abs(m1[k]))}
    assert not off, f"metrics of 2 ranks differ from 1 rank's: {off}"
    assert m1["actor/grad_norm"] > ALGO_CLIP  # clipping was active, so the global norm mattered
    if policy == "openvla_oft":  # LoRA: rollout workers receive only the adapters and heads
        assert len(moved) < len(a) and all("lora_" in k or "head" in k or "proj" in k for k in moved)


ALGO_CLIP = 0.05
