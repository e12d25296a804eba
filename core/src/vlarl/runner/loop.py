"""The training loop both backends share: logging, progress, checkpoints, Ctrl-C, non-finite stop."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vlarl.errors import VlarlError
from vlarl.runner.logger import MetricLogger
from vlarl.runner.progress import TrainingProgress
from vlarl.runner.rollout import EpisodeLog
from vlarl.runner.setup import RunSpec


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


def _check_finite(metrics: dict[str, float], iteration: int) -> None:
    bad = [k for k, v in metrics.items() if not np.isfinite(v)]
    if bad:
        raise VlarlError(
            f"Iteration {iteration}: non-finite metrics {bad}; training stopped, the last checkpoint is intact.",
            "Lower the learning rate or check the env's rewards; resume with runner.resume=auto.",
        )


def iteration_metrics(
    episodes: EpisodeLog, steps: int, env_steps: int, t0: float, t1: float, t2: float
) -> dict[str, float]:
    """Env and timing metrics of one iteration (rollout from t0 to t1, update to t2)."""
    return {
        **episodes.means(),
        "env/num_episodes": float(episodes.count),
        "env/steps_per_sec": steps / max(t1 - t0, 1e-9),
        "time/rollout": t1 - t0, "time/update": t2 - t1, "time/iteration": t2 - t0,
        "train/env_steps": float(env_steps),
    }  # fmt: skip


class TrainLoop(ABC):
    """Subclasses set these in __init__ and implement one iteration and checkpointing."""

    spec: RunSpec
    dir: Path
    logger: MetricLogger
    start: int = 0
    env_steps: int = 0
    last_checkpoint: Path | None = None

    def __init__(self) -> None:
        self.videos: list[Path] = []

    @abstractmethod
    def iteration(self, it: int) -> dict[str, float]:
        """Rollout + update; returns the iteration's metrics."""

    @abstractmethod
    def save(self, iteration: int) -> Path:
        """Checkpoint after ``iteration`` completed iterations."""

    def close(self) -> None:
        """Release envs and workers."""

    def run(self) -> TrainSummary:
        r = self.spec.runner
        progress = TrainingProgress(r.max_epochs, self.start)
        it = self.start
        metrics: dict[str, float] = {}
        try:
            for it in range(self.start, r.max_epochs):
                metrics = self.iteration(it)
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
            self.close()
        return TrainSummary(self.dir, it, self.env_steps, metrics, self.last_checkpoint, self.videos)
