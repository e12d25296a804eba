"""The sft_rl_lift benchmark's bookkeeping: checkpoint curves, warm-start checks and plots, without a simulator."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import sft_rl_lift  # noqa: E402
import sft_rl_lift_checkpoints as checkpoints  # noqa: E402
import sft_rl_lift_compare as compare  # noqa: E402

pytest.importorskip("matplotlib")


def _overall(rate: float) -> dict:
    return {"overall": {"episodes": 50, "success_rate": rate, "success_ci95": [rate - 0.1, rate + 0.1]}}


def _run(tmp_path: Path, algo: str, iterations: int, saved: list[int], name: str = "task0_x") -> dict:
    """A results entry whose run directory holds checkpoints step_<N> and a metrics curve of ``iterations`` rows."""
    run_dir = tmp_path / name / algo
    (run_dir / "checkpoints").mkdir(parents=True)
    for n in saved:
        (run_dir / "checkpoints" / f"step_{n:06d}").mkdir()
        (run_dir / "checkpoints" / f"step_{n:06d}" / "meta.json").write_text("{}")  # complete: meta.json is last
    (run_dir / "checkpoints" / "step_notanumber").mkdir()
    curve = {
        "env_steps": [1000.0 * (i + 1) for i in range(iterations)],
        "success_once": [0.3 + 0.01 * i for i in range(iterations)],
        "num_episodes": [30.0] * iterations,
    }
    return {"iterations": iterations, "run_dir": str(run_dir), "curve": curve, "eval": _overall(0.6)}


def test_saved_checkpoints_sorted_by_iterations(tmp_path: Path) -> None:
    entry = _run(tmp_path, "grpo", 25, [20, 10, 25])
    found = checkpoints.saved_checkpoints(Path(entry["run_dir"]))
    assert [n for n, _ in found] == [10, 20, 25]
    assert found[0][1].name == "step_000010"


def test_checkpoint_env_steps_are_those_after_its_iterations() -> None:
    curve = {"env_steps": [100.0, 250.0, 400.0]}
    assert checkpoints.env_steps_at(curve, 1) == 100
    assert checkpoints.env_steps_at(curve, 3) == 400
    with pytest.raises(SystemExit, match="after 4 iterations"):
        checkpoints.env_steps_at(curve, 4)


@pytest.mark.parametrize(
    ("algo", "group", "envs"), [("ppo", None, 10), ("grpo", 5, 10), ("grpo", 4, 8), ("grpo", 8, 8)]
)
def test_eval_envs_hold_whole_grpo_groups(algo: str, group: int | None, envs: int) -> None:
    from omegaconf import OmegaConf

    section = {"name": algo, **({"group_size": group} if group else {})}
    assert checkpoints.eval_envs(OmegaConf.create({"algorithm": section})) == envs


def test_checkpoint_evals_reuse_written_evaluations_and_skip_the_final(tmp_path: Path) -> None:
    entry = _run(tmp_path, "grpo", 25, [10, 20, 25])
    run_dir = Path(entry["run_dir"])
    for n, rate in ((10, 0.4), (20, 0.5)):
        done = run_dir.parent / f"grpo_eval_step{n}" / "eval" / "results.json"
        done.parent.mkdir(parents=True)
        done.write_text(json.dumps(_overall(rate)))
    result = checkpoints.add_checkpoint_evals({"sft": {"eval": _overall(0.2)}, "grpo": entry})
    evals = result["grpo"]["checkpoint_evals"]
    assert [(e["iterations"], e["env_steps"], e["eval"]["overall"]["success_rate"]) for e in evals] == [
        (10, 10000, 0.4),
        (20, 20000, 0.5),
    ]


def test_checkpoint_evals_every_n_iterations_skip_the_others(tmp_path: Path) -> None:
    entry = _run(tmp_path, "grpo", 45, [10, 20, 30, 40, 45])
    run_dir = Path(entry["run_dir"])
    for n in (20, 40):
        done = run_dir.parent / f"grpo_eval_step{n}" / "eval" / "results.json"
        done.parent.mkdir(parents=True)
        done.write_text(json.dumps(_overall(n / 100)))
    # 10 and 30 have no evaluation on disk and no config.yaml: scoring either would raise.
    result = checkpoints.add_checkpoint_evals({"grpo": entry}, every=20)
    assert [e["iterations"] for e in result["grpo"]["checkpoint_evals"]] == [20, 40]


def test_checkpoint_evals_need_the_run_directory(tmp_path: Path) -> None:
    entry = {"iterations": 3, "run_dir": str(tmp_path / "gone"), "curve": {}, "eval": _overall(0.5)}
    with pytest.raises(SystemExit, match="gone"):
        checkpoints.add_checkpoint_evals({"ppo": entry})


def _results(tmp_path: Path, algo: str, note: str | None, name: str) -> dict:
    sft = {"eval": _overall(0.22), **({"note": note} if note else {})}
    return {"setting": "task0", "demos_per_task": 16, "sft": sft, algo: _run(tmp_path, algo, 12, [], name)}


def test_runs_from_one_warm_start_share_one_plot(tmp_path: Path) -> None:
    origin = _results(tmp_path, "grpo", None, "task0_a")
    origin["grpo"]["checkpoint_evals"] = [{"iterations": 5, "env_steps": 5000, "eval": _overall(0.4)}]
    reused = _results(tmp_path, "ppo", f"reused from {tmp_path / 'task0_a'}", "task0_b")
    paths = []
    for name, result in (("sft_rl_lift_a.json", origin), ("sft_rl_lift_b.json", reused)):
        paths.append(tmp_path / name)
        paths[-1].write_text(json.dumps(result))
    out = compare.compare(paths, tmp_path / "both.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The single-run plot draws the checkpoint evaluations too.
    assert sft_rl_lift.plot(origin, tmp_path / "one.png").stat().st_size > 0


def test_plot_labels_drop_the_shared_words() -> None:
    names = ["task0_shaped_grasp_same_start", "task0_shaped_grasp_grpo", "task0_shaped_grasp_grpo_64x8"]
    assert compare.short_names(names) == ["same_start", "grpo", "grpo_64x8"]
    assert compare.short_names(["task0_x", "task0_x_y"]) == ["x", "x_y"]
    assert compare.short_names(["task0"]) == ["task0"]


def test_runs_from_different_warm_starts_are_refused(tmp_path: Path) -> None:
    a = _results(tmp_path, "grpo", None, "task0_a")
    b = _results(tmp_path, "ppo", None, "task0_b")
    with pytest.raises(SystemExit, match="did not start from one warm start") as err:
        compare.shared_warm_start({tmp_path / "a.json": a, tmp_path / "b.json": b})
    assert "task0_a" in str(err.value) and "task0_b" in str(err.value)


def test_warm_starts_made_twice_share_a_plot_when_their_weights_are_identical(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    def sft_run(name: str, weight: float) -> Path:
        step = tmp_path / name / "sft" / "checkpoints" / "step_001500"
        step.mkdir(parents=True)
        save_file({"w": torch.full((3,), weight)}, str(step / "model.safetensors"))
        (step / "meta.json").write_text("{}")
        return tmp_path / name

    digests = [sft_rl_lift.warm_start_digest(sft_run(n, w)) for n, w in (("a", 1.0), ("b", 1.0), ("c", 2.0))]
    assert digests[0] == digests[1] != digests[2]
    assert sft_rl_lift.warm_start_digest(tmp_path / "none") is None
    runs = {}
    for name, digest in zip("abc", digests):
        runs[name] = _results(tmp_path, "grpo", None, f"task0_{name}")
        runs[name]["sft"]["weights_sha256"] = digest
    compare.shared_warm_start({tmp_path / "a.json": runs["a"], tmp_path / "b.json": runs["b"]})
    with pytest.raises(SystemExit, match="digests"):
        compare.shared_warm_start({tmp_path / "a.json": runs["a"], tmp_path / "c.json": runs["c"]})
    del runs["b"]["sft"]["weights_sha256"]  # a file from before digests were recorded
    with pytest.raises(SystemExit, match="not recorded"):
        compare.shared_warm_start({tmp_path / "a.json": runs["a"], tmp_path / "b.json": runs["b"]})


def test_extend_resumes_a_run_and_checkpoints_are_scored(tmp_path: Path) -> None:
    """--extend on a real (CartPole) run: one iteration, then one more by exact resume; both scored."""
    from vlarl.config import load_config
    from vlarl.runner.train import train

    example = BENCHMARKS.parent / "examples" / "gymnasium_cartpole_ppo_mlp.yaml"
    overrides = [f"runner.logger.log_path={tmp_path}", "runner.logger.experiment_name=v/ppo", "env.num_envs=4",
                 "rollout.n_chunks=40", "runner.max_epochs=100000", "runner.max_minutes=0.0001",
                 "runner.keep_checkpoints=null", "runner.eval_episodes=2"]  # fmt: skip
    first = train(load_config(example, overrides))
    assert first.iterations == 1
    entry = {"minutes": 0.5, "env_steps": first.env_steps, "iterations": 1, "run_dir": str(first.run_dir),
             "curve": sft_rl_lift.training_curve(first.run_dir), "eval": _overall(0.1)}  # fmt: skip
    path = tmp_path / "sft_rl_lift_v.json"
    path.write_text(json.dumps({"setting": "task0", "demos_per_task": 1, "sft": {"eval": _overall(0.1)}, "ppo": entry}))

    result = sft_rl_lift.extend_runs(path, 0.0001, None)
    ppo = result["ppo"]
    assert ppo["iterations"] == 2 and ppo["env_steps"] == 2 * first.env_steps
    assert len(ppo["curve"]["env_steps"]) == 2 and ppo["minutes"] > 0.5
    assert ppo["extended_by_minutes"] == [0.0001]
    assert ppo["eval"]["checkpoint"].endswith("step_000002") and ppo["eval"]["overall"]["episodes"] == 2
    with pytest.raises(SystemExit, match=r"grpo.*gone"):
        sft_rl_lift.extend_runs(_write(tmp_path, {"grpo": {**entry, "run_dir": str(tmp_path / "no")}}), 1.0, None)

    evals = checkpoints.add_checkpoint_evals(result)["ppo"]["checkpoint_evals"]
    assert [(e["iterations"], e["env_steps"]) for e in evals] == [(1, first.env_steps)]
    assert (tmp_path / "v" / "ppo_eval_step1" / "eval" / "results.json").is_file()


def _write(tmp_path: Path, result: dict) -> Path:
    path = tmp_path / "other.json"
    path.write_text(json.dumps(result))
    return path
