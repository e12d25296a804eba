"""The local runner end to end on gymnasium + mlp + ppo: outputs, exact resume, faults."""

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from vlarl.config import load_config
from vlarl.errors import ConfigError, PluginError, VlarlError
from vlarl.runner import checkpoint as ckpt
from vlarl.runner.evaluate import evaluate
from vlarl.runner.train import train

EXAMPLE = Path(__file__).parents[1] / "examples" / "gymnasium_cartpole_ppo_mlp.yaml"


def config(tmp_path, *overrides):
    base = [
        f"runner.logger.log_path={tmp_path}",
        "runner.logger.experiment_name=t",
        "env.num_envs=4",
        "rollout.n_chunks=8",
        "runner.save_interval=2",
        "runner.max_epochs=4",
        "policy.num_action_chunks=2",
    ]
    return load_config(EXAMPLE, [*base, *overrides])


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_training_writes_logs_config_and_checkpoints(tmp_path):
    summary = train(config(tmp_path, "video_cfg.save_video=true", "video_cfg.interval=2", "env.render_images=true"))
    run = tmp_path / "t"
    assert summary.iterations == 4 and 0 < summary.env_steps <= 4 * 4 * 8 * 2
    saved = OmegaConf.load(run / "config.yaml")
    assert saved.env.num_envs == 4 and saved.policy.name == "mlp"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_000002", "step_000004"]
    assert {f.name for f in (run / "checkpoints" / "step_000004").iterdir()} == {
        "model.safetensors",
        "trainer.pt",
        "rng.pt",
        "meta.json",
    }
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    rows = metrics(run)
    assert [r["step"] for r in rows] == [0, 1, 2, 3]
    for key in (
        "actor/loss",
        "actor/value_loss",
        "actor/approx_kl",
        "actor/pg_clipfrac",
        "rollout/returns_mean",
        "env/episode_len",
        "env/success_once",
        "time/rollout",
    ):
        assert key in rows[-1], key
    videos = sorted((run / "video" / "train").glob("*.mp4"))
    assert [v.name for v in videos] == ["iter_000000.mp4", "iter_000002.mp4"] and videos[0].stat().st_size > 1000


def test_resumed_run_matches_an_unbroken_run(tmp_path):
    train(config(tmp_path / "a"))
    unbroken = metrics(tmp_path / "a" / "t")
    train(config(tmp_path / "b", "runner.max_epochs=2"))
    train(config(tmp_path / "b", "runner.resume=auto"))
    resumed = metrics(tmp_path / "b" / "t")
    assert [r["step"] for r in resumed] == [0, 1, 2, 3]
    drop = ("time/", "env/steps_per_sec")
    for a, b in zip(unbroken, resumed):
        assert {k: v for k, v in a.items() if not k.startswith(drop)} == {
            k: v for k, v in b.items() if not k.startswith(drop)
        }


def test_full_disk_during_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = ckpt.save_file

    def flaky(tensors, path):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        real(tensors, path)

    monkeypatch.setattr(ckpt, "save_file", flaky)
    with pytest.raises(ckpt.CheckpointError, match=r"Disk full while saving .*step_000004; previous checkpoint .*step_000002 intact"):
        train(config(tmp_path))
    root = tmp_path / "t" / "checkpoints"
    assert [p.name for p in root.iterdir()] == ["step_000002"]  # no half-written step_000004, no temp dir
    assert ckpt.latest_checkpoint(root).name == "step_000002"


def test_ctrl_c_saves_completed_iterations(tmp_path, monkeypatch):
    """A Ctrl-C during iteration 2 lets it complete, checkpoints the 3 completed iterations and stops."""
    import os
    import signal

    from vlarl.runner import train as train_module

    real = train_module.LocalTrainer.iteration

    def interrupt_third(self, it):
        if it == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, it)

    monkeypatch.setattr(train_module.LocalTrainer, "iteration", interrupt_third)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, also in a background job
    try:
        with pytest.raises(KeyboardInterrupt, match="Stopped by Ctrl-C after 3 iterations"):
            train(config(tmp_path, "runner.save_interval=100"))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert ckpt.latest_checkpoint(tmp_path / "t" / "checkpoints").name == "step_000003"


def test_non_finite_metrics_stop_with_a_clear_error(tmp_path, monkeypatch):
    from vlarl.runner import train as train_module

    real = train_module.LocalTrainer.iteration

    def nan_metrics(self, it):
        m = real(self, it)
        m["actor/loss"] = float("nan")
        return m

    monkeypatch.setattr(train_module.LocalTrainer, "iteration", nan_metrics)
    with pytest.raises(VlarlError, match=r"non-finite metrics \['actor/loss'\]"):
        train(config(tmp_path))


def test_eval_writes_per_task_json(tmp_path):
    train(config(tmp_path, "runner.max_epochs=2"))
    summary = evaluate(config(tmp_path, "checkpoint=auto", "runner.eval_episodes=3"))
    data = json.loads((tmp_path / "t" / "eval" / "results.json").read_text())
    assert data["tasks"]["CartPole-v1"]["episodes"] >= 3
    assert data["checkpoint"].endswith("step_000002")
    assert summary["overall"]["episodes"] == data["overall"]["episodes"]


def test_config_errors_come_before_anything_starts(tmp_path):
    with pytest.raises(PluginError, match="Installed envs:"):
        train(config(tmp_path, "env.name=nonexistent"))
    with pytest.raises(ConfigError, match="Did you mean 'gae_lambda'"):
        train(config(tmp_path, "algorithm.gae_lamda=0.9"))
    with pytest.raises(ConfigError, match="Unknown top-level config section 'runer'"):
        train(config(tmp_path, "runer.seed=1"))
    assert not (tmp_path / "t" / "checkpoints").exists()


def test_wandb_offline_records_the_same_metrics_as_the_other_loggers(tmp_path, monkeypatch):
    """W&B listed in logger_backends, with no network: a real offline run under the run directory."""
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    logged = []
    real_log = wandb.sdk.wandb_run.Run.log

    def spy(self, data, *args, **kwargs):
        logged.append((kwargs.get("step"), dict(data)))
        return real_log(self, data, *args, **kwargs)

    monkeypatch.setattr(wandb.sdk.wandb_run.Run, "log", spy)
    train(config(tmp_path, "runner.max_epochs=2", "runner.logger.logger_backends=[tensorboard,wandb]"))
    rows = metrics(tmp_path / "t")
    assert [(step, data) for step, data in logged] == [(r["step"], {k: v for k, v in r.items() if k != "step"}) for r in rows]
    runs = list((tmp_path / "t" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1, runs
    # The run file holds one history record per iteration (protobuf keeps the metric names as plain bytes).
    assert runs[0].read_bytes().count(b"rollout/returns_mean") >= 2
    assert list((tmp_path / "t" / "tensorboard").glob("events.out.tfevents.*"))
