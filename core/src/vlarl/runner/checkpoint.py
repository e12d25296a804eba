"""Checkpoints: policy weights in safetensors, trainer state and RNG, written atomically.

Layout of ``<run>/checkpoints/step_000010/``::

    model.safetensors   policy state dict
    trainer.pt          algorithm state (optimizers, schedulers, counters), torch.save
    rng.pt              torch / numpy / python RNG states
    meta.json           iteration, env steps, the iteration's metrics, resolved config

A checkpoint is written to a temporary sibling directory (``.step_000010.tmp-*``) and renamed
into place, so a crash, a signal or a full disk never leaves a half-written checkpoint under the
final name; the previous checkpoints stay valid. Replacing a checkpoint of the same name (a run
resumed from an older one) moves the old one aside first (``.step_000010.old-*``) and removes it
only once the new one is in place; :func:`clean_incomplete` finishes or undoes what a killed
process left. Nothing is ever read with code execution: weights are safetensors and the
``.pt`` files load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pickle
import random
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from vlarl.errors import ConfigError, VlarlError
from vlarl.runner.interrupt import pause_point, signals_deferred

PREFIX = "step_"
TMP_MARK = ".tmp-"
"""``.step_000010.tmp-XXXX``: a checkpoint being written (removed at the next start if a process died)."""
OLD_MARK = ".old-"
"""``.step_000010.old-XXXX``: a complete checkpoint being replaced (restored if its replacement is absent)."""
DISK_FULL_BYTES = 16 << 20
"""A write that fails with less than this free on the disk counts as a full disk."""


class CheckpointError(VlarlError):
    """A checkpoint that cannot be written or read; the message names the file."""


def step_of(path: Path) -> int | None:
    """The step in a ``step_000010`` directory name, else None."""
    m = re.fullmatch(rf"{PREFIX}(\d+)", path.name)
    return int(m.group(1)) if m else None


def _rng_state() -> dict[str, Any]:
    # Plain tensors, ints and lists only, so it loads with torch.load(weights_only=True).
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_py = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)],
        "python": [version, list(internal), gauss_py],
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_py = state["python"]
    random.setstate((version, tuple(internal), gauss_py))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------- writing


def _write_failure(exc: Exception, root: Path, final: Path, tmp: Path | None) -> Exception:
    """The error a failed write raises: disk full / not writable, naming the checkpoint and the previous one."""
    full = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
    io_text = str(exc)
    io_error = isinstance(exc, OSError) or (
        isinstance(exc, RuntimeError) and any(s in io_text for s in ("inline_container", "PytorchStreamWriter", "write"))
    )
    if io_error and not full:
        with contextlib.suppress(OSError):  # probed before the temporary files go: they are what filled the disk
            full = shutil.disk_usage(tmp if tmp is not None and tmp.exists() else root).free < DISK_FULL_BYTES
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
    if not io_error:
        return exc
    prev = latest_checkpoint(root) if root.is_dir() else None
    intact = f"previous checkpoint {prev} intact" if prev is not None else "no earlier checkpoint exists"
    if full:
        return CheckpointError(
            f"Disk full while saving {final}; {intact}.",
            f"Free space on the disk of {root} (df -h {root}), or keep fewer checkpoints (keep_checkpoints), "
            "then continue with resume=auto.",
        )
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else io_text.splitlines()[0]
    return CheckpointError(
        f"Could not write checkpoint {final}: {reason}; {intact}.",
        f"Make {root} writable (or set runner.logger.log_path to a writable directory), then continue with resume=auto.",
    )


def save_checkpoint(
    root: Path,
    iteration: int,
    policy: torch.nn.Module,
    trainer_state: dict[str, Any],
    meta: dict[str, Any],
    weights: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write a checkpoint; ``weights``: the policy's whole state dict when the caller gathered it already
    (the actor ranks of an FSDP2 group: consolidated tensors, so one process loads it as any other)."""
    final = root / f"{PREFIX}{iteration:06d}"
    tmp: Path | None = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}{TMP_MARK}", dir=root))
        weights = {k: v.detach().contiguous().cpu() for k, v in (weights or policy.state_dict()).items()}
        save_file(weights, str(tmp / "model.safetensors"))
        pause_point("save", iteration)
        torch.save(trainer_state, tmp / "trainer.pt")
        torch.save(_rng_state(), tmp / "rng.pt")
        (tmp / "meta.json").write_text(json.dumps({**meta, "iteration": iteration}, indent=2, default=str))
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        with signals_deferred():  # the renames run to the end: a checkpoint is always under its name
            if final.exists():
                old = root / f".{final.name}{OLD_MARK}{tmp.name.rsplit('-', 1)[-1]}"
                os.replace(final, old)
                os.replace(tmp, final)
                tmp = None
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, final)
                tmp = None
        _fsync_dir(root)
    except Exception as exc:
        error = _write_failure(exc, root, final, tmp)
        if error is exc:
            raise
        raise error from exc
    except BaseException:  # KeyboardInterrupt: the half-written copy goes, the previous checkpoints stay
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def clean_incomplete(root: Path) -> list[str]:
    """Finish or undo what a killed save left under ``root``; returns one line per thing done."""
    notes: list[str] = []
    if not root.is_dir():
        return notes
    for path in sorted(root.iterdir()):
        if not (path.is_dir() and path.name.startswith(f".{PREFIX}")):
            continue
        name = path.name[1:]
        if OLD_MARK in name:
            target = root / name.split(OLD_MARK)[0]
            if not target.exists() and (path / "meta.json").is_file():
                os.replace(path, target)
                notes.append(f"restored {target.name}, which an interrupted save was replacing")
                continue
        shutil.rmtree(path, ignore_errors=True)
        notes.append(f"removed {path.name}, an incomplete checkpoint left by an interrupted save")
    return notes


