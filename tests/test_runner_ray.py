"""The Ray backend on CPU slots: placement, pipelined rollout, weights flowing actor -> rollout."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import ray  # installed by scripts/install.sh (core[ray]): a missing Ray fails here, never skips silently

from vlarl.config import load_config
from vlarl.errors import ConfigError
from vlarl.runner.train import train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def ray_cluster():
    ray.init(address="local", num_cpus=2, include_dashboard=False, configure_logging=False)
    yield
    ray.shutdown()


def cfg(tmp_path, *extra):
    example = Path(__file__).parents[1] / "examples" / "gymnasium_cartpole_ppo_mlp.yaml"
    return load_config(example, [
        f"runner.logger.log_path={tmp_path}", "runner.logger.experiment_name=r", "cluster.backend=ray",
        "env.num_envs=4", "rollout.n_chunks=8", "runner.max_epochs=3", "runner.save_interval=3", *extra,
    ])  # fmt: skip


def test_pipelined_training_on_separate_cpu_slots(tmp_path):
    summary = train(
        cfg(tmp_path, "rollout.pipeline_stage_num=2", "cluster.component_placement={env: 0, rollout: 1, actor: 0-1}")
    )
    rows = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2]
    assert rows[-1]["cluster/actor_restarts"] == 0 and "actor/approx_kl" in rows[-1]
    # weights reached the rollout worker: updates change the policy, so rollouts differ from a frozen policy's
    assert rows[0]["actor/approx_kl"] != 0.0
    assert summary.checkpoint is not None and (summary.checkpoint / "model.safetensors").is_file()
    assert 0 < summary.env_steps <= 3 * 4 * 8


def test_placement_json_names_every_worker_and_the_summary_line_is_printed(tmp_path, capsys):
    train(cfg(tmp_path, "runner.max_epochs=1", "rollout.pipeline_stage_num=2",
              "cluster.component_placement={env: 0-1, rollout: 0-1, actor: 0-1}", "cluster.actor_strategy=ddp"))  # fmt: skip
    placed = json.loads((tmp_path / "r" / "placement.json").read_text())
    assert [w["envs"] for w in placed["env"]] == [[0, 1], [1, 2], [2, 3], [3, 4]]  # 2 devices x 2 stages
    assert [w["device"] for w in placed["env"]] == [0, 1, 0, 1] and [w["rollout_worker"] for w in placed["env"]] == [
        0,
        1,
        0,
        1,
    ]
    assert [(w["rank"], w["device"], w["strategy"]) for w in placed["actor"]] == [(0, 0, "ddp"), (1, 1, "ddp")]
    assert len({w["pid"] for w in placed["actor"] + placed["rollout"] + placed["env"]}) == 8  # one process each
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("placement:"))
    assert "env 4 workers" in line and "rollout 2 replicas" in line and "actor 2 ranks, ddp/gloo" in line


def test_impossible_worker_groups_fail_naming_the_keys_before_any_actor_starts(tmp_path, monkeypatch):
    from vlarl.runner.ray_backend import RayTrainer

    def no_reservation(self):
        raise AssertionError("a placement group was reserved")

    monkeypatch.setattr(RayTrainer, "_reserve", no_reservation)
    with pytest.raises(ConfigError, match=r"env.num_envs=6 does not split over 4 env workers"):
        train(cfg(tmp_path, "env.num_envs=6", "rollout.pipeline_stage_num=2",
                  "cluster.component_placement={env: 0-1, rollout: 0, actor: 0}"))  # fmt: skip
    with pytest.raises(ConfigError, match=r"env.num_envs=3 does not split over the 2 actor ranks"):
        train(cfg(tmp_path, "env.num_envs=3", "cluster.component_placement={env: 0, rollout: 0, actor: 0-1}"))
    with pytest.raises(ConfigError, match=r"cluster.actor_strategy=none trains on one rank"):
        train(
            cfg(tmp_path, "cluster.actor_strategy=none", "cluster.component_placement={env: 0, rollout: 0, actor: 0-1}")
        )
    with pytest.raises(ConfigError, match=r"cluster.fsdp_mixed_precision='bf8' is not a compute dtype"):
        train(cfg(tmp_path, "cluster.fsdp_mixed_precision=bf8", "cluster.component_placement={env: 0, rollout: 0, actor: 0-1}"))


def test_placement_on_devices_that_do_not_exist_fails_before_training(tmp_path):
    with pytest.raises(ConfigError, match=r"asks for CPU slots \[2, 3\]"):
        train(cfg(tmp_path, "cluster.component_placement={env: 0-3, rollout: 0, actor: 0}"))


def test_a_run_that_fails_to_start_shuts_down_the_cluster_it_started(tmp_path):
    # Its own process: this module's tests share one cluster, which the runner must leave alone.
    script = f"""
