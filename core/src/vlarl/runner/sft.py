"""``vlarl sft``: supervised fine-tuning of a policy on demonstrations, with the same logging,
progress, atomic checkpoints and exact resume as ``vlarl train``.

The run lives in ``<log_path>/<experiment_name>/sft/``; ``policy.init_checkpoint`` pointing at
that directory starts ``vlarl train`` / ``vlarl eval`` from its latest checkpoint.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from vlarl.config import validate_section
from vlarl.contracts.dataset import DemoBatch, DemoDataset, compute_statistics
from vlarl.errors import ConfigError, VlarlError
from vlarl.plugins.build import call_factory
from vlarl.plugins.registry import Provided
from vlarl.rl.state import merge_optimizer_state
from vlarl.runner import checkpoint as ckpt
from vlarl.runner.context import make_run_dir, parse_device, pick_device, seed_everything, write_config
from vlarl.runner.interrupt import Interrupted, StopRequest, pause_point
from vlarl.runner.logger import MetricLogger
from vlarl.runner.loop import last_checkpoint_text, resume_report, warn
from vlarl.runner.progress import TrainingProgress
from vlarl.runner.schema import RunnerConfig
from vlarl.runner.setup import _check_top_level, _init_checkpoint, resolve_section


@dataclass
class SFTConfig:
    max_steps: int = 1000
    """Gradient steps."""
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0
    save_interval: int = 500
    """Checkpoint every this many steps (and at the end, and when Ctrl-C stops the run after a step)."""
    keep_checkpoints: int | None = 3
    """Retention: keep the newest this many checkpoints; null keeps every one."""
    log_interval: int = 50
    resume: str | None = None
    """``auto`` (latest checkpoint of this SFT run), a checkpoint path, or null."""
    subdir: str = "sft"
    """The run directory is ``<log_path>/<experiment_name>/<subdir>``."""


@dataclass
class SFTSpec:
    raw: DictConfig
    runner: RunnerConfig
    sft: SFTConfig
    dataset: tuple[Provided, Any, dict[str, Any]]
    policy: tuple[Provided, Any, dict[str, Any]]
    init_checkpoint: str | None


@dataclass
class SFTSummary:
    run_dir: Path
    steps: int
    last_metrics: dict[str, float]
    checkpoint: Path | None

    def text(self) -> str:
        loss = self.last_metrics.get("sft/loss")
        lines = [f"Supervised fine-tuning: {self.steps} steps. Run directory: {self.run_dir}"]
        if loss is not None:
            lines.append(f"  last loss {loss:.4f}")
        lines.append(f"  TensorBoard: tensorboard --logdir {self.run_dir / 'tensorboard'}")
        if self.checkpoint is not None:
            lines.append(f"  checkpoint: {self.checkpoint}  (start RL from it: policy.init_checkpoint={self.run_dir})")
        return "\n".join(lines)


def validate_sft(cfg: DictConfig) -> SFTSpec:
    """Check the sections ``vlarl sft`` reads (dataset, policy, sft, runner); env and algorithm are ignored."""
    _check_top_level(cfg)
    runner = validate_section(RunnerConfig, cfg.get("runner"), "runner")
    sft = validate_section(SFTConfig, cfg.get("sft"), "sft")
    checks = [
        (sft.max_steps >= 1, "sft.max_steps must be >= 1", "Set sft.max_steps to the number of gradient steps."),
        (sft.batch_size >= 1, "sft.batch_size must be >= 1", "Set sft.batch_size=256 (or what fits)."),
        (sft.lr > 0, "sft.lr must be positive", "Set sft.lr, e.g. 1e-3."),
        (sft.save_interval >= 1, "sft.save_interval must be >= 1", "Set sft.save_interval, e.g. 500."),
        (sft.log_interval >= 1, "sft.log_interval must be >= 1", "Set sft.log_interval, e.g. 50."),
        (sft.keep_checkpoints is None or sft.keep_checkpoints >= 1, "sft.keep_checkpoints must be >= 1 (or null)",
         "Set sft.keep_checkpoints=3, or null to keep every checkpoint."),
    ]
    for ok, problem, fix in checks:
        if not ok:
            raise ConfigError(problem + ".", fix)
    parse_device(runner.device)
    return SFTSpec(
        cfg, runner, sft, resolve_section(cfg, "dataset", "dataset"), resolve_section(cfg, "policy", "policy"),
        _init_checkpoint(cfg),
    )  # fmt: skip


def to_policy_convention(batch: DemoBatch, dataset: DemoDataset, policy: Any) -> DemoBatch:
    """Demonstrated actions in the policy's gripper sign (the inverse of what rollouts do)."""
    spec = dataset.action_spec
    if policy.gripper_convention in ("none", spec.gripper) or spec.gripper == "none":
        return batch
    actions = batch.actions.copy()
    actions[..., spec.gripper_indices] *= -1.0
    return dataclasses.replace(batch, actions=actions)


