"""A simulated two-node Ray cluster (ray.cluster_utils.Cluster, one CPU slot per node): worker groups placed on
both nodes, 2 actor ranks on Gloo, exact resume, and a killed rank rebuilt from the last checkpoint."""

import json
from pathlib import Path

import pytest
import ray

from vlarl.config import load_config
from vlarl.runner.train import train

pytestmark = pytest.mark.slow
SPREAD = "cluster.component_placement={env: 0-1, rollout: 0-1, actor: 0-1}"
COMMON = ("runner.max_epochs=4", "runner.save_interval=2", "policy.num_action_chunks=2", SPREAD)


@pytest.fixture(scope="module", autouse=True)
def two_nodes():
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, configure_logging=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def cfg(tmp_path, *extra):
    example = Path(__file__).parents[1] / "examples" / "gymnasium_cartpole_ppo_mlp.yaml"
    return load_config(example, [
        f"runner.logger.log_path={tmp_path}", "runner.logger.experiment_name=r", "cluster.backend=ray",
        "env.num_envs=4", "rollout.n_chunks=8", "runner.torch_threads=1", *extra,
    ])  # fmt: skip


def metrics_of(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def comparable(rows):
    drop = ("time/", "env/steps_per_sec", "cluster/")
    return [{k: v for k, v in r.items() if not k.startswith(drop)} for r in rows]


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory):
    root = tmp_path_factory.mktemp("unbroken")
    train(cfg(root, *COMMON))
    return root / "r"


def test_workers_are_placed_on_both_nodes_and_train(unbroken):
    placed = json.loads((unbroken / "placement.json").read_text())
    for group in ("env", "rollout", "actor"):
        assert len({w["node_id"] for w in placed[group]}) == 2, (group, placed[group])
    assert [w["rank"] for w in placed["actor"]] == [0, 1] and placed["actor"][0]["strategy"] == "fsdp"
    rows = metrics_of(unbroken)
    assert [r["step"] for r in rows] == [0, 1, 2, 3] and rows[-1]["cluster/weight_sync_bytes"] > 0
    assert (unbroken / "checkpoints" / "step_000004" / "model.safetensors").is_file()


def test_a_resumed_two_node_run_matches_the_unbroken_one(tmp_path, unbroken):
    train(cfg(tmp_path, *COMMON, "runner.max_epochs=2"))
    train(cfg(tmp_path, *COMMON, "runner.resume=auto"))
    assert comparable(metrics_of(tmp_path / "r")) == comparable(metrics_of(unbroken))


def test_a_killed_rank_rebuilds_the_group_from_the_last_checkpoint(tmp_path, monkeypatch, unbroken):
    from vlarl.runner.ray_backend import RayTrainer

    real = RayTrainer.collect
    killed = []

    def kill_rank_once(self, it):
        if it == 3 and not killed:
            killed.append(it)
            ray.kill(self.actors[1])
        return real(self, it)

    monkeypatch.setattr(RayTrainer, "collect", kill_rank_once)
    train(cfg(tmp_path, *COMMON))
    rows = metrics_of(tmp_path / "r")
    assert killed == [3] and [r["step"] for r in rows] == [0, 1, 2, 2, 3]
    assert [r["cluster/actor_restarts"] for r in rows] == [0, 0, 0, 1, 1]
    expected = comparable(metrics_of(unbroken))
    assert comparable(rows[:3]) + comparable(rows[4:]) == expected
