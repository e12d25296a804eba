"""The training loop both backends share: logging, progress, checkpoints, Ctrl-C, non-finite stop."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vlarl.errors import VlarlError
from vlarl.runner.logger import MetricLogger
from vlarl.runner.progress import TrainingProgress
from vlarl.runner.rollout import EpisodeLog
from vlarl.runner.setup import RunSpec
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


class Rewind(Exception):
    """An iteration restored the last checkpoint in-process (e.g. a restarted training actor).

    The loop goes on from ``iteration``, the checkpoint's, exactly as a resumed run would.
    """

    def __init__(self, iteration: int, reason: str) -> None:
        super().__init__(reason)
        self.iteration = iteration


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

    def needs_reset(self, it: int, algorithm_resets: bool) -> bool:
        """Whether iteration ``it`` starts from freshly reset envs.

        At the run's first iteration, whenever the algorithm asks (GRPO groups), and at every
        checkpoint boundary, so that a resumed run is identical to an unbroken one.
        """
        return it == self.start or algorithm_resets or it % self.spec.runner.save_interval == 0

    def video_recorder(self, it: int) -> VideoRecorder | None:
        """A recorder for iteration ``it`` when ``video_cfg`` asks for one."""
        v = self.spec.video
        if not v.save_video or it % v.interval:
            return None
        out = Path(v.video_base_dir) if v.video_base_dir else self.dir / "video" / "train"
        return VideoRecorder(out, v.fps, v.info_on_video, v.max_frames)

    def write_video(self, recorder: VideoRecorder | None, it: int) -> None:
        if recorder is not None:
            path = recorder.write(f"iter_{it:06d}")
            if path is not None:
                self.videos.append(path)

    def run(self) -> TrainSummary:
        r = self.spec.runner
        progress = TrainingProgress(r.max_epochs, self.start)
        it = self.start
        metrics: dict[str, float] = {}
        deadline = None if r.max_minutes is None else time.monotonic() + 60.0 * r.max_minutes
        try:
            while it < r.max_epochs:
                try:
                    metrics = self.iteration(it)
                except Rewind as rewind:
                    print(f"{rewind}; going on from iteration {rewind.iteration}.", flush=True)
                    it = rewind.iteration
                    continue
                _check_finite(metrics, it)
                self.logger.log(metrics, step=it)
                progress.update(it, metrics, print_line=(it + 1) % r.log_interval == 0)
                out_of_time = deadline is not None and time.monotonic() >= deadline
                if (it + 1) % r.save_interval == 0 or it + 1 == r.max_epochs or out_of_time:
                    self.save(it + 1)
                it += 1
                if out_of_time:
                    print(f"runner.max_minutes={r.max_minutes:g} reached after {it} iterations.", flush=True)
                    break
        except KeyboardInterrupt:
            # Iteration `it` did not finish: checkpoint what did.
            self.save(it)
            raise
        finally:
            progress.close()
            self.logger.close()
            self.close()
        return TrainSummary(self.dir, it, self.env_steps, metrics, self.last_checkpoint, self.videos)
