"""The Ray backend on CPU slots: placement, pipelined rollout, weights flowing actor -> rollout."""

import json

import pytest

from vlarl.config import load_config
from vlarl.errors import ConfigError
from vlarl.runner.train import train

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
    yield
    ray.shutdown()


def cfg(tmp_path, *extra):
    from pathlib import Path

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


def test_placement_on_devices_that_do_not_exist_fails_before_training(tmp_path):
    with pytest.raises(ConfigError, match=r"asks for CPU slots \[2, 3\]"):
        train(cfg(tmp_path, "cluster.component_placement={env: 0-3, rollout: 0, actor: 0}"))


def test_a_killed_env_actor_is_restarted_and_counted(tmp_path, monkeypatch):
    from vlarl.runner.ray_backend import RayTrainer

    real = RayTrainer.collect
    killed = []

    def kill_once(self, it):
        if not killed:
            killed.append(it)
            ray.kill(self.env_workers[0])
        return real(self, it)

    monkeypatch.setattr(RayTrainer, "collect", kill_once)
    train(cfg(tmp_path, "runner.max_epochs=2"))
    rows = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert killed == [0] and [r["cluster/actor_restarts"] for r in rows] == [1.0, 1.0]
