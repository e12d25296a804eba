"""Progress display: a rich bar on a terminal, one line per log interval elsewhere (CI, files)."""

from __future__ import annotations

import sys
import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class TrainingProgress:
    def __init__(self, total: int, start: int, label: str = "train") -> None:
        self.total = total
        self.start_time = time.monotonic()
        self.interactive = sys.stderr.isatty()
        self._bar = None
        if self.interactive:
            self._bar = Progress(
                TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), transient=False,
            )  # fmt: skip
            self._task = self._bar.add_task(label, total=total, completed=start, info="")
            self._bar.start()

    def update(self, iteration: int, metrics: dict[str, float], print_line: bool) -> None:
        sps = metrics.get("env/steps_per_sec")
        success = metrics.get("env/success_once")
        ret = metrics.get("env/return")
        loss = metrics.get("sft/loss")
        info = f"env steps/s {sps:.0f}" if sps is not None else ""
        if loss is not None:
            info += f"loss {loss:.4f}"
        if ret is not None:
            info += f"  return {ret:.2f}"
        if success is not None:
            info += f"  success {success:.1%}"
        if self._bar is not None:
            self._bar.update(self._task, completed=iteration + 1, info=info)
        elif print_line:
            done = iteration + 1
            elapsed = time.monotonic() - self.start_time
            print(f"[{done}/{self.total}] {info}  elapsed {elapsed:.0f}s", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
