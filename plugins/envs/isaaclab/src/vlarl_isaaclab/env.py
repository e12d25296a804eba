"""The ``isaaclab`` env in the main process: a thin proxy to the simulator worker.

Requirements and the task id are checked here, before anything is spawned.
Tensors come back on the env's device; they are cloned on receipt, so the
worker may reuse its buffers (CUDA IPC needs the producer's tensor alive only
until the consumer has its own copy).
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import numpy as np
import torch
import torch.multiprocessing as mp

from vlarl.contracts.env import GROUP_SIZE_OPTION, ChunkedVectorEnv, ChunkStep
from vlarl.contracts.spaces import ActionDim, ActionSpec, ObservationSpec
from vlarl.errors import ConfigError, ContractError, PluginError
from vlarl.plugins.registry import Registry, get_registry
from vlarl_isaaclab import versions
from vlarl_isaaclab.register import REQUIREMENTS, IsaacLabEnvConfig
from vlarl_isaaclab.taskdecl import ProvidedTask, TaskDecl, collect_tasks


def check_requirements() -> None:
    missing = [r for r in REQUIREMENTS if r.missing() is not None]
    if missing:
        lines = "\n".join(f"- {r.missing()}; fix: {r.fix}" for r in missing)
        raise PluginError(
            f"The env 'isaaclab' cannot start; missing:\n{lines}",
            "Install or set what is listed above, then check with 'vlarl doctor'.",
        )


def resolve_task(cfg: IsaacLabEnvConfig, registry: Registry | None = None) -> ProvidedTask:
    table = collect_tasks(registry or get_registry())
    if cfg.task not in table.by_name and cfg.task_module:
        return ProvidedTask(
            TaskDecl(id=cfg.task, module=cfg.task_module, description=cfg.task_description or cfg.task), "config"
        )
    return table.resolve(cfg.task)


def _action_spec(decl: TaskDecl) -> ActionSpec:
    dims = tuple(
        ActionDim(name, lo, hi, "gripper" if i == decl.gripper_index else "continuous")
        for i, (name, lo, hi) in enumerate(zip(decl.action_names, decl.action_low, decl.action_high))
    )
    return ActionSpec(dims, decl.gripper if decl.gripper_index is not None else "none")  # type: ignore[arg-type]


def _clone(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.clone()
    if isinstance(x, dict):
        return {k: _clone(v) for k, v in x.items()}
    if isinstance(x, list):
        return list(x)
    return x


class IsaacLabVectorEnv(ChunkedVectorEnv):
    """One batched IsaacLab env (``num_envs`` sub-envs) living in a spawned worker."""

    def __init__(self, cfg: IsaacLabEnvConfig, registry: Registry | None = None, seed: int = 0) -> None:
        check_requirements()
        provided = resolve_task(cfg, registry)
        decl = provided.decl
        self.cfg = cfg
        self.task = provided
        self.num_envs = cfg.num_envs
        self.max_episode_steps = cfg.max_episode_steps or decl.max_episode_steps
        self.action_spec = _action_spec(decl)
        packages = list(dict.fromkeys([*([decl.module] if decl.module else []), *cfg.extra_task_packages]))
        generation = versions.detect().generation
        if cfg.cfg_overrides and generation < 3:
            raise ConfigError(
                f"env.cfg_overrides={cfg.cfg_overrides} needs IsaacLab 3.x (parse_env_cfg(overrides=...)); "
                f"the installed IsaacLab is {versions.detect().version or '2.x'}.",
                "Remove env.cfg_overrides, or set the values in the task's env cfg class.",
            )
        spec = {
            "task": cfg.task,
            "decl": decl.to_dict(),
            "packages": packages,
            "device": cfg.device,
            "num_envs": cfg.num_envs,
            "image_size": cfg.image_size,
            "wrist_image_size": cfg.wrist_image_size,
            "seed": seed,
            "max_episode_steps": self.max_episode_steps,
            "description": cfg.task_description or decl.description or decl.id,
            "launcher_kwargs": dict(cfg.launcher_kwargs),
            "cfg_overrides": list(cfg.cfg_overrides),
            "generation": generation,
        }
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        from vlarl_isaaclab import worker

        self._proc = ctx.Process(target=worker.main, args=(child, spec), daemon=True, name=f"isaaclab-{cfg.task}")
        self._proc.start()
        child.close()
        self._closed = False
        info = self._receive(cfg.startup_timeout_s, "start")
        self.device = torch.device(info["device"])
        shapes = info["shapes"]
        self.observation_spec = ObservationSpec(
            states=shapes.get("states"), images=shapes.get("images"), wrist_images=shapes.get("wrist_images")
        )

    # ------------------------------------------------------------------ plumbing
    def _receive(self, timeout: float, what: str) -> Any:
        try:
            ready = self._conn.poll(timeout)
            message = self._conn.recv() if ready else None
        except (EOFError, OSError):
            message = None
            ready = True
        if message is None:
            self._proc.join(timeout=5 if ready else 0)
            code = self._proc.exitcode
            self._teardown()
            reason = f"timed out after {timeout:.0f} s" if not ready else f"exited with code {code}"
            raise PluginError(
                f"The IsaacLab worker for task '{self.cfg.task}' {reason} during {what}.",
                "Check the worker's output above (Isaac Sim logs), the GPU driver, and env.startup_timeout_s / "
                "env.step_timeout_s.",
            )
        status, payload = message
        if status == "ok":
            return payload
        if what in ("start",) or payload.get("stage") in ("launch", "import", "make"):
            self._teardown()
        package = payload.get("package")
        where = {
            "import": f"importing the task package '{package}'",
            "launch": "starting the Isaac Sim app (AppLauncher / launch_simulation)",
            "make": f"creating the env for task '{package}'",
        }.get(payload.get("stage"), f"'{payload.get('stage')}'")
        fix = {
            "import": f"Fix the import error in '{package}' (its traceback is above) or remove it from "
            "env.extra_task_packages / the task declaration.",
            "launch": "Check the Isaac Sim installation (ISAACSIM_PATH, EULA acceptance, GPU driver).",
            "make": "Check the task's env_cfg_entry_point and the observation/camera names in its declaration.",
        }.get(payload.get("stage"), "See the worker traceback above.")
        raise PluginError(f"IsaacLab worker failed while {where}: {payload.get('error')}\n{payload['traceback']}", fix)

    def _call(self, cmd: str, payload: Any, timeout: float) -> Any:
        if self._closed:
            raise ContractError("The IsaacLab env is closed.", "Create a new env.")
        with contextlib.suppress(BrokenPipeError, OSError):  # _receive reports a dead worker
            self._conn.send((cmd, payload))
        return _clone(self._receive(timeout, cmd))

    def _teardown(self) -> None:
        self._closed = True
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(timeout=10)
        self._conn.close()

    # ------------------------------------------------------------------ contract
    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        group = (options or {}).get(GROUP_SIZE_OPTION)
        obs = self._call("reset", {"seed": seed, "group_size": group}, self.cfg.step_timeout_s)
        return obs, {}

    def chunk_step(self, actions: Any) -> ChunkStep:
        if not isinstance(actions, torch.Tensor):
            actions = torch.as_tensor(np.asarray(actions, dtype=np.float32))
        n, a = self.num_envs, self.action_spec.dim
        if actions.ndim != 3 or actions.shape[0] != n or actions.shape[2] != a:
            raise ContractError(
                f"Actions must have shape [num_envs={n}, chunk, action_dim={a}], got {tuple(actions.shape)}.",
                "Check the policy's action_dim and chunk length against the env's action_spec.",
            )
        out = self._call("chunk", actions.to(self.device, torch.float32), self.cfg.step_timeout_s)
        return ChunkStep(
            out["observations"], out["rewards"], out["terminations"], out["truncations"], out["valid"], out["infos"]
        )

    def close(self) -> None:
        if getattr(self, "_closed", True):
            return
        try:
            self._conn.send(("close", None))
            self._conn.poll(30) and self._conn.recv()
        except (BrokenPipeError, EOFError, OSError):
            pass
        self._teardown()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def make_env(config: IsaacLabEnvConfig | None = None, **overrides: Any) -> IsaacLabVectorEnv:
    """Plugin factory: ``make_env(config_instance)``; keyword overrides for scripts and tests."""
    cfg = dataclasses.replace(config or IsaacLabEnvConfig(), **overrides)
    return IsaacLabVectorEnv(cfg)
