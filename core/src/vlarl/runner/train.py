"""``vlarl train``: rollout -> advantages -> update, repeated; logs, videos, checkpoints, exact resume."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from vlarl.contracts.buffer import RolloutBuffer
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
from vlarl.runner.interrupt import pause_point
from vlarl.runner.logger import MetricLogger
from vlarl.runner.loop import TrainLoop, TrainSummary, iteration_metrics, resume_report, warn
from vlarl.runner.rollout import collect_rollout
from vlarl.runner.setup import RunSpec, validate


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
        for note in ckpt.clean_incomplete(self.ckpt_root):
            print(f"checkpoints: {note}", flush=True)
        self.start = 0
        self.env_steps = 0
        config = OmegaConf.to_container(spec.raw, resolve=True)
        loaded, warnings = ckpt.read_for_resume(r.resume, self.ckpt_root)
        for w in warnings:
            warn(w)
        if loaded is not None:
            ckpt.restore(loaded, self.policy)
            self.algo.load_state_dict(loaded.trainer_state["algorithm"])
            self.start, self.env_steps = int(loaded.meta["iteration"]), int(loaded.meta.get("env_steps", 0))
            self.last_checkpoint = loaded.path
            print("\n".join(resume_report(loaded, config, list(getattr(self.algo, "resume_notes", [])))), flush=True)
        self.logger = MetricLogger(
            self.dir, r.logger.logger_backends, r.logger.project_name, r.logger.experiment_name, config,
            resume_step=self.start if loaded is not None else None,
        )  # fmt: skip
        self.obs: Any = None

    def save(self, iteration: int, metrics: dict[str, float] | None = None) -> Path:
        self.last_checkpoint = ckpt.save_checkpoint(
            self.ckpt_root, iteration, self.policy, {"algorithm": self.algo.state_dict()},
            {"env_steps": self.env_steps, "metrics": metrics or {},
             "config": OmegaConf.to_container(self.spec.raw, resolve=True)},
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
        pause_point("after_update", it)
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
