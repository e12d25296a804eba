"""One worker process: its own Kit app running an OmniGibson VectorEnvironment of several envs.

OmniGibson needs a process of its own: Isaac Sim's Kit app is one per process, it disables Python's cyclic
garbage collector, and the GPU is chosen when it launches. The parent talks to it through a Pipe with
("reset", ...), ("step", ...) and ("close",) messages; every reply is ("ok", payload) or ("error", text).
"""

from __future__ import annotations

import gc
import json
import os
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np


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


def _to_torch(value: Any) -> Any:
    import torch

    if isinstance(value, dict):
        return {k: _to_torch(v) for k, v in value.items()}
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
        return torch.tensor(value, dtype=torch.float32)
    if isinstance(value, list):
        return [_to_torch(v) for v in value]
    return value


class Worker:
    def __init__(self, spec: WorkerSpec) -> None:
        if spec.gpu_id is not None:
            os.environ["OMNIGIBSON_GPU_ID"] = str(spec.gpu_id)
        os.environ.setdefault("OMNIGIBSON_HEADLESS", "1")
        import omnigibson as og
        from omnigibson.macros import gm

        # Macros are read when the sim launches, so they are set before the first environment exists.
        gm.HEADLESS = True
        gm.USE_GPU_DYNAMICS = False
        gm.ENABLE_OBJECT_STATES = True
        gm.ENABLE_TRANSITION_RULES = True
        gm.ENABLE_FLATCACHE = True
        gm.USE_NUMPY_CONTROLLER_BACKEND = True

        self.og = og
        self.spec = spec
        self.vec = og.envs.VectorEnvironment(spec.num_envs, spec.omni_config)
        gc.enable()  # Kit disables it; OmniGibson's reference cycles would leak over long runs
        for env in self.vec.envs:
            self._configure_cameras(env)
        # Every first reset applies its instance file, so equal seeds give equal states from the start.
        self.loaded: list[int | None] = [None] * spec.num_envs
        self.last_action: list[Any] = [None] * spec.num_envs

    def _configure_cameras(self, env: Any) -> None:
        from vlarl_behavior.robot import CAMERAS, HEAD_APERTURE

        robot = env.robots[0]
        for camera, key in CAMERAS.items():
            sensor = robot.sensors[key.split("::")[1]]
            side = self.spec.head_resolution if camera == "head" else self.spec.wrist_resolution
            if camera == "head":
                sensor.horizontal_aperture = HEAD_APERTURE
            sensor.image_height = side
            sensor.image_width = side
        env.load_observation_space()

    def info(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "physics_dt": float(self.og.sim.get_physics_dt()), "num_envs": self.spec.num_envs}

    # ---------------------------------------------------------------- instances
    def _load_instance(self, env: Any, instance_id: int) -> None:
        """Apply a cached ``*_template-tro_state.json`` (task-relevant object states and robot pose)."""
        with open(self.spec.instance_files[instance_id], encoding="utf-8") as f:
            states = _to_torch(json.load(f))
        robot = env.robots[0]
        for key, state in states.items():
            if key == "robot_poses":
                poses = {k.lower(): v for k, v in state.items()}
                options = poses.get("robot") or poses.get("r1pro")
                if options:
                    robot.set_position_orientation(options[0]["position"], options[0]["orientation"])
                env.scene.write_task_metadata(key=key, data=state)
            else:
                env.task.object_scope[key].load_state(state, serialized=False)
        # Loading states can leave small objects jittering: let them settle while held still.
        for _ in range(self.spec.settle_steps):
            self.og.sim.step_physics()
            for entity in env.task.object_scope.values():
                if entity is not None and hasattr(entity, "keep_still"):
                    entity.keep_still()
        env.scene.update_initial_file()
        env.scene.reset()

    # ---------------------------------------------------------------- commands
    def _observe(self, raws: list[dict[str, Any]]) -> dict[str, np.ndarray]:
        from vlarl_behavior.obs import extract, stack

        return stack([extract(r, self.spec.image_size, self.spec.state_dim) for r in raws])

    def reset(self, ids: list[int], instance_ids: list[int]) -> dict[str, np.ndarray]:
        raws = []
        for i, inst in zip(ids, instance_ids):
            env = self.vec.envs[i]
            if self.loaded[i] != inst:
                self._load_instance(env, inst)
                self.loaded[i] = inst
            obs, _info = env.reset()
            raws.append(obs)
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
        obs, _rewards, terms, truncs, infos = self.vec.step(full)
        success = np.array([bool(infos[i]["done"]["success"]) for i in ids])
        out = self._observe([obs[i] for i in ids])
        out.update(
            success=success,
            terminated=np.array([bool(terms[i]) for i in ids]),
            truncated=np.array([bool(truncs[i]) for i in ids]),
        )
        return out

    def close(self) -> None:
        self.vec.close()


def main(conn: Connection, spec: WorkerSpec) -> None:
    """Process entry point (spawned)."""
    try:
        worker = Worker(spec)
        conn.send(("ok", worker.info()))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        conn.close()
        return
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            break  # parent went away
        cmd = msg[0]
        try:
            if cmd == "reset":
                conn.send(("ok", worker.reset(*msg[1:])))
            elif cmd == "step":
                conn.send(("ok", worker.step(*msg[1:])))
            elif cmd == "close":
                worker.close()
                conn.send(("ok", None))
                break
            else:
                conn.send(("error", f"unknown command {cmd!r}"))
        except BaseException:
            conn.send(("error", traceback.format_exc()))
    conn.close()
    # og.shutdown() closes the Kit app and ends the process itself.
    worker.og.shutdown()


__all__ = ["Worker", "WorkerSpec", "main"]
