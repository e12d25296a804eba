"""Collect scripted-expert demonstrations of LIBERO tasks into LIBERO-format HDF5 files.

    python -m vlarl_libero.collect --suite libero_spatial --task-ids 0 --demos-per-task 5 --out demos/ \\
        [--cameras agentview robot0_eye_in_hand | --cameras none] [--image-size 128] [--num-envs 2] [--seed 0]

One file per task, ``<out>/<task name>_demo.hdf5`` (see vlarl_libero.demos for the layout). Only successful
episodes are kept; each init state of a task is tried at most once.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from vlarl.errors import VlarlError
from vlarl_libero.collector import TaskDemos, collect_demos
from vlarl_libero.register import CAMERA_KEYS, SUITES

__all__ = ["collect_demos", "collection_progress", "main", "parse_args", "quiet_output"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m vlarl_libero.collect",
        description="Scripted-expert demonstrations of LIBERO tasks, written in LIBERO's HDF5 layout.",
    )
    parser.add_argument("--suite", default="libero_spatial", choices=list(SUITES))
    parser.add_argument("--task-ids", type=int, nargs="+", default=None, help="tasks of the suite (default: all)")
    parser.add_argument("--demos-per-task", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="directory for the <task name>_demo.hdf5 files")
    parser.add_argument(
        "--cameras",
        nargs="*",
        default=list(CAMERA_KEYS),
        help=f"cameras to record among {list(CAMERA_KEYS)}; 'none' or nothing = states only (default: both)",
    )
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--num-envs", type=int, default=2, help="sub-envs, one worker process each")
    parser.add_argument("--seed", type=int, default=0, help="order in which init states are tried")
    parser.add_argument("--max-episode-steps", type=int, default=None, help="default: the suite's limit")
    parser.add_argument(
        "--action-noise",
        type=float,
        nargs="+",
        default=[0.0],
        help="std of noise added to the executed actions, the expert's own action being recorded (DART): "
        "one value, or 7 (x y z rx ry rz gripper), e.g. 0.2 0.2 0.2 0.1 0.1 0.1 0",
    )
    parser.add_argument("--verbose", action="store_true", help="show the simulator workers' own output")
    args = parser.parse_args(argv)
    args.cameras = [c for c in args.cameras if c != "none"]
    n_tasks = SUITES[args.suite][0]
    args.task_ids = list(range(n_tasks)) if args.task_ids is None else args.task_ids
    bad = [t for t in args.task_ids if not 0 <= t < n_tasks]
    if bad:
        parser.error(f"--task-ids {bad} do not exist in {args.suite} (task ids 0..{n_tasks - 1})")
    unknown = [c for c in args.cameras if c not in CAMERA_KEYS]
    if unknown:
        parser.error(f"--cameras: unknown camera(s) {unknown}; choose among {list(CAMERA_KEYS)} or 'none'")
    for flag, value, low in (("--demos-per-task", args.demos_per_task, 1), ("--num-envs", args.num_envs, 1)):
        if value < low:
            parser.error(f"{flag} must be at least {low}, got {value}")
    if len(args.action_noise) not in (1, 7) or min(args.action_noise) < 0:
        parser.error(f"--action-noise takes 1 or 7 non-negative numbers, got {args.action_noise}")
    if args.image_size < 16:
        parser.error(f"--image-size must be at least 16, got {args.image_size}")
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} exists and is not a directory")
    return args


@contextlib.contextmanager
def quiet_output(enabled: bool) -> Iterator[IO[str]]:
    """Send this process's and the spawned workers' stdout/stderr to /dev/null; yields the real stderr.

    The workers inherit the file descriptors, so robosuite's and LIBERO's import-time chatter disappears.
    """
    if not enabled:
        yield sys.stderr
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    real = os.fdopen(os.dup(2), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        yield real
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)
        real.close()


@contextlib.contextmanager
def collection_progress(total: int, stream: IO[str] | None = None) -> Iterator[dict[str, Callable[..., None]]]:
    """A progress bar over ``total`` demos; yields the ``on_task_start`` / ``on_episode`` callbacks of
    :func:`collect_demos`."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    console = Console(file=stream) if stream is not None else None
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task("starting", total=total)
        done: dict[int, int] = {}  # task id -> demos so far

        def on_task_start(task_id: int) -> None:
            progress.update(bar, description=f"task {task_id}: starting the simulator")

        def on_episode(r: TaskDemos) -> None:
            done[r.task_id] = r.demos
            text = f"task {r.task_id}: {r.demos} demos / {r.episodes} episodes"
            progress.update(bar, completed=sum(done.values()), description=text)

        yield {"on_task_start": on_task_start, "on_episode": on_episode}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.monotonic()
    try:
        total = args.demos_per_task * len(args.task_ids)
        with quiet_output(not args.verbose) as real_stderr, collection_progress(total, real_stderr) as callbacks:
            report = collect_demos(
                suite=args.suite,
                task_ids=args.task_ids,
                demos_per_task=args.demos_per_task,
                out=args.out,
                cameras=args.cameras,
                image_size=args.image_size,
                num_envs=args.num_envs,
                seed=args.seed,
                max_episode_steps=args.max_episode_steps,
                action_noise=args.action_noise,
                **callbacks,
            )
    except VlarlError as exc:
        print(f"error: {exc.problem}", file=sys.stderr)
        if exc.fix:
            print(f"fix: {exc.fix}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    short = False
    for r in report["tasks"]:
        rate = f"{r['successes']}/{r['episodes']} episodes succeeded" if r["episodes"] else "no episode finished"
        mark = "" if r["demos"] >= args.demos_per_task else "  (fewer than asked: every init state was tried)"
        short |= bool(mark)
        print(f"task {r['task_id']}: {r['demos']} demos ({rate}) -> {r['path']}{mark}")
    print(f"{report['demos']} demos in {time.monotonic() - start:.0f} s")
    return 1 if short else 0


if __name__ == "__main__":
    sys.exit(main())
