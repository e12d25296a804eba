"""One plot of RL runs that started from the identical warm start, written by separate sft_rl_lift invocations.

``benchmarks/sft_rl_lift.py --warm-start RUN_DIR`` runs a second algorithm or budget from an earlier variant's SFT
checkpoint; each invocation writes its own results JSON and plot. This draws the runs of several such files on
one axis (rollouts, evaluations, the shared SFT level), after checking that they share one warm start:

    .venv/bin/python benchmarks/sft_rl_lift_compare.py --out benchmarks/results/compare.png \\
        benchmarks/results/sft_rl_lift_<variant A>.json benchmarks/results/sft_rl_lift_<variant B>.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sft_rl_lift_summary import ALGORITHMS

REUSED = "reused from "
PALETTE = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def warm_start_of(result: dict[str, Any]) -> Path:
    """The run directory whose SFT checkpoint the RL runs of ``result`` started from."""
    note = result["sft"].get("note", "")
    if note.startswith(REUSED):
        return Path(note.removeprefix(REUSED)).resolve()
    for algo in ALGORITHMS:
        if algo in result:
            return Path(result[algo]["run_dir"]).parent.resolve()
    raise SystemExit("a results JSON without RL runs: nothing to compare")


def shared_warm_start(results: dict[Path, dict[str, Any]]) -> Path:
    """The one warm start of every file, or an error naming each file's own.

    Runs from different directories share a warm start when each file records the SFT weights' digest
    (``sft.weights_sha256``, written by sft_rl_lift.py since 2026-12-06) and the digests are equal."""
    starts = {path: warm_start_of(r) for path, r in results.items()}
    digests = {r["sft"].get("weights_sha256") for r in results.values()}
    if len(set(starts.values())) > 1 and (None in digests or len(digests) > 1):
        listing = "; ".join(f"{p.name}: {s}" for p, s in starts.items())
        raise SystemExit(f"these runs did not start from one warm start ({listing}) and their SFT weights' "
                         "digests (sft.weights_sha256) differ or are not recorded; compare runs of one "
                         "--warm-start RUN_DIR")  # fmt: skip
    return next(iter(starts.values()))


def short_names(variants: list[str]) -> list[str]:
    """Variant names without the words all of them start with (task0_shaped_grasp_grpo -> grpo)."""
    words = [v.split("_") for v in variants]
    shared = 0
    while len(variants) > 1 and all(len(w) > shared + 1 and w[shared] == words[0][shared] for w in words):
        shared += 1
    return ["_".join(w[shared:]) for w in words]


def compare(paths: list[Path], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sft_rl_lift import draw_run, finish

    results = {p: json.loads(p.read_text()) for p in paths}
    shared_warm_start(results)
    first = next(iter(results.values()))
    fig, ax = plt.subplots(figsize=(8, 6.4))
    sft_rate = first["sft"]["eval"]["overall"]["success_rate"]
    ax.axhline(sft_rate, color="gray", ls="--", label=f"SFT warm start (eval) {sft_rate:.0%}")
    colors = iter(PALETTE * len(paths))
    for result, variant in zip(results.values(), short_names([p.stem.removeprefix("sft_rl_lift_") for p in paths])):
        for algo in ALGORITHMS:
            if algo in result:
                draw_run(ax, result[algo], f"{algo.upper()} ({variant})", next(colors), sft_rate)
    title = f"LIBERO-Spatial {first['setting']}: RL from one warm start ({first['demos_per_task']} demos/task)"
    return finish(
        fig, ax, title, out, {"loc": "upper center", "bbox_to_anchor": (0.5, -0.13), "ncol": 2, "fontsize": 7}
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", type=Path, nargs="+", help="results JSONs of benchmarks/sft_rl_lift.py")
    p.add_argument("--out", type=Path, required=True, help="the PNG to write")
    args = p.parse_args()
    print(f"plot: {compare(args.results, args.out)}")


if __name__ == "__main__":
    main()
