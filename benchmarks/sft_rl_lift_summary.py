"""One table of every sft_rl_lift run: benchmarks/results/sft_rl_lift.json.

Each ``sft_rl_lift_<variant>.json`` that ``benchmarks/sft_rl_lift.py`` writes holds one run (a warm start and the
RL runs from it). This flattens them into rows per variant, algorithm and task: demos K, env steps, minutes of
RL, success before (the SFT evaluation) and after (the RL evaluation), each with its 95% Wilson interval.
``sft_rl_lift.py`` rewrites it after every run; by hand:

    .venv/bin/python benchmarks/sft_rl_lift_summary.py [--results benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ALGORITHMS = ("ppo", "grpo")


def _success(entry: dict[str, Any]) -> dict[str, Any]:
    return {"rate": entry["success_rate"], "ci95": entry["success_ci95"], "episodes": entry["episodes"]}


def rows_of(variant: str, result: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of one run: per algorithm, the whole setting ("all") and, with several tasks, each task."""
    before = result["sft"]["eval"]
    rows = []
    for algo in ALGORITHMS:
        if algo not in result:
            continue
        run = result[algo]
        after = run["eval"]
        common = {
            "variant": variant,
            "setting": result["setting"],
            "reward": result.get("reward", "sparse"),
            "rl_overrides": result.get("rl_overrides", []),
            "algorithm": algo,
            "demos_per_task": result["demos_per_task"],
            "env_steps": run["env_steps"],
            "rl_minutes": round(run["minutes"], 1),
            **({"note": run["note"]} if "note" in run else {}),
        }
        rows.append(
            {**common, "task": "all", "before": _success(before["overall"]), "after": _success(after["overall"])}
        )
        tasks = before.get("tasks", {})  # hand-assembled results of resumed runs hold the overall figures only
        if len(tasks) > 1:
            for task, stats in tasks.items():
                rows.append(
                    {**common, "task": task, "before": _success(stats), "after": _success(after["tasks"][task])}
                )
    return rows


def summarize(results: Path) -> Path:
    """Write ``results/sft_rl_lift.json`` from every ``results/sft_rl_lift_*.json``; return its path."""
    rows = []
    for path in sorted(results.glob("sft_rl_lift_*.json")):
        rows += rows_of(path.stem.removeprefix("sft_rl_lift_"), json.loads(path.read_text()))
    out = results / "sft_rl_lift.json"
    out.write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    print(f"summary: {summarize(p.parse_args().results)}")


if __name__ == "__main__":
    main()