def complete_checkpoints(root: Path) -> list[Path]:
    """``step_*`` directories with a meta.json (written last), oldest first."""
    if not root.is_dir():
        return []
    done = [p for p in root.iterdir() if p.is_dir() and step_of(p) is not None and (p / "meta.json").is_file()]
    return sorted(done, key=lambda p: step_of(p) or 0)


def latest_checkpoint(root: Path) -> Path | None:
    done = complete_checkpoints(root)
    return done[-1] if done else None


def prune_checkpoints(
    root: Path,
    keep_last: int | None,
    best_metric: str | None = None,
    mode: str = "max",
    protect: Iterable[Path] = (),
) -> list[Path]:
    """Retention: keep the ``keep_last`` newest complete checkpoints, the best by ``best_metric`` (from each
    meta.json's ``metrics``) and ``protect``; remove the others. None keeps everything.

    The newest complete checkpoint (what ``resume=auto`` loads) is always kept. A checkpoint is renamed to a
    temporary name before it is removed, so a crash never leaves a half-removed one under its name.
    """
    if keep_last is None:
        return []
    done = complete_checkpoints(root)
    keep = {p.resolve() for p in [*done[-max(keep_last, 1) :], *protect]}
    if best_metric:
        scored = []
        for p in done:
            try:
                value = json.loads((p / "meta.json").read_text()).get("metrics", {}).get(best_metric)
            except (OSError, ValueError):
                continue
            if isinstance(value, (int, float)) and np.isfinite(value):
                scored.append((float(value), step_of(p) or 0, p))
        if scored:
            best = max(scored) if mode == "max" else min(scored, key=lambda s: (s[0], -s[1]))
            keep.add(best[2].resolve())
    removed = []
    for p in done:
        if p.resolve() in keep:
            continue
        doomed = root / f".{p.name}{TMP_MARK}pruned"
        try:
            os.replace(p, doomed)
        except OSError:
            continue
        shutil.rmtree(doomed, ignore_errors=True)
        removed.append(p)
    return removed


# ---------------------------------------------------------------------------------------------- reading


@dataclass
class LoadedCheckpoint:
    """Everything a checkpoint holds, read into memory; nothing applied yet."""

    path: Path
    weights: dict[str, torch.Tensor]
    trainer_state: dict[str, Any]
    rng: dict[str, Any]
    meta: dict[str, Any]