def sample_indices(step: int, batch_size: int, num_samples: int, seed: int) -> np.ndarray:
    """The samples of gradient step ``step``: epochs are seeded permutations, so a resumed run draws
    exactly what an unbroken one would, without carrying sampler state."""
    start = step * batch_size
    out = []
    while len(out) < batch_size:
        epoch, offset = divmod(start + len(out), num_samples)
        perm = np.random.default_rng([seed, epoch]).permutation(num_samples)
        out.extend(perm[offset : offset + batch_size - len(out)].tolist())
    return np.asarray(out, dtype=np.int64)


def _check_fit(dataset: DemoDataset, policy: Any) -> None:
    if not policy.supports_supervised:
        raise ConfigError(
            f"The policy {type(policy).__name__} defines no supervised loss.",
            "Use a policy whose plugin implements ChunkedPolicy.supervised_loss (e.g. mlp).",
        )
    if dataset.action_spec.dim != policy.action_dim:
        raise ConfigError(
            f"{dataset.source}: key 'actions' has {dataset.action_spec.dim} dims per step; the policy acts in "
            f"{policy.action_dim} (expected actions of shape [T, {policy.action_dim}]).",
            "Use a dataset recorded in the env this policy is built for.",
        )


class SFTTrainer:
    def __init__(self, spec: SFTSpec) -> None:
        self.spec = spec
        r, s = spec.runner, spec.sft
        if r.torch_threads > 0:
            torch.set_num_threads(r.torch_threads)
        seed_everything(r.seed)
        self.dir = make_run_dir(Path(r.logger.log_path) / r.logger.experiment_name / s.subdir)
        write_config(spec.raw, self.dir)
        provided, config, _ = spec.dataset
        self.dataset: DemoDataset = call_factory(provided, config)
        provided, config, _ = spec.policy
        self.policy = call_factory(
            provided, config, observation_spec=self.dataset.observation_spec, action_spec=self.dataset.action_spec
        )
        _check_fit(self.dataset, self.policy)
        if spec.init_checkpoint:
            ckpt.load_init_weights(ckpt.resolve_init_checkpoint(spec.init_checkpoint), self.policy)
        else:  # from scratch: input statistics from the demonstrations (kept in the checkpoint)
            self.policy.fit_normalization(compute_statistics(self.dataset))
        self.device = pick_device(r.device)
        self.policy.to(self.device)
        params = [p for p in self.policy.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=s.lr, weight_decay=s.weight_decay)
        self.ckpt_root = self.dir / "checkpoints"
        for note in ckpt.clean_incomplete(self.ckpt_root):
            print(f"checkpoints: {note}", flush=True)
        self.start = 0
        self.last_checkpoint: Path | None = None
        config = OmegaConf.to_container(spec.raw, resolve=True)
        loaded, warnings = ckpt.read_for_resume(s.resume, self.ckpt_root, key="sft.resume")
        for w in warnings:
            warn(w)
        if loaded is not None:
            ckpt.restore(loaded, self.policy)
            # The config's hyperparameters (lr, weight decay) win over the stored ones; the moments carry over.
            merged, notes = merge_optimizer_state(self.optimizer, loaded.trainer_state["optimizer"])
            self.optimizer.load_state_dict(merged)
            self.start = int(loaded.meta["iteration"])
            self.last_checkpoint = loaded.path
            print("\n".join(resume_report(loaded, config, notes, ignore=("sft.resume",))), flush=True)
        self.logger = MetricLogger(
            self.dir, r.logger.logger_backends, r.logger.project_name, f"{r.logger.experiment_name}/{s.subdir}",
            config, resume_step=self.start + 1 if loaded is not None else None,
        )  # fmt: skip

    def save(self, step: int) -> Path:
        self.last_checkpoint = ckpt.save_checkpoint(
            self.ckpt_root, step, self.policy, {"optimizer": self.optimizer.state_dict()},
            {"kind": "sft", "samples": len(self.dataset), "episodes": self.dataset.num_episodes,
             "config": OmegaConf.to_container(self.spec.raw, resolve=True)},
        )  # fmt: skip
        ckpt.prune_checkpoints(self.ckpt_root, self.spec.sft.keep_checkpoints, protect=[self.last_checkpoint])
        return self.last_checkpoint

    def step(self, step: int) -> dict[str, float]:
        s = self.spec.sft
        idx = sample_indices(step, s.batch_size, len(self.dataset), self.spec.runner.seed)
        batch = to_policy_convention(self.dataset.get_batch(idx, self.policy.action_chunk), self.dataset, self.policy)
        out = self.policy.supervised_loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        params = [p for p in self.policy.parameters() if p.grad is not None]
        norm = torch.nn.utils.clip_grad_norm_(params, s.max_grad_norm if s.max_grad_norm else float("inf"))
        self.optimizer.step()
        pause_point("after_update", step)
        loss = float(out.loss.detach())
        if not np.isfinite(loss):
            raise VlarlError(
                f"SFT step {step}: the loss is {loss}; training stopped, {last_checkpoint_text(self.ckpt_root)}.",
                "Lower sft.lr or check the dataset's actions for NaN/inf.",
            )
        return {**out.metrics, "sft/loss": loss, "sft/grad_norm": float(norm), "sft/lr": s.lr,
                "sft/epoch": (step + 1) * s.batch_size / len(self.dataset)}  # fmt: skip

    def run(self) -> SFTSummary:
        s = self.spec.sft
        print(
            f"SFT on {self.dataset.num_episodes} demonstrations ({len(self.dataset)} samples, "
            f"{len(self.dataset.task_descriptions)} tasks) from {self.dataset.source}",
            flush=True,
        )
        progress = TrainingProgress(s.max_steps, self.start, label="sft")
        metrics: dict[str, float] = {}
        step = self.start
        self.policy.train()
        t0 = time.perf_counter()
        phase = "step"
        stop = StopRequest("step", "SFT step")
        try:
            with stop:
                while step < s.max_steps:
                    phase = "step"
                    metrics = self.step(step)
                    step += 1
                    phase = "completed"
                    if step % s.log_interval == 0 or step == s.max_steps or stop.requested:
                        metrics["time/sft_elapsed"] = time.perf_counter() - t0
                        self.logger.log(metrics, step=step)
                        progress.update(step - 1, metrics, print_line=True)
                    if step % s.save_interval == 0 or step == s.max_steps or stop.requested:
                        phase = "save"
                        self.save(step)
                    phase = "between"
                    if stop.requested:
                        raise stop.stopped(f"{step} SFT steps", self.last_checkpoint, "sft.resume")
        except Interrupted:
            raise
        except KeyboardInterrupt:
            # A second signal: an optimizer step may be half done, so nothing is saved.
            number = step + 1 if phase == "step" else step
            target = self.ckpt_root / f"{ckpt.PREFIX}{step:06d}"
            last = last_checkpoint_text(self.ckpt_root)
            raise stop.hard_stop(phase, number, s.max_steps, target, self.last_checkpoint, last) from None
        finally:
            progress.close()
            self.logger.close()
        return SFTSummary(self.dir, step, metrics, self.last_checkpoint)


def sft(cfg: DictConfig) -> SFTSummary:
    summary = SFTTrainer(validate_sft(cfg)).run()
    print(summary.text())
    return summary
