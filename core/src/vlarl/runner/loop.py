"""The training loop both backends share: logging, progress, checkpoints, retention, Ctrl-C, non-finite stop."""

from __future__ import annotations

import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vlarl.errors import VlarlError
from vlarl.runner import checkpoint as ckpt
from vlarl.runner.interrupt import Interrupted, StopRequest
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


def last_checkpoint_text(root: Path) -> str:
    """``the last checkpoint <path> is intact`` or ``no checkpoint was written yet``: what a stopped run left."""
    last = ckpt.latest_checkpoint(root)
    return f"the last checkpoint {last} is intact" if last is not None else "no checkpoint was written yet"


def _check_finite(metrics: dict[str, float], iteration: int, root: Path) -> None:
    bad = [k for k, v in metrics.items() if not np.isfinite(v)]
    if bad:
        has_checkpoint = ckpt.latest_checkpoint(root) is not None
        raise VlarlError(
            f"Iteration {iteration}: non-finite metrics {bad}; training stopped, {last_checkpoint_text(root)}.",
            "Lower the learning rate or check the env's rewards"
            + ("; resume with runner.resume=auto." if has_checkpoint else ", then start the run again."),
        )


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def resume_report(
    loaded: ckpt.LoadedCheckpoint, config: dict, notes: list[str], ignore: tuple[str, ...] = ("runner.resume",)
) -> list[str]:
    """What a resumed run prints: where it resumes from, and each setting that changed since that checkpoint."""
    lines = [f"Resuming from {loaded.path} (step {loaded.meta['iteration']})."]
    changes = ckpt.config_changes(loaded.meta.get("config"), config, ignore)
    if changes:
        lines.append("  Settings changed since that checkpoint; the current config applies from here on:")
        lines += [f"    {c}" for c in changes]
    lines += [f"  {n}" for n in notes]
    return lines


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
    def save(self, iteration: int, metrics: dict[str, float] | None = None) -> Path:
        """Checkpoint after ``iteration`` completed iterations (``metrics``: the last one's, kept in meta.json)."""

    ckpt_root: Path

    def checkpoint(self, iteration: int, metrics: dict[str, float]) -> Path:
        """Save, then apply the retention settings (never removing the checkpoint just written)."""
        path = self.save(iteration, metrics)
        r = self.spec.runner
        ckpt.prune_checkpoints(self.ckpt_root, r.keep_checkpoints, r.keep_best, r.keep_best_mode, protect=[path])
        return path

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
        phase = "iteration"
        stop = StopRequest("iteration")
        try:
            with stop:
                while it < r.max_epochs:
                    phase = "iteration"
                    try:
                        metrics = self.iteration(it)
                    except Rewind as rewind:
                        print(f"{rewind}; going on from iteration {rewind.iteration}.", flush=True)
                        it = rewind.iteration
                        continue
                    except Exception as exc:
                        if not stop.requested:
                            raise
                        # The terminal sends Ctrl-C to the env's worker processes too; they may have quit.
                        raise stop.failed(it + 1, r.max_epochs, exc, last_checkpoint_text(self.ckpt_root)) from exc
                    phase = "completed"
                    _check_finite(metrics, it, self.ckpt_root)
                    self.logger.log(metrics, step=it)
                    progress.update(it, metrics, print_line=(it + 1) % r.log_interval == 0)
                    it += 1
                    out_of_time = deadline is not None and time.monotonic() >= deadline
                    if it % r.save_interval == 0 or it == r.max_epochs or out_of_time or stop.requested:
                        phase = "save"
                        self.checkpoint(it, metrics)
                    phase = "between"
                    if stop.requested:
                        raise stop.stopped(f"{it} iterations", self.last_checkpoint, "runner.resume")
                    if out_of_time:
                        print(f"runner.max_minutes={r.max_minutes:g} reached after {it} iterations.", flush=True)
                        break
        except Interrupted:
            raise
        except KeyboardInterrupt:
            # A second signal (or one without the handler): never save a half-finished iteration.
            number = it + 1 if phase in ("iteration", "completed") else it
            target = self.ckpt_root / f"{ckpt.PREFIX}{it:06d}"
            last = last_checkpoint_text(self.ckpt_root)
            raise stop.hard_stop(phase, number, r.max_epochs, target, self.last_checkpoint, last) from None
        finally:
            progress.close()
            self.logger.close()
            self.close()
        return TrainSummary(self.dir, it, self.env_steps, metrics, self.last_checkpoint, self.videos)