_DAMAGED_FIX = (
    "Delete or move that checkpoint directory and use an earlier one (resume=auto falls back to the newest "
    "checkpoint that reads), or start without resume."
)


def _refused_global(exc: BaseException) -> str:
    m = re.search(r"GLOBAL\s+([\w.]+)", str(exc))
    return f"a reference to {m.group(1)}" if m else "objects other than tensors and plain containers"


def _torch_load(file: Path) -> Any:
    if not file.is_file():
        raise CheckpointError(f"Checkpoint file {file} is missing.", _DAMAGED_FIX)
    try:
        return torch.load(file, weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's own text suggests loading with code execution enabled: never pass that on.
        raise CheckpointError(
            f"Checkpoint file {file} was refused: it holds {_refused_global(exc)}, which a safe (weights-only) "
            "load does not allow; nothing in it was run.",
            "Use a checkpoint written by vlarl (its .pt files hold only tensors, numbers and lists), or an "
            "earlier checkpoint of the run.",
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError, KeyError, AttributeError) as exc:
        raise CheckpointError(
            f"Checkpoint file {file} is truncated or damaged ({type(exc).__name__}: {str(exc).splitlines()[0][:200] or 'empty'}).",
            _DAMAGED_FIX,
        ) from None


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    file = path / "model.safetensors"
    if not file.is_file():
        raise CheckpointError(
            f"{path} is not a vlarl checkpoint (no model.safetensors).",
            "Pass a checkpoints/step_XXXXXX directory of a run.",
        )
    try:
        return load_file(str(file), device="cpu")
    except Exception as exc:  # safetensors raises its own SafetensorError on truncated or garbled files
        raise CheckpointError(
            f"Checkpoint file {file} is truncated or damaged ({str(exc).splitlines()[0][:200]}).", _DAMAGED_FIX
        ) from None


def read_meta(path: Path) -> dict[str, Any]:
    file = path / "meta.json"
    try:
        meta = json.loads(file.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path} is not a checkpoint directory (no meta.json).", _DAMAGED_FIX) from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"Checkpoint file {file} is damaged ({exc}).", _DAMAGED_FIX) from None
    if not isinstance(meta, dict) or not isinstance(meta.get("iteration"), int):
        raise CheckpointError(f"Checkpoint file {file} is damaged (no integer 'iteration').", _DAMAGED_FIX)
    return meta


def read_checkpoint(path: Path) -> LoadedCheckpoint:
    """Read every file of a checkpoint; a damaged or refused file raises CheckpointError naming it."""
    meta = read_meta(path)
    weights = read_weights(path)
    trainer_state = _torch_load(path / "trainer.pt")
    rng = _torch_load(path / "rng.pt")
    if not isinstance(trainer_state, dict) or not isinstance(rng, dict):
        raise CheckpointError(f"Checkpoint {path}: trainer.pt / rng.pt do not hold dictionaries.", _DAMAGED_FIX)
    return LoadedCheckpoint(path, weights, trainer_state, rng, meta)


def fit_problems(state: dict[str, torch.Tensor], own: dict[str, torch.Tensor]) -> list[str]:
    """Every tensor that keeps ``state`` from loading into a module whose state dict is ``own``."""
    problems = [f"{k}: checkpoint {tuple(v.shape)}, policy {tuple(own[k].shape)}" for k, v in state.items()
                if k in own and tuple(v.shape) != tuple(own[k].shape)]  # fmt: skip
    problems += [f"{k}: missing from the checkpoint" for k in own if k not in state]
    problems += [f"{k}: not in the policy" for k in state if k not in own]
    return problems


def apply_weights(state: dict[str, torch.Tensor], policy: torch.nn.Module, where: str, fix: str) -> None:
    """Load ``state`` into ``policy``, listing mismatched tensors ourselves before torch could raise."""
    own = policy.state_dict()
    problems = fit_problems(state, own)
    if problems:
        shown = "\n  ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise ConfigError(f"{where} does not fit this policy ({len(problems)} mismatched tensors):\n  {shown}", fix)
    policy.load_state_dict({k: v.to(own[k].device) for k, v in state.items()})


SAME_POLICY_FIX = "Use the same policy settings as the run that wrote the checkpoint (see its meta.json / config.yaml)."


def load_weights(path: Path, policy: torch.nn.Module) -> None:
    apply_weights(read_weights(path), policy, f"Checkpoint {path / 'model.safetensors'}", SAME_POLICY_FIX)


def resolve_init_checkpoint(value: str) -> Path:
    """``policy.init_checkpoint``: a checkpoint directory, or a run directory (its latest checkpoint)."""
    path = Path(value)
    if (path / "model.safetensors").is_file():
        return path
    for root in (path / "checkpoints", path):
        found = latest_checkpoint(root)
        if found is not None:
            return found
    raise ConfigError(
        f"policy.init_checkpoint={value} holds no checkpoint (no model.safetensors, no checkpoints/step_* inside).",
        "Pass a checkpoints/step_XXXXXX directory, or the directory of a `vlarl sft` / `vlarl train` run.",
    )


def load_init_weights(path: Path, policy: torch.nn.Module) -> None:
    """Start a policy from another run's weights; a checkpoint of another architecture is listed tensor by tensor."""
    apply_weights(
        read_weights(path), policy, f"policy.init_checkpoint {path}",
        "Use the policy settings of the run that wrote it (its config.yaml), or another checkpoint.",
    )  # fmt: skip


def read_for_resume(resume: str | None, root: Path, key: str = "runner.resume") -> tuple[LoadedCheckpoint | None, list[str]]:
    """The checkpoint a run resumes from, read, and warnings about damaged ones skipped on the way.

    ``auto``: the newest complete checkpoint under ``root`` that reads, falling back past damaged ones
    (each named in a warning); none there: a fresh start. A path: that checkpoint, or an error naming the file.
    """
    if resume in (None, "", "none"):
        return None, []
    if resume != "auto":
        path = Path(str(resume))
        if not (path / "meta.json").is_file():
            raise ConfigError(
                f"{key}={resume} is not a checkpoint directory (no meta.json).",
                "Pass a checkpoints/step_XXXXXX directory, or 'auto'.",
            )
        return read_checkpoint(path), []
    warnings: list[str] = []
    for path in reversed(complete_checkpoints(root)):
        try:
            return read_checkpoint(path), warnings
        except CheckpointError as exc:
            warnings.append(f"{exc.problem} Falling back to the previous checkpoint.")
    if warnings:
        raise CheckpointError(
            f"{key}=auto: no checkpoint under {root} can be read:\n  " + "\n  ".join(warnings),
            f"Move the damaged checkpoints out of {root}, or start without {key}.",
        )
    return None, []


def restore(loaded: LoadedCheckpoint, policy: torch.nn.Module) -> None:
    """Weights and RNG of a checkpoint read by :func:`read_checkpoint`; the trainer state is the caller's."""
    apply_weights(loaded.weights, policy, f"Checkpoint {loaded.path / 'model.safetensors'}", SAME_POLICY_FIX)
    try:
        _set_rng_state(loaded.rng)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"Checkpoint file {loaded.path / 'rng.pt'} is damaged ({exc}).", _DAMAGED_FIX) from None


def load_checkpoint(path: Path, policy: torch.nn.Module) -> tuple[dict[str, Any], dict[str, Any]]:
    """Restore weights and RNG; returns (trainer_state, meta)."""
    loaded = read_checkpoint(path)
    restore(loaded, policy)
    return loaded.trainer_state, loaded.meta


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        out.update(_flatten(v, key) if isinstance(v, dict) and v else {key: v})
    return out


def config_changes(old: dict[str, Any] | None, new: dict[str, Any], ignore: Iterable[str] = ()) -> list[str]:
    """``key: old -> new`` for every setting that differs between a checkpoint's config and the current one."""
    if not isinstance(old, dict):
        return []
    a, b = _flatten(old), _flatten(new)
    skip = set(ignore)
    return [
        f"{k}: {a.get(k, '(default)')} -> {b.get(k, '(default)')}"
        for k in sorted(set(a) | set(b))
        if k not in skip and a.get(k) != b.get(k)
    ]
