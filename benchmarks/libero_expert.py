"""Success of the scripted LIBERO expert (vlarl_libero.expert) on every init state of libero_spatial.

    python benchmarks/libero_expert.py                              # 10 tasks x 50 init states
    python benchmarks/libero_expert.py --task-ids 0 4 --states 5    # a quick look

Privileged state, no cameras, the suite's 280-step limit, 2 sub-envs in 2 worker processes, each init
state once. Writes benchmarks/results/libero_expert.json (per task: successes, mean successful episode
length, wall time, and every state's outcome) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).parent / "results" / "libero_expert.json"


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process used so far, from /proc (Linux): steadier than wall time on a
    shared machine."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def evaluate_task(task_id: int, args: argparse.Namespace, out: Any) -> dict[str, Any]:
    from vlarl_libero.env import LiberoEnv
    from vlarl_libero.expert import ScriptedExpert
    from vlarl_libero.register import LiberoConfig

    start = time.perf_counter()
    cfg = LiberoConfig(
        suite=args.suite,
        task_ids=[task_id],
        num_envs=args.num_envs,
        cameras=[],
        privileged_state=True,
        shuffle_reset_states=False,  # init states in order: 0, 1, 2, ...
        max_episode_steps=args.max_steps,
    )
    env = LiberoEnv(cfg)
    try:
        n_states = min(args.states or env.tasks[task_id].num_states, env.tasks[task_id].num_states)
        expert = ScriptedExpert.for_env(env)
        obs, _ = env.reset()
        pids = [os.getpid(), *env.worker_pids]
        cpu0 = sum(proc_cpu(p) for p in pids)
        state_of = [env.pair_of(i)[1] for i in range(env.num_envs)]
        outcome: dict[int, tuple[bool, int]] = {}
        steps = 0
        while len(outcome) < n_states:
            step = env.chunk_step(expert.act(obs)[:, None, :])
            steps += int(step.valid.sum())
            episode = step.infos["episode"]
            for i in np.flatnonzero(step.infos["done"]):
                if state_of[i] < n_states and state_of[i] not in outcome:
                    outcome[state_of[i]] = (bool(episode["success_once"][i]), int(episode["episode_len"][i]))
                expert.reset([i])
                state_of[i] = env.pair_of(i)[1]
            obs = step.observations
        cpu = sum(proc_cpu(p) for p in pids) - cpu0
        description = env.task_descriptions[task_id]
    finally:
        env.close()
    wall = time.perf_counter() - start
    lengths = [n for ok, n in outcome.values() if ok]
    row = {
        "task_id": task_id,
        "description": description,
        "episodes": n_states,
        "successes": len(lengths),
        "success_rate": len(lengths) / n_states,
        "mean_success_len": float(np.mean(lengths)) if lengths else None,
        "env_steps": steps,
        "wall_s": round(wall, 1),
        "cpu_ms_per_step": round(1e3 * cpu / steps, 2),  # main process + workers, after the first reset
        "failed_states": sorted(s for s, (ok, _) in outcome.items() if not ok),
        "success_by_state": [outcome[s][0] for s in range(n_states)],
        "length_by_state": [outcome[s][1] for s in range(n_states)],
    }
    mean = row["mean_success_len"] or 0.0
    print(
        f"task {task_id}: {row['successes']}/{n_states} (mean successful length {mean:.0f}) in {wall:.0f} s; "
        f"failed states {row['failed_states']}",
        file=out,
        flush=True,
    )
    return row


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| task | success | mean steps (successful) | CPU ms / step | wall s |", "|---|---|---|---|---|"]
    for r in rows:
        length = f"{r['mean_success_len']:.0f}" if r["mean_success_len"] else "-"
        success = f"{r['successes']}/{r['episodes']}"
        cpu = r["cpu_ms_per_step"]
        lines.append(f"| {r['task_id']}: {r['description']} | {success} | {length} | {cpu:.1f} | {r['wall_s']:.0f} |")
    total = sum(r["successes"] for r in rows)
    episodes = sum(r["episodes"] for r in rows)
    lengths = [n for r in rows for n, ok in zip(r["length_by_state"], r["success_by_state"]) if ok]
    lines.append(
        f"| **all** | **{total}/{episodes} ({100 * total / episodes:.1f}%)** | {np.mean(lengths):.0f} | "
        f"{np.mean([r['cpu_ms_per_step'] for r in rows]):.1f} | {sum(r['wall_s'] for r in rows):.0f} |"
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suite", default="libero_spatial")
    ap.add_argument("--task-ids", type=int, nargs="+", default=list(range(10)))
    ap.add_argument("--states", type=int, default=0, help="first N init states of each task (0 = all)")
    ap.add_argument("--num-envs", type=int, default=2)
    ap.add_argument("--max-steps", type=int, default=280)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    from vlarl_libero.collect import quiet_output

    start = time.perf_counter()
    load_start = round(os.getloadavg()[0], 2)  # other jobs on a shared machine stretch the wall times
    with quiet_output(True) as out:  # the workers' import-time chatter
        rows = [evaluate_task(t, args, out) for t in args.task_ids]
    result = {
        "command": "python " + " ".join(sys.argv),
        "suite": args.suite,
        "settings": {
            "num_envs": args.num_envs,
            "workers": args.num_envs,
            "cameras": [],
            "privileged_state": True,
            "max_episode_steps": args.max_steps,
            "num_settle_steps": 10,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1min_at_start": load_start,
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "total_wall_s": round(time.perf_counter() - start, 1),
        "successes": sum(r["successes"] for r in rows),
        "episodes": sum(r["episodes"] for r in rows),
        "tasks": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(rows))
    print(f"\nwritten to {args.out} ({result['total_wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
