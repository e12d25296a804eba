"""``vlarl train``: rollout -> advantages -> update, repeated; logs, videos, checkpoints, exact resume."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from vlarl.contracts.buffer import RolloutBuffer
from vlarl.contracts.env import ChunkStep
from vlarl.errors import ConfigError, VlarlError
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
from vlarl.runner.progress import TrainingProgress
from vlarl.runner.rollout import collect_rollout
from vlarl.runner.setup import RunSpec, validate
from vlarl.runner.video import VideoRecorder


@dataclass
class TrainSummary:
    run_dir: Path
    iterations: int
    env_steps: int
    last_metrics: dict[str, float] = field(default_factory=dict)
    checkpoint: Path | None = None
    videos: list[Path] = field(default_factory=list)

    def text(self) -> str:
        m = self.last_metrics
        lines = [f"Trained {self.iterations} iterations, {self.env_steps} env steps. Run directory: {self.run_dir}"]
        if "env/return" in m:
            lines.append(
                f"  last rollout: return {m['env/return']:.2f}, success_once {m.get('env/success_once', 0):.1%}, episode_len {m.get('env/episode_len', 0):.1f}"
            )
        lines.append(f"  TensorBoard: tensorboard --logdir {self.run_dir / 'tensorboard'}")
        if self.checkpoint is not None:
            lines.append(f"  checkpoint: {self.checkpoint}")
        if self.videos:
            lines.append(f"  videos: {self.videos[-1].parent} ({len(self.videos)} files)")
        return "\n".join(lines)


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


def _check_finite(metrics: dict[str, float], iteration: int) -> None:
    bad = [k for k, v in metrics.items() if not np.isfinite(v)]
    if bad:
        raise VlarlError(
            f"Iteration {iteration}: non-finite metrics {bad}; training stopped, the last checkpoint is intact.",
            "Lower the learning rate or check the env's rewards; resume with runner.resume=auto.",
        )


class LocalTrainer:
    """One process: the env (with its own worker processes), the policy and the algorithm."""

    def __init__(self, spec: RunSpec) -> None:
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
        self.videos: list[Path] = []
        self.last_checkpoint: Path | None = None

    def save(self, iteration: int) -> Path:
        self.last_checkpoint = ckpt.save_checkpoint(
            self.ckpt_root, iteration, self.policy, {"algorithm": self.algo.state_dict()},
            {"env_steps": self.env_steps, "config": OmegaConf.to_container(self.spec.raw, resolve=True)},
        )  # fmt: skip
        return self.last_checkpoint

    def _needs_reset(self, it: int) -> bool:
        # Resets at checkpoint boundaries make a resumed run identical to an unbroken one.
        return it == self.start or self.algo.reset_options() is not None or it % self.spec.runner.save_interval == 0

    def _recorder(self, it: int) -> VideoRecorder | None:
        v = self.spec.video
        if not v.save_video or it % v.interval:
            return None
        out = Path(v.video_base_dir) if v.video_base_dir else self.dir / "video" / "train"
        return VideoRecorder(out, v.fps, v.info_on_video, v.max_frames)

    def iteration(self, it: int, obs: Any) -> tuple[Any, dict[str, float]]:
        t0 = time.perf_counter()
        if self._needs_reset(it):
            obs, _ = self.env.reset(seed=self.spec.runner.seed + it, options=self.algo.reset_options())
        recorder = self._recorder(it)
        steps_done = [0]

        def on_chunk(step: ChunkStep) -> None:
            c = np.asarray(step.valid).shape[1]
            steps_done[0] += c
            if recorder is not None:
                rewards = np.asarray(step.rewards)[0]
                success = bool(np.asarray(step.infos["episode"]["success_once"])[0])
                recorder.add(step.infos["final_observation"], steps_done[0], float(rewards.sum()), success)

        self.policy.eval()
        buffer = RolloutBuffer(self.spec.rollout.buffer_device)
        buffer, obs, episodes = collect_rollout(
            self.env, self.policy, obs, self.spec.rollout.n_chunks, buffer, on_chunk=on_chunk
        )
        t1 = time.perf_counter()
        steps = int(buffer.valid.sum())
        self.env_steps += steps
        metrics = dict(self.algo.compute_advantages(buffer))
        self.policy.train()
        metrics.update(self.algo.update(self.policy, buffer))
        t2 = time.perf_counter()
        metrics.update(episodes.means())
        metrics.update({
            "env/num_episodes": float(episodes.count),
            "env/steps_per_sec": steps / max(t1 - t0, 1e-9),
            "time/rollout": t1 - t0, "time/update": t2 - t1, "time/iteration": t2 - t0,
            "train/env_steps": float(self.env_steps),
        })  # fmt: skip
        if recorder is not None:
            path = recorder.write(f"iter_{it:06d}")
            if path is not None:
                self.videos.append(path)
        return obs, metrics

    def run(self) -> TrainSummary:
        r = self.spec.runner
        progress = TrainingProgress(r.max_epochs, self.start)
        it = self.start
        metrics: dict[str, float] = {}
        obs = None
        try:
            for it in range(self.start, r.max_epochs):
                obs, metrics = self.iteration(it, obs)
                _check_finite(metrics, it)
                self.logger.log(metrics, step=it)
                progress.update(it, metrics, print_line=(it + 1) % r.log_interval == 0)
                if (it + 1) % r.save_interval == 0 or it + 1 == r.max_epochs:
                    self.save(it + 1)
            it = r.max_epochs
        except KeyboardInterrupt:
            # Iteration `it` did not finish: checkpoint what did.
            self.save(it)
            raise
        finally:
            progress.close()
            self.logger.close()
            self.env.close()
        return TrainSummary(self.dir, it, self.env_steps, metrics, self.last_checkpoint, self.videos)


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
