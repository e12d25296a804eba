"""One worker process: its own Kit app running several OmniGibson envs (see ``og_envs.py`` for the two APIs).

OmniGibson needs a process of its own: Isaac Sim's Kit app is one per process, it disables Python's cyclic
garbage collector, and the GPU is chosen when it launches. vlarl's core pool (``vlarl.envs.pool``) starts
the process and calls ``reset``, ``step`` and ``close`` on the :class:`Worker` it builds with ``open_worker``.

All envs of a worker share one physics scene. Resetting some of them runs physics steps (settling a freshly
loaded instance, the scene reset, the env reset's ``og.sim.step()``) that would also move the others, which
are mid-episode; with ``isolate_resets`` their scene state is saved before and restored after, so for them
the reset takes no time.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from vlarl.errors import ContractError

MACROS: dict[str, Any] = {
    "HEADLESS": True,
    "USE_GPU_DYNAMICS": False,
    "ENABLE_OBJECT_STATES": True,
    "ENABLE_TRANSITION_RULES": True,
    "ENABLE_FLATCACHE": True,
    "USE_NUMPY_CONTROLLER_BACKEND": True,
}
"""OmniGibson global macros the workers need; set before the first environment launches the simulator."""


@dataclass
class WorkerSpec:
    num_envs: int
    omni_config: dict[str, Any]
    instance_files: dict[int, str]
    image_size: int
    head_resolution: int
    wrist_resolution: int
    state_dim: int
    settle_steps: int
    gpu_id: int | None
    isolate_resets: bool = True


def to_torch(state: dict[str, Any]) -> dict[str, Any]:
    """Cached instance JSON -> torch, as upstream's ``recursively_convert_to_torch``: a list becomes one float32
    tensor (nested numeric lists included) when it can; other lists (e.g. of pose dicts) stay as they are."""
    import torch

    for key, value in state.items():
        if isinstance(value, dict):
            state[key] = to_torch(value)
        elif isinstance(value, list):
            with contextlib.suppress(TypeError, ValueError, RuntimeError):
                state[key] = torch.tensor(value, dtype=torch.float32)
    return state


def set_macros(gm: Any, values: dict[str, Any]) -> None:
    """Set OmniGibson macros. ``gm`` refuses a change once something read the macro: equal values are skipped,
    different ones are reported, naming each macro."""
    read = gm.get("_read", set()) if isinstance(gm, dict) else set()
    stale = []
    for name, value in values.items():
        if name in read:
            current = dict.get(gm, name)
            if current != value:
                stale.append(f"gm.{name}={current!r} (vlarl needs {value!r})")
            continue
        setattr(gm, name, value)
    if stale:
        raise ContractError(
            f"OmniGibson already read these macros, so they can no longer be set: {', '.join(stale)}.",
            "Do not import code that reads them before the worker starts (e.g. a sitecustomize or a plugin "
            "that launches OmniGibson); OMNIGIBSON_HEADLESS=1 sets HEADLESS before anything reads it.",
        )


class Worker:
    def __init__(self, spec: WorkerSpec) -> None:
        if spec.gpu_id is not None:
            os.environ["OMNIGIBSON_GPU_ID"] = str(spec.gpu_id)
        os.environ.setdefault("OMNIGIBSON_HEADLESS", "1")
        import omnigibson as og
        from omnigibson.macros import gm

        from vlarl_behavior.og_envs import open_envs
        from vlarl_behavior.robot import CAMERAS, HEAD_APERTURE

        set_macros(gm, MACROS)  # read when the first environment launches the simulator
        self.og = og
        self.spec = spec
        self.envs = open_envs(og, spec.omni_config, spec.num_envs)
        gc.enable()  # Kit disables it; OmniGibson's reference cycles would leak over long runs
        sides = {c: spec.head_resolution if c == "head" else spec.wrist_resolution for c in CAMERAS}
        self.envs.set_cameras(CAMERAS, sides, HEAD_APERTURE)
        # Every first reset applies its instance file, so equal seeds give equal states from the start.
        self.loaded: list[int | None] = [None] * spec.num_envs
        self.last_action: list[Any] = [None] * spec.num_envs

    def info(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "physics_dt": float(self.og.sim.get_physics_dt()),
            "num_envs": self.spec.num_envs,
            "api": self.envs.api,
        }

    # ---------------------------------------------------------------- instances
    def _load_instance(self, i: int, instance_id: int) -> None:
        """Apply a cached ``*_template-tro_state.json`` (task-relevant object states and robot pose) to env i."""
        import torch

        with open(self.spec.instance_files[instance_id], encoding="utf-8") as f:
            states = to_torch(json.load(f))
        robot, scene, scope = self.envs.robot(i), self.envs.scene(i), self.envs.object_scope(i)
        for key, state in states.items():
            if key == "robot_poses":
                poses = {k.lower(): v for k, v in state.items()}
                options = poses.get("robot") or poses.get("r1pro")
                if options:  # stored relative to the scene (each env's scene sits elsewhere in the stage)
                    pos, ori = (
                        torch.as_tensor(options[0][k], dtype=torch.float32) for k in ("position", "orientation")
                    )
                    robot.set_position_orientation(pos, ori, frame="scene")
                scene.write_task_metadata(key=key, data=state)
            else:
                scope[key].load_state(state, serialized=False)
        update_handles = getattr(self.og.sim, "update_handles", None)
        if update_handles is not None:
            update_handles()

    def _settle(self, ids: list[int]) -> None:
        """Loading states can leave small objects jittering: settle the fresh instances together, objects held
        still (not the robots, as upstream), then make the result each scene's initial state."""
        for _ in range(self.spec.settle_steps):
            self.og.sim.step_physics()
            for i in ids:
                robot = self.envs.robot(i)
                for inst, entity in self.envs.object_scope(i).items():
                    held = entity is not None and entity is not robot and not inst.startswith("agent.n.")
                    if held and hasattr(entity, "keep_still"):
                        entity.keep_still()
        for i in ids:
            self.envs.scene(i).update_initial_file()
            self.envs.scene(i).reset()

    # ---------------------------------------------------------------- commands
    def _observe(self, raws: list[dict[str, Any]]) -> dict[str, np.ndarray]:
        from vlarl_behavior.obs import extract, stack

        return stack([extract(r, self.spec.image_size, self.spec.state_dim) for r in raws])

    def reset(self, ids: list[int], instance_ids: list[int]) -> dict[str, np.ndarray]:
        partners = [i for i in range(self.spec.num_envs) if i not in ids] if self.spec.isolate_resets else []
        frozen = {i: self.envs.scene(i).dump_state(serialized=False) for i in partners}
        fresh = [i for i, inst in zip(ids, instance_ids) if self.loaded[i] != inst]
        for i, inst in zip(ids, instance_ids):
            if i in fresh:
                self._load_instance(i, inst)
                self.loaded[i] = inst
        if fresh:
            self._settle(fresh)
        raws = self.envs.reset(list(ids))
        for i, state in frozen.items():
            self.envs.scene(i).load_state(state, serialized=False)
        for i in ids:
            self.last_action[i] = None
        return self._observe(raws)

    def step(self, ids: list[int], actions: np.ndarray) -> dict[str, Any]:
        import torch

        # All envs of a worker share one physics step. Sub-envs not stepped by vlarl hold their last joint
        # targets with the base stopped (a zero action would drive every joint target to 0).
        full = []
        given = dict(zip(ids, actions))
        for i in range(self.spec.num_envs):
            if i in given:
                act = torch.as_tensor(np.asarray(given[i], dtype=np.float32))
                self.last_action[i] = act.clone()
            else:
                prev = self.last_action[i]
                act = torch.zeros(actions.shape[1]) if prev is None else prev.clone()
                act[0:3] = 0.0
            full.append(act)
        obs, terms, truncs, infos = self.envs.step(full)
        out = self._observe([obs[i] for i in ids])
        out.update(
            success=np.array([bool(infos[i]["done"]["success"]) for i in ids]),
            terminated=np.array([terms[i] for i in ids]),
            truncated=np.array([truncs[i] for i in ids]),
        )
        return out

    def close(self) -> None:
        self.envs.close()

    def shutdown(self) -> None:
        """After the host's close: og.shutdown() closes the Kit app and ends the process itself."""
        self.og.shutdown()


def open_worker(**spec: Any) -> Worker:
    """Worker target of vlarl's core pool: the spec arrives as plain data (``dataclasses.asdict(WorkerSpec)``)."""
    spec["instance_files"] = {int(k): str(v) for k, v in spec["instance_files"].items()}
    return Worker(WorkerSpec(**spec))


__all__ = ["Worker", "WorkerSpec", "open_worker"]
