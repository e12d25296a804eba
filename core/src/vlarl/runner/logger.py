"""Metric logging: TensorBoard by default, Weights & Biases optional, plus metrics.jsonl always."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from vlarl.errors import ConfigError


def unwritable(path: Path, exc: OSError) -> ConfigError:
    """The error for a run directory that cannot be written (read-only, a file in the way, no permission)."""
    return ConfigError(
        f"Cannot write the run directory {path}: {exc.strerror or exc}.",
        "Set runner.logger.log_path to a writable directory (or fix the permissions of this one).",
    )


def drop_logged_from(path: Path, step: int) -> int:
    """Remove the rows of ``metrics.jsonl`` logged at ``step`` or later (a resumed run logs them again).

    Returns how many rows went. The file is rewritten atomically; an unreadable row is kept.
    """
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    for line in path.read_text().splitlines():
        try:
            row_step = json.loads(line).get("step")
        except ValueError:
            row_step = None
        if isinstance(row_step, int) and row_step >= step:
            dropped += 1
        elif line.strip():
            kept.append(line)
    if dropped:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(f"{line}\n" for line in kept))
        os.replace(tmp, path)
    return dropped


class MetricLogger:
    def __init__(
        self,
        run_dir: Path,
        backends: list[str],
        project: str,
        experiment: str,
        config: dict[str, Any],
        resume_step: int | None = None,
    ) -> None:
        """``resume_step``: a resumed run logs again from this step, so rows at or after it are dropped first
        (metrics.jsonl, and TensorBoard through ``purge_step``)."""
        self.run_dir = run_dir
        try:
            if resume_step is not None:
                drop_logged_from(run_dir / "metrics.jsonl", resume_step)
            self._jsonl = open(run_dir / "metrics.jsonl", "a")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise unwritable(run_dir, exc) from exc
        self._tb = None
        self._wandb = None
        if "tensorboard" in backends:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"), purge_step=resume_step or None)
        if "wandb" in backends:
            try:
                import wandb
            except ImportError as exc:
                raise ConfigError(
                    "runner.logger.logger_backends lists wandb, which is not installed.",
                    "pip install 'vlarl[wandb]' (set WANDB_MODE=offline without network).",
                ) from exc
            self._wandb = wandb.init(project=project, name=experiment, config=config, dir=str(run_dir), resume="allow")

    def log(self, metrics: dict[str, float], step: int) -> None:
        clean = {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}
        self._jsonl.write(json.dumps({"step": step, **clean}) + "\n")
        self._jsonl.flush()
        if self._tb is not None:
            for key, value in clean.items():
                self._tb.add_scalar(key, value, step)
        if self._wandb is not None:
            self._wandb.log(clean, step=step)

    def close(self) -> None:
        self._jsonl.close()
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            import wandb

            self._wandb.finish()
            # finish() returns before W&B's service process has written out and closed the run file (it does
            # that asynchronously); teardown waits for it, so the run's records are all on disk when close()
            # returns. Skipped while another W&B run of this process is active (teardown would end it too).
            if wandb.run is None:
                wandb.teardown()
