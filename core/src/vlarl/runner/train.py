"""``vlarl train``: rollout -> advantages -> update, repeated; logs, videos, checkpoints, exact resume."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from vlarl.contracts.buffer import RolloutBuffer
from vlarl.errors import ConfigError
from vlarl.runner import checkpoint as ckpt
from vlarl.runner.context import (
    build_algorithm,
    build_env,
    build_policy,
    pick_device,
    run_dir,
    save_resolved_config,
    seed_everything,
)
from vlarl.runner.logger import MetricLogger
from vlarl.runner.loop import TrainLoop, TrainSummary, iteration_metrics
from vlarl.runner.rollout import collect_rollout
from vlarl.runner.setup import RunSpec, validate


def _resume_path(spec: RunSpec, ckpt_root: Path) -> Path | None:
    resume = spec.runner.resume
    if resume in (None, "", "none"):
        return None
    if resume == "auto":
        return ckpt.latest_checkpoint(ckpt_root)
    path = Path(resume)
    if not (path / "meta.json").is_file():
        raise ConfigError(
            f"runner.resume={resume} is not a checkpoint directory.",
            "Pass a checkpoints/step_XXXXXX directory, or 'auto'.",
        )
    return path


class LocalTrainer(TrainLoop):
    """One process: the env (with its own worker processes), the policy and the algorithm."""

    def __init__(self, spec: RunSpec) -> None:
        super().__init__()
        self.spec = spec
        r = spec.runner
        if r.torch_threads > 0:
            torch.set_num_threads(r.torch_threads)
        seed_everything(r.seed)
        self.dir = run_dir(spec)
        save_resolved_config(spec, self.dir)
        self.device = pick_device(r.device)
        self.env = build_env(spec)
        self.policy = build_policy(spec, self.env, self.device)
        self.algo = build_algorithm(spec, self.policy)
        self.ckpt_root = self.dir / "checkpoints"
        self.start = 0
        self.env_steps = 0
        resume = _resume_path(spec, self.ckpt_root)
        if resume is not None:
            trainer_state, meta = ckpt.load_checkpoint(resume, self.policy)
            self.algo.load_state_dict(trainer_state["algorithm"])
            self.start, self.env_steps = int(meta["iteration"]), int(meta["env_steps"])
        self.logger = MetricLogger(
            self.dir, r.logger.logger_backends, r.logger.project_name, r.logger.experiment_name,
            OmegaConf.to_container(spec.raw, resolve=True),
        )  # fmt: skip
        self.obs: Any = None

    def save(self, iteration: int) -> Path:
        self.last_checkpoint = ckpt.save_checkpoint(
            self.ckpt_root, iteration, self.policy, {"algorithm": self.algo.state_dict()},
            {"env_steps": self.env_steps, "config": OmegaConf.to_container(self.spec.raw, resolve=True)},
        )  # fmt: skip
        return self.last_checkpoint

    def iteration(self, it: int) -> dict[str, float]:
        t0 = time.perf_counter()
        obs = self.obs
        if self.needs_reset(it, self.algo.reset_options() is not None):
            obs, _ = self.env.reset(seed=self.spec.runner.seed + it, options=self.algo.reset_options())
        recorder = self.video_recorder(it)
        self.policy.eval()
        buffer = RolloutBuffer(self.spec.rollout.buffer_device)
        buffer, self.obs, episodes = collect_rollout(
            self.env, self.policy, obs, self.spec.rollout.n_chunks, buffer,
            on_chunk=None if recorder is None else recorder.add_chunk,
        )  # fmt: skip
        t1 = time.perf_counter()
        steps = int(buffer.valid.sum())
        self.env_steps += steps
        metrics = dict(self.algo.compute_advantages(buffer))
        self.policy.train()
        metrics.update(self.algo.update(self.policy, buffer))
        t2 = time.perf_counter()
        metrics.update(iteration_metrics(episodes, steps, self.env_steps, t0, t1, t2))
        self.write_video(recorder, it)
        return metrics

    def close(self) -> None:
        self.env.close()


def train(cfg: DictConfig) -> TrainSummary:
    spec = validate(cfg)
    if spec.plugins["algorithm"][0].spec.extra.get("external_trainer"):
        from vlarl.runner.external import train_external

        summary = train_external(spec)
    elif spec.cluster.backend == "ray":
        from vlarl.runner.ray_backend import RayTrainer

        summary = RayTrainer(spec).run()
    else:
        summary = LocalTrainer(spec).run()
    print(summary.text())
    return summary
