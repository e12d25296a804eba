"""Metric logging: TensorBoard by default, Weights & Biases optional, plus metrics.jsonl always."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


class MetricLogger:
    def __init__(
        self, run_dir: Path, backends: list[str], project: str, experiment: str, config: dict[str, Any]
    ) -> None:
        self.run_dir = run_dir
        self._jsonl = open(run_dir / "metrics.jsonl", "a")  # noqa: SIM115 - closed in close()
        self._tb = None
        self._wandb = None
        if "tensorboard" in backends:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"))
        if "wandb" in backends:
            try:
                import wandb
            except ImportError as exc:
                from vlarl.errors import ConfigError

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
            self._wandb.finish()
