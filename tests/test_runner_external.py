"""An algorithm with its own loop (the stable-baselines3 bridge) trains through `vlarl train`."""

import json
from pathlib import Path

import pytest

from vlarl.config import load_config
from vlarl.runner.train import train

pytest.importorskip("stable_baselines3")


@pytest.mark.slow
def test_sb3_ppo_trains_on_a_vlarl_env_and_logs_through_vlarl(tmp_path):
    example = Path(__file__).parents[1] / "examples" / "gymnasium_pendulum_sac_sb3.yaml"
    cfg = load_config(example, [
        "env.env_id=CartPole-v1", "env.num_envs=2", "algorithm.algo=PPO", "algorithm.kwargs={n_steps: 64, batch_size: 32}",
        "rollout.n_chunks=64", "runner.max_epochs=3", f"runner.logger.log_path={tmp_path}",
    ])  # fmt: skip
    summary = train(cfg)
    rows = [json.loads(line) for line in (summary.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert rows and any(k.startswith(("actor/", "rollout/", "env/")) for k in rows[-1])
    assert (summary.run_dir / "checkpoints" / "external_model.zip").is_file()