from pathlib import Path
import ray
from tests.test_runner_ray import cfg
from vlarl.errors import ConfigError
from vlarl.runner.train import train
try:
    train(cfg(Path({str(tmp_path)!r}), "cluster.component_placement={{env: 0-3, rollout: 0, actor: 0}}"))
except ConfigError:
    print("initialized after failure:", ray.is_initialized())
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=Path(__file__).parents[1], capture_output=True, text=True, timeout=300
    )
    assert "initialized after failure: False" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("victim", ["env", "rollout"])
def test_a_killed_env_or_rollout_actor_is_restarted_and_counted(tmp_path, monkeypatch, victim):
    from vlarl.runner.ray_backend import RayTrainer

    real = RayTrainer.collect
    killed = []

    def kill_once(self, it):
        if not killed:
            killed.append(it)
            ray.kill(self.env_workers[0] if victim == "env" else self.rollouts[0])
        return real(self, it)

    monkeypatch.setattr(RayTrainer, "collect", kill_once)
    train(cfg(tmp_path, "runner.max_epochs=2"))
    rows = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert killed == [0] and [r["cluster/actor_restarts"] for r in rows] == [1.0, 1.0]


def metrics_of(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def comparable(rows):
    drop = ("time/", "env/steps_per_sec", "cluster/")
    return [{k: v for k, v in r.items() if not k.startswith(drop)} for r in rows]


PIPELINED = ("rollout.pipeline_stage_num=2", "cluster.component_placement={env: 0, rollout: 1, actor: 0-1}")


def test_resumed_ray_run_matches_an_unbroken_run(tmp_path, monkeypatch):
    """Envs persist across iterations and reset (with the rollout RNG) only at checkpoint boundaries."""
    from vlarl.runner.ray_backend import RayTrainer

    real = RayTrainer._initial_obs
    continued = []

    def spy(self, it):
        obs = real(self, it)
        continued.append(obs is self.stage_obs)
        return obs

    monkeypatch.setattr(RayTrainer, "_initial_obs", spy)
    common = (*PIPELINED, "runner.max_epochs=4", "runner.save_interval=2", "policy.num_action_chunks=2")
    train(cfg(tmp_path / "a", *common))
    assert continued == [False, True, False, True]  # reset at 0 and at the checkpoint boundary 2 only
    train(cfg(tmp_path / "b", *common, "runner.max_epochs=2"))
    train(cfg(tmp_path / "b", *common, "runner.resume=auto"))
    unbroken, resumed = metrics_of(tmp_path / "a" / "r"), metrics_of(tmp_path / "b" / "r")
    assert [r["step"] for r in resumed] == [0, 1, 2, 3]
    assert comparable(unbroken) == comparable(resumed)


def test_a_killed_training_actor_restarts_from_the_last_checkpoint_and_the_run_goes_on(tmp_path, monkeypatch):
    from vlarl.runner.ray_backend import RayTrainer

    real = RayTrainer.collect
    killed = []

    def kill_actor_once(self, it):
        if it == 3 and not killed:
            killed.append(it)
            ray.kill(self.actors[1])  # one rank dies before this iteration's update
        return real(self, it)

    common = (
        "runner.max_epochs=4",
        "runner.save_interval=2",
        "cluster.component_placement={env: 0, rollout: 0, actor: 0-1}",
    )
    train(cfg(tmp_path / "a", *common))
    monkeypatch.setattr(RayTrainer, "collect", kill_actor_once)
    summary = train(cfg(tmp_path / "b", *common, "video_cfg.save_video=true", "video_cfg.interval=2",
                        "env.render_images=true"))  # fmt: skip
    rows = metrics_of(tmp_path / "b" / "r")
    # iteration 3 failed, the actor came back from step_000002, iterations 2 and 3 ran again
    assert killed == [3] and [r["step"] for r in rows] == [0, 1, 2, 2, 3]
    assert [r["cluster/actor_restarts"] for r in rows] == [0, 0, 0, 1, 1]
    unbroken = comparable(metrics_of(tmp_path / "a" / "r"))
    # images on (for the video) change nothing the policy sees: it reads states only
    assert comparable(rows[:3]) + comparable(rows[4:]) == unbroken and comparable(rows[3:4]) == unbroken[2:3]
    assert summary.iterations == 4 and summary.checkpoint.name == "step_000004"
    videos = sorted(p.name for p in (tmp_path / "b" / "r" / "video" / "train").glob("*.mp4"))
    assert videos == ["iter_000000.mp4", "iter_000002.mp4"]
