"""Learning evidence on the real LIBERO simulator: few-shot SFT, then PPO and GRPO lift success.

For each setting: collect K scripted demonstrations per task (privileged states, no cameras; DART: the
executed actions are perturbed by noise, the expert's own actions recorded), SFT the
mlp policy on them, evaluate it with LIBERO's protocol (every init state of the task once, success with
a 95% Wilson interval), then PPO from that warm start and GRPO from the same warm start, each evaluated
the same way. Writes benchmarks/results/sft_rl_lift_<variant>.json, a PNG of success against env steps, and
rewrites benchmarks/results/sft_rl_lift.json, the rows of every variant (benchmarks/sft_rl_lift_summary.py).

    .venv/bin/python benchmarks/sft_rl_lift.py                        # task 0: PPO and GRPO, 25 min RL budget each
    .venv/bin/python benchmarks/sft_rl_lift.py --setting spatial10    # all 10 libero_spatial tasks, task-conditioned
    .venv/bin/python benchmarks/sft_rl_lift.py --setting quick        # the main job's small version (~13 min)
    .venv/bin/python benchmarks/sft_rl_lift.py --reward shaped        # RL on LIBERO's success plus shaping

``--reward shaped`` trains RL on env.reward_type=shaped (the success reward plus the change of a pick-and-place
progress potential, vlarl_libero/shaping.py); evaluation always scores LIBERO's success. Its results are written
as sft_rl_lift_<setting>_shaped.json. ``--rl-set KEY=VALUE ...`` adds overrides to the RL runs and ``--tag NAME``
names such a variant (sft_rl_lift_<setting>_shaped_<NAME>.json), e.g. the grasp-aimed reach on 32 envs:

    .venv/bin/python benchmarks/sft_rl_lift.py --reward shaped --algos ppo --rl-minutes 60 --tag grasp \
        --rl-set env.shaping_reach=grasp env.shaping_reach_weight=0.2 env.num_envs=32

``--warm-start RUN_DIR`` starts the RL runs from an earlier variant's demos and SFT checkpoint (its run directory,
e.g. runs/sft_rl_lift/task0_shaped_grasp), so two algorithms or budgets share the identical warm start.
``--extend RESULTS_JSON --rl-minutes M`` resumes a variant's RL runs for M more minutes each (exact resume) and
re-evaluates them. Every RL checkpoint is kept: ``benchmarks/sft_rl_lift_checkpoints.py`` scores them for a
deterministic learning curve, ``benchmarks/sft_rl_lift_compare.py`` draws runs of one warm start on one plot.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sft_rl_lift_summary import ALGORITHMS, summarize

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "libero_spatial_sft_ppo_mlp.yaml"


# DART noise (x y z, rx ry rz, gripper), in action units: the expert still succeeds on every episode with it.
DART_NOISE = (0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.0)


@dataclass
class Setting:
    task_ids: list[int]
    demos: int
    sft_steps: int
    rl_minutes: dict[str, float]  # algorithm -> time budget of its RL run
    num_envs: int = 8
    task_embedding: bool = False
    base: list[str] = field(default_factory=list)  # extra overrides of every stage
    eval_untrained: bool = False  # also score the randomly initialised policy (the main job's "before SFT" row)
    overrides: dict[str, list[str]] = field(default_factory=dict)  # algorithm -> extra config overrides
    # DART: std of the noise added to the expert's executed actions while its clean action is recorded
    # (positions, rotations, gripper), so the demos show recoveries from the drift of a noisy policy.
    action_noise: tuple[float, ...] = DART_NOISE


# GRPO replaces the example's (PPO) algorithm section; a rollout covers a whole episode (70 chunks of 4 = 280 steps).
GRPO = {
    "name": "grpo",
    "group_size": 4,
    "lr": 3e-5,
    "target_kl": 0.02,
    "update_epochs": 2,
    "num_minibatches": 2,
    "clip_ratio_low": 0.2,
    "clip_ratio_high": 0.2,
    "max_grad_norm": 0.5,
}
GRPO_ROLLOUT = ["rollout.n_chunks=70"]
# --reward shaped: exploration std 0.1 (set at the SFT stage: RL starts from the checkpoint's log_std; MSE cloning
# ignores it, so the mean is the same network) and a PPO lr of 1e-4, as measured in benchmarks/README.md.
SHAPED_BASE = ["policy.init_log_std=-2.303"]
SHAPED_OVERRIDES = {"ppo": ["algorithm.lr=1e-4"]}
SETTINGS: dict[str, Setting] = {
    # K = 16 DART demos: 10 gave 20%, 15 gave 38%, 20 gave 68% (screening, deterministic, 50 init states).
    "task0": Setting(
        [0],
        demos=16,
        sft_steps=1500,
        rl_minutes={"ppo": 25, "grpo": 25},
        num_envs=16,
        overrides={"ppo": ["algorithm.critic_warmup_steps=5"]},
    ),
    # Two sub-envs per task, so every update sees each task; the task-0 PPO settings otherwise. K = 10: with 20
    # demos per task the joint policy's warm start was already 74% on the first 90 of 500 episodes.
    "spatial10": Setting(
        list(range(10)),
        demos=10,
        sft_steps=6000,
        rl_minutes={"ppo": 60},
        num_envs=20,
        task_embedding=True,
        overrides={"ppo": ["algorithm.critic_warmup_steps=5"]},
    ),
    # The main job. Evaluating the untrained policy (--eval-untrained: 0.0% [0.0, 7.1] when last run) would add
    # ~4 minutes of episodes that all run to the 280-step limit, close to the main job's 15-minute budget.
    "quick": Setting([0], demos=20, sft_steps=1500, rl_minutes={"ppo": 5}),
    # Checks the script end to end in ~3 minutes (short episodes, tiny budgets); its figures mean nothing.
    "smoke": Setting(
        [0], demos=2, sft_steps=50, rl_minutes={"ppo": 0.2, "grpo": 0.2}, base=["env.max_episode_steps=24"]
    ),
}


def _config(base: list[str], extra: list[str], algorithm: dict[str, Any] | None = None) -> Any:
    from omegaconf import OmegaConf

    from vlarl.config import load_config

    cfg = load_config(EXAMPLE, base + extra)
    if algorithm is not None:
        # The replacement section keeps the run's algorithm.* overrides (e.g. --rl-set algorithm.lr=1e-4).
        mine = [o.removeprefix("algorithm.") for o in base + extra if o.startswith("algorithm.")]
        cfg.algorithm = OmegaConf.merge(OmegaConf.create(algorithm), OmegaConf.from_dotlist(mine))
    return cfg


def collect(out: Path, setting: Setting, seed: int) -> dict[str, Any]:
    from vlarl_libero.collect import collection_progress
    from vlarl_libero.collector import collect_demos

    t0 = time.perf_counter()
    with collection_progress(setting.demos * len(setting.task_ids)) as callbacks:
        report = collect_demos(
            suite="libero_spatial", task_ids=setting.task_ids, demos_per_task=setting.demos, out=out, cameras=[],
            num_envs=2, seed=seed, action_noise=setting.action_noise, **callbacks,
        )  # fmt: skip
    minutes = (time.perf_counter() - t0) / 60
    print(f"Collected {report['demos']} scripted demonstrations in {minutes:.1f} min: {out}", flush=True)
    return {"minutes": minutes, **report}


def evaluate_run(base: list[str], name: str, checkpoint: str | None) -> dict[str, Any]:
    from vlarl.runner.evaluate import evaluate

    t0 = time.perf_counter()
    extra = [f"runner.logger.experiment_name={name}", "env.num_envs=10", "env.num_workers=2"]
    if checkpoint:
        extra.append(f"checkpoint={checkpoint}")
    summary = evaluate(_config(base, extra))
    summary["minutes"] = (time.perf_counter() - t0) / 60
    print(f"Evaluation {name}: {success_row(summary)}, {summary['minutes']:.1f} min", flush=True)
    return summary


def collect_and_sft(exp: str, base: list[str], demos: Path, setting: Setting, seed: int) -> dict[str, Any]:
    """The warm start: scripted demos, SFT, and its evaluation (plus the untrained policy's, when asked)."""
    from vlarl.runner.sft import sft

    result: dict[str, Any] = {"collect": collect(demos, setting, seed)}
    if setting.eval_untrained:
        result["untrained"] = {
            "eval": evaluate_run([*base, "policy.init_checkpoint=null"], f"{exp}/untrained_eval", None)
        }
    t0 = time.perf_counter()
    cfg = _config(base, [f"runner.logger.experiment_name={exp}", f"sft.max_steps={setting.sft_steps}"])
    cfg.policy.init_checkpoint = None
    sft(cfg)
    result["sft"] = {"minutes": (time.perf_counter() - t0) / 60, "steps": setting.sft_steps}
    result["sft"]["eval"] = evaluate_run(base, f"{exp}/sft_eval", None)
    return result


def warm_start_digest(run: Path) -> str | None:
    """sha256 of the weights of the latest SFT checkpoint under ``run`` (None if there is none).

    The checkpoint's model.safetensors carries no metadata, so two runs whose digests are equal started RL from
    the identical warm start even when it was made twice (sft_rl_lift_compare.py accepts them on one plot)."""
    from vlarl.runner.checkpoint import latest_checkpoint

    checkpoint = latest_checkpoint(run / "sft" / "checkpoints")
    if checkpoint is None:
        return None
    return hashlib.sha256((checkpoint / "model.safetensors").read_bytes()).hexdigest()


def reused_warm_start(run: Path, setting: Setting) -> dict[str, Any]:
    """The collect and SFT entries of an earlier variant's run directory (``--warm-start``), checked first."""
    evaluation = run / "sft_eval" / "eval" / "results.json"
    missing = [p for p in (run / "demos", run / "sft" / "checkpoints", evaluation) if not p.exists()]
    if missing:
        raise SystemExit(f"--warm-start {run}: missing {', '.join(map(str, missing))} (give the run directory of an "
                         "earlier sft_rl_lift.py variant, e.g. runs/sft_rl_lift/task0_shaped_grasp)")  # fmt: skip
    note = f"reused from {run}"
    return {
        "collect": {"minutes": 0.0, "demos": setting.demos, "note": note},
        "sft": {"minutes": 0.0, "steps": setting.sft_steps, "note": note, "eval": json.loads(evaluation.read_text())},
    }


def run_setting(
    name: str, setting: Setting, root: Path, seed: int, reward: str = "sparse", rl_set: list[str] | None = None,
    tag: str = "", warm_start: Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    """``rl_set``: extra overrides of the RL runs (after the setting's); ``tag``: appended to the run's name;
    ``warm_start``: the run directory of an earlier variant whose demos, SFT checkpoint and SFT evaluation are
    reused instead of collecting and training anew (RL from the identical warm start)."""
    from vlarl.runner.train import train

    exp = experiment_name(name, reward, tag)
    run = root / exp
    source = warm_start or run
    demos = source / "demos"
    base = [
        f"runner.logger.log_path={root}",
        f"runner.seed={seed}",
        f"dataset.paths=[{demos}]",
        f"dataset.max_demos_per_task={setting.demos}",
        f"env.task_ids={setting.task_ids}",
        f"env.num_envs={setting.num_envs}",
        f"policy.init_checkpoint={source / 'sft'}",
    ]
    if setting.task_embedding:
        base.append("policy.task_embedding_dim=16")
    if reward == "shaped":
        base += SHAPED_BASE
    base += setting.base
    result: dict[str, Any] = {
        "setting": name, "reward": reward, "task_ids": setting.task_ids, "demos_per_task": setting.demos,
        "rl_overrides": list(rl_set or []),
    }  # fmt: skip
    if warm_start:
        result.update(reused_warm_start(warm_start, setting))
    else:
        result.update(collect_and_sft(exp, base, demos, setting, seed))
    result["sft"]["weights_sha256"] = warm_start_digest(source)
    for algo, minutes in setting.rl_minutes.items():
        extra = [
            f"env.reward_type={reward}",
            f"runner.logger.experiment_name={exp}/{algo}",
            f"runner.max_minutes={minutes}",
            "runner.max_epochs=100000",
            "runner.keep_checkpoints=null",  # a few hundred kB each: all kept for sft_rl_lift_checkpoints.py
        ]
        extra += GRPO_ROLLOUT if algo == "grpo" and not setting.base else []
        extra += setting.overrides.get(algo, [])
        extra += SHAPED_OVERRIDES.get(algo, []) if reward == "shaped" else []
        extra += rl_set or []
        section = GRPO if algo == "grpo" else None
        t0 = time.perf_counter()
        summary = train(_config(base, extra, section))
        entry: dict[str, Any] = {
            "minutes": (time.perf_counter() - t0) / 60,
            "env_steps": summary.env_steps,
            "iterations": summary.iterations,
            "run_dir": str(summary.run_dir),
            "curve": training_curve(Path(summary.run_dir)),
        }
        # Evaluation needs no algorithm: the example's (PPO) section only satisfies the config's shape, so the
        # run's algorithm.* overrides (GRPO's group_size, say) stay out of it.
        scored = [o for o in base + extra if not o.startswith("algorithm.")]
        entry["eval"] = evaluate_run(scored, f"{exp}/{algo}_eval", str(summary.checkpoint))
        result[algo] = entry
    return result


def extend_runs(path: Path, minutes: float, algos: list[str] | None) -> dict[str, Any]:
    """Resume the RL runs of a results JSON for ``minutes`` more each (exact resume from their last checkpoint),
    evaluate where they end, and rewrite the JSON's entries: minutes and env steps in all, curve, evaluation."""
    from sft_rl_lift_checkpoints import score

    from vlarl.config import load_config
    from vlarl.runner.train import train

    result = json.loads(path.read_text())
    for algo in ALGORITHMS:
        if algo not in result or (algos and algo not in algos):
            continue
        entry = result[algo]
        run_dir = Path(entry["run_dir"])
        if not (run_dir / "config.yaml").is_file():
            raise SystemExit(f"--extend {path}: the {algo} run directory {run_dir} is gone; it cannot be resumed")
        overrides = ["runner.resume=auto", f"runner.max_minutes={minutes}", "runner.keep_checkpoints=null"]
        t0 = time.perf_counter()
        summary = train(load_config(run_dir / "config.yaml", overrides))
        entry["minutes"] += (time.perf_counter() - t0) / 60
        entry.setdefault("extended_by_minutes", []).append(minutes)
        entry.update(env_steps=summary.env_steps, iterations=summary.iterations, curve=training_curve(run_dir))
        entry["eval"] = score(run_dir, summary.iterations, Path(summary.checkpoint))
        print(f"Evaluation {algo} after {summary.iterations} iterations: {success_row(entry['eval'])}", flush=True)
    return result


def experiment_name(setting: str, reward: str, tag: str) -> str:
    """Run directory and results file stem: sft_rl_lift_<setting>[_<reward>][_<tag>]."""
    return "_".join(x for x in (setting, "" if reward == "sparse" else reward, tag) if x)


def success_row(summary: dict[str, Any]) -> str:
    o = summary["overall"]
    low, high = o["success_ci95"]
    return f"{o['success_rate']:.1%} [{low:.1%}, {high:.1%}] (n={o['episodes']})"


def print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    reward = "" if result.get("reward", "sparse") == "sparse" else f", RL on the {result['reward']} reward"
    t = Table(title=f"{result['setting']}{reward}: success on every init state (95% Wilson interval)")
    for col in ("stage", "success", "env steps", "minutes"):
        t.add_column(col)
    if "untrained" in result:
        t.add_row("untrained policy", success_row(result["untrained"]["eval"]), "0", "")
    t.add_row(
        f"SFT ({result['demos_per_task']} demos/task)",
        success_row(result["sft"]["eval"]),
        "0",
        f"{result['sft']['minutes']:.1f}",
    )
    for algo in ALGORITHMS:
        if algo in result:
            r = result[algo]
            t.add_row(f"SFT + {algo.upper()}", success_row(r["eval"]), str(r["env_steps"]), f"{r['minutes']:.1f}")
    Console().print(t)
    tasks = result["sft"]["eval"].get("tasks", {})
    algos = [a for a in ALGORITHMS if a in result]
    if len(tasks) > 1:
        per_task = Table(title="per task: success after SFT, then after RL")
        for col in ("task", "SFT", *(f"SFT + {a.upper()}" for a in algos)):
            per_task.add_column(col)
        for task, stats in tasks.items():
            after = [result[a]["eval"]["tasks"][task] for a in algos]
            per_task.add_row(task, *(f"{s['success_rate']:.0%} (n={s['episodes']})" for s in (stats, *after)))
        Console().print(per_task)


def training_curve(run_dir: Path) -> dict[str, list[float]]:
    """Per iteration of a train run: env steps so far, rollout success and episodes ended (from metrics.jsonl).

    Kept in the results JSON, so the plot can be redrawn where the run directory is gone."""
    metrics = run_dir / "metrics.jsonl"
    if not metrics.is_file():
        raise SystemExit(f"{metrics} is gone and the results JSON keeps no curve of this run: cannot plot it")
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    rows = [r for r in rows if "env/success_once" in r]
    return {
        "env_steps": [r["train/env_steps"] for r in rows],
        "success_once": [r["env/success_once"] for r in rows],
        "num_episodes": [r.get("env/num_episodes", 1.0) for r in rows],
    }


COLORS = {"ppo": "tab:blue", "grpo": "tab:orange"}


def draw_run(ax: Any, entry: dict[str, Any], label: str, color: str, sft_rate: float) -> None:
    """One RL run on ``ax``: its training rollouts' success (episode-weighted mean of 5 iterations), and its
    deterministic evaluations (checkpoints scored by sft_rl_lift_checkpoints.py, then the final one) with their
    95% intervals, joined to the warm start's level."""
    import numpy as np

    curve = entry.get("curve") or training_curve(Path(entry["run_dir"]))
    x, y, n = (np.array(curve[key]) for key in ("env_steps", "success_once", "num_episodes"))
    # Episode-weighted: an iteration where only a few (early, successful) episodes ended counts for a few.
    k = max(1, min(5, len(y)))
    smooth = np.convolve(y * n, np.ones(k), mode="valid") / np.maximum(np.convolve(n, np.ones(k), mode="valid"), 1e-9)
    evals = [(c["env_steps"], c["eval"]["overall"]) for c in entry.get("checkpoint_evals", [])]
    evals.append((x[-1], entry["eval"]["overall"]))
    faint = len(evals) > 1  # the evaluations carry the curve; the rollouts stay as context
    ax.plot(x[k - 1 :], smooth, color=color, alpha=0.35 if faint else 1.0, lw=1.0 if faint else 1.5,
            label=f"{label} rollouts (stochastic, {k} iterations, episode-weighted)")  # fmt: skip
    steps = np.array([s for s, _ in evals], dtype=float)
    rates = np.array([o["success_rate"] for _, o in evals])
    low = rates - np.array([o["success_ci95"][0] for _, o in evals])
    high = np.array([o["success_ci95"][1] for _, o in evals]) - rates
    if faint:
        ax.plot([0, *steps], [sft_rate, *rates], color=color, lw=1.5)
    what = f"evals (deterministic), final {rates[-1]:.0%}" if faint else f"final eval {rates[-1]:.0%}"
    ax.errorbar(steps, rates, yerr=[low, high], fmt="o", color=color, capsize=4, label=f"{label} {what}")


def plot(result: dict[str, Any], path: Path) -> Path:
    """Training success against env steps; the SFT level and the evaluations marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    sft_rate = result["sft"]["eval"]["overall"]["success_rate"]
    ax.axhline(sft_rate, color="gray", ls="--", label=f"SFT warm start (eval) {sft_rate:.0%}")
    for algo in ALGORITHMS:
        if algo in result:
            draw_run(ax, result[algo], algo.upper(), COLORS[algo], sft_rate)
    reward = "" if result.get("reward", "sparse") == "sparse" else f" ({result['reward']} reward)"
    title = f"LIBERO-Spatial {result['setting']}: SFT on {result['demos_per_task']} demos/task, then RL{reward}"
    return finish(fig, ax, title, path)


def finish(fig: Any, ax: Any, title: str, path: Path, legend: dict[str, Any] | None = None) -> Path:
    """Axes, legend (``legend``: its keyword arguments, default lower right) and the PNG of an sft_rl_lift plot."""
    import matplotlib.pyplot as plt

    ax.set_xlim(left=0)
    ax.set_xlabel("env steps")
    ax.set_ylabel("success rate")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.legend(**(legend or {"loc": "lower right", "fontsize": 8}))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--setting", choices=sorted(SETTINGS), default="task0")
    p.add_argument("--root", type=Path, default=ROOT / "runs" / "sft_rl_lift")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--algos", nargs="*", help="subset of the setting's algorithms")
    p.add_argument("--eval-untrained", action="store_true", help="also score the randomly initialised policy")
    p.add_argument("--reward", choices=["sparse", "shaped"], default="sparse", help="env.reward_type of the RL runs")
    p.add_argument("--rl-minutes", type=float, help="time budget of each RL run (default: the setting's)")
    p.add_argument("--demos", type=int, help="scripted demos per task, K (default: the setting's)")
    p.add_argument("--rl-set", nargs="*", default=[], metavar="KEY=VALUE", help="extra overrides of the RL runs")
    p.add_argument("--tag", default="", help="suffix of the run directory and results file (a variant's name)")
    p.add_argument(
        "--warm-start", type=Path, metavar="RUN_DIR",
        help="reuse the demos, SFT checkpoint and SFT evaluation of an earlier variant's run directory",
    )  # fmt: skip
    p.add_argument(
        "--replot", type=Path, help="redraw the plot and table of a results JSON (its PNG beside it), run nothing"
    )
    p.add_argument(
        "--extend", type=Path, metavar="RESULTS_JSON",
        help="resume that JSON's RL runs for --rl-minutes more each, re-evaluate, rewrite the JSON and its plot",
    )  # fmt: skip
    args = p.parse_args()
    if args.extend:
        if not args.rl_minutes:
            raise SystemExit("--extend needs --rl-minutes M: how many more minutes each RL run gets")
        result = extend_runs(args.extend, args.rl_minutes, args.algos)
        args.extend.write_text(json.dumps(result, indent=2, default=str))
    if args.replot or args.extend:
        path = args.replot or args.extend
        result = json.loads(path.read_text())
        print_table(result)
        print(f"plot: {plot(result, path.with_suffix('.png'))}")
        if args.extend:
            print(f"summary: {summarize(path.parent)}")
        return
    setting = SETTINGS[args.setting]
    if args.eval_untrained:
        setting.eval_untrained = True
    if args.demos:
        setting.demos = args.demos
    if args.rl_minutes:
        setting.rl_minutes = {a: args.rl_minutes for a in setting.rl_minutes}
    if args.algos:
        setting.rl_minutes = {a: m for a, m in setting.rl_minutes.items() if a in args.algos}
    result = run_setting(
        args.setting, setting, args.root, args.seed, args.reward, args.rl_set, args.tag, args.warm_start
    )
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"sft_rl_lift_{experiment_name(args.setting, args.reward, args.tag)}"
    result["plot"] = str(plot(result, stem.with_suffix(".png")))
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str))
    print_table(result)
    print(f"results: {stem.with_suffix('.json')}\nplot: {result['plot']}\nsummary: {summarize(args.out)}")


if __name__ == "__main__":
    main()
