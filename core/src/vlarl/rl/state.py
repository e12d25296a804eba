"""Exact-resume state for optimizer-based algorithms, and what a resume does with changed hyperparameters.

The rule (both ``vlarl train`` and ``vlarl sft``): **the current config wins.** A resumed run uses the
config's hyperparameters (learning rates, betas, eps, weight decay, ...) from its first iteration on and
keeps the optimizer's per-parameter state (Adam moments, step counts). A learning-rate schedule keeps its
progress: with ``initial_lr`` in the groups (PPO, GRPO) a changed rate rescales the scheduled one. When the
parameter grouping itself changed (e.g. ``critic_lr`` set where it was not), the moments follow the
parameters they belong to, by parameter order. Each change is reported in the run's log.
Unchanged settings restore the stored state exactly (bitwise resume).
"""

from __future__ import annotations

from typing import Any

import torch


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


def _group_name(group: dict[str, Any], i: int) -> str:
    return str(group.get("name", f"group {i}"))


def merge_optimizer_state(
    optimizer: torch.optim.Optimizer, stored: dict[str, Any], label: str = "optimizer"
) -> tuple[dict[str, Any], list[str]]:
    """A state dict for ``optimizer`` (built from the current config) from a stored one, and one note per change."""
    fresh = optimizer.state_dict()
    fgroups, sgroups = fresh["param_groups"], stored.get("param_groups", [])
    notes: list[str] = []
    if [len(g["params"]) for g in fgroups] == [len(g["params"]) for g in sgroups]:
        groups = []
        for i, (f, s) in enumerate(zip(fgroups, sgroups)):
            g = dict(s)
            scheduled = "initial_lr" in f and "initial_lr" in s
            for key, value in f.items():
                if key in ("params", "name") or (scheduled and key == "lr"):
                    continue
                if key not in s or not _same(s[key], value):
                    if key == "initial_lr" and s.get("initial_lr"):
                        g["lr"] = s["lr"] * value / s["initial_lr"]  # the schedule keeps its progress
                    notes.append(f"{label} '{_group_name(f, i)}': {key} {s.get(key, '(unset)')} -> {value}")
                    g[key] = value
            if "name" in f:
                g["name"] = f["name"]
            groups.append(g)
        return {"state": stored.get("state", {}), "param_groups": groups}, notes
    old = ", ".join(_group_name(g, i) for i, g in enumerate(sgroups)) or "none"
    new = ", ".join(_group_name(g, i) for i, g in enumerate(fgroups))
    params = [p for g in optimizer.param_groups for p in g["params"]]
    old_ids = [i for g in sgroups for i in g["params"]]
    new_ids = [i for g in fgroups for i in g["params"]]
    state: dict[Any, Any] = {}
    carried = len(old_ids) == len(params)
    if carried:
        for old_id, new_id, p in zip(old_ids, new_ids, params):
            entry = stored.get("state", {}).get(old_id)
            if entry is None:
                continue
            if any(torch.is_tensor(v) and v.dim() > 0 and tuple(v.shape) != tuple(p.shape) for v in entry.values()):
                carried, state = False, {}
                break
            state[new_id] = entry
    what = (
        "the per-parameter state (moments) carried over by parameter"
        if carried
        else "the parameters differ, so its per-parameter state (moments) starts afresh"
    )
    notes.append(f"{label}: parameter groups changed ({old} -> {new}); {what}")
    return {"state": state, "param_groups": fgroups}, notes


class OptimizerResumeState:
    """``state_dict``/``load_state_dict`` over ``optimizer``, ``num_updates`` and the minibatch ``generator``.

    A state loaded before ``setup()`` has built the optimizer is kept and applied by
    :meth:`apply_pending_state`, which ``setup()`` calls once the optimizer exists. Loading applies
    :func:`merge_optimizer_state` (the config's hyperparameters win); ``resume_notes`` lists what changed.
    """

    optimizer: torch.optim.Optimizer | None = None
    num_updates: int = 0
    generator: torch.Generator
    _pending_state: dict[str, Any] | None = None
    resume_notes: list[str]

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "num_updates": self.num_updates,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.optimizer is None:
            self._pending_state = state
            return
        self._pending_state = None
        self.resume_notes = []
        if state.get("optimizer") is not None:
            merged, self.resume_notes = merge_optimizer_state(self.optimizer, state["optimizer"])
            self.optimizer.load_state_dict(merged)
        self.num_updates = int(state.get("num_updates", 0))
        if state.get("generator") is not None:
            self.generator.set_state(state["generator"])

    def apply_pending_state(self) -> None:
        if self._pending_state is not None:
            self.load_state_dict(self._pending_state)
