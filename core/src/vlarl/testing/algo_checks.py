"""Conformance checks for RL algorithms: a short real rollout, advantages, one update."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from vlarl.contracts.algorithm import Algorithm
from vlarl.contracts.env import ChunkedVectorEnv
from vlarl.contracts.policy import ChunkedPolicy
from vlarl.runner.rollout import collect_rollout
from vlarl.testing.report import Report, expect


def check_algorithm(
    make_algo: Callable[[], Algorithm],
    make_policy: Callable[[ChunkedVectorEnv], ChunkedPolicy],
    make_env: Callable[[], ChunkedVectorEnv],
    n_chunks: int = 64,
    seed: int = 0,
    name: str = "algorithm",
) -> Report:
    """``make_policy(env)`` builds a policy for that env (with a critic if the algorithm needs one)."""
    report = Report(f"algorithm '{name}'")
    torch.manual_seed(seed)
    env = make_env()
    try:
        algo = make_algo()
        policy = make_policy(env)
        report.run(
            "is an Algorithm",
            lambda: expect(isinstance(algo, Algorithm), "must subclass vlarl.contracts.algorithm.Algorithm") or "",
        )
        if algo.requires_critic:
            report.run(
                "critic present",
                lambda: expect(policy.has_critic, "the algorithm requires a critic; the policy has none") or "",
            )
        obs, _ = env.reset(seed=seed, options=algo.reset_options())
        buffer, _, _ = collect_rollout(env, policy, obs, n_chunks)
        algo.setup(policy)

        def advantages() -> str:
            metrics = algo.compute_advantages(buffer)
            expect(buffer.advantages is not None, "compute_advantages did not set buffer.advantages")
            expect(bool(torch.isfinite(buffer.advantages).all()), "advantages have NaN or inf")
            expect(
                buffer.advantages.shape[:2] == buffer.rewards.shape[:2],
                f"advantages shape {tuple(buffer.advantages.shape)} does not start with [n_chunks, N]",
            )
            bad = [k for k, v in metrics.items() if not math.isfinite(v)]
            expect(not bad, f"non-finite rollout metrics: {bad}")
            return f"advantages {tuple(buffer.advantages.shape)}"

        report.run("compute_advantages", advantages)

        def update() -> str:
            before = {n: p.detach().clone() for n, p in policy.named_parameters() if p.requires_grad}
            metrics = algo.update(policy, buffer)
            expect(isinstance(metrics, dict) and metrics, "update must return a non-empty metrics dict")
            bad = [k for k, v in metrics.items() if not math.isfinite(float(v))]
            expect(not bad, f"non-finite update metrics: {bad}")
            changed = [
                n for n, p in policy.named_parameters() if p.requires_grad and not torch.equal(before[n], p.detach())
            ]
            expect(bool(changed), "update changed no parameter")
            return f"{len(changed)}/{len(before)} tensors changed; metrics: {', '.join(sorted(metrics)[:6])}..."

        report.run("update changes parameters, finite metrics", update)

        def state_roundtrip() -> str:
            state = algo.state_dict()
            algo.load_state_dict(state)
            return f"keys: {sorted(state)}"

        report.run("state_dict round trip", state_roundtrip)
    finally:
        env.close()
    return report
