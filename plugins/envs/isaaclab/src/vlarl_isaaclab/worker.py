"""The simulator process (a fresh interpreter from vlarl's core pool). Start order matters for Isaac Sim:

1. the app is launched headless with cameras (``AppLauncher`` on IsaacLab 2.x,
   ``launch_simulation`` on 3.x, see ``launch.py``): nothing from ``isaaclab.envs``,
   ``isaaclab_tasks`` or ``omni`` may be imported before it runs (in the PyPI 2.3 wheel
   ``isaaclab_tasks`` only becomes importable then, as a Kit extension);
2. task packages imported (the task's declared module, then ``extra_task_packages``),
   which ``gymnasium.register`` their ids with an ``env_cfg_entry_point``;
3. env cfg loaded from the registry (``parse_env_cfg`` -> ``load_cfg_from_registry``),
   ``num_envs``, device, camera sizes and seed overridden, time-out pushed out of reach,
   final observations requested (3.x ``compute_final_obs``, 2.x a recorder term);
4. ``gymnasium.make(id, cfg=env_cfg).unwrapped``.

vlarl's core pool (``vlarl.envs.pool``) starts the process and calls :class:`IsaacLabWorker`;
a failed stage comes back as a PluginError naming the stage, the package and the traceback; on a
start-up failure the env and the app are closed first.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from typing import Any

from vlarl_isaaclab.taskdecl import TaskDecl

_NO_TIMEOUT_S = 1.0e7
"""episode_length_s given to IsaacLab: truncation is counted by vlarl, not by IsaacLab's time_out term."""


class _Failure(Exception):
    def __init__(self, stage: str, package: str | None = None) -> None:
        super().__init__(stage)
        self.stage = stage
        self.package = package


def _set_camera(env_cfg: Any, sensor: str | None, size: int) -> None:
    if not sensor:
        return
    cam = getattr(env_cfg.scene, sensor, None)
    if cam is None:
        raise KeyError(f"env_cfg.scene has no camera '{sensor}' to resize")
    cam.height = size
    cam.width = size


def _pick_gym_id(requested: str, decl: TaskDecl) -> str:
    import gymnasium as gym

    candidates = list(dict.fromkeys([requested, decl.id, *decl.aliases]))
    for name in candidates:
        if name in gym.registry:
            return name
    raise KeyError(
        f"none of {candidates} is registered with gymnasium after importing the task packages; "
        f"registered Isaac ids: {sorted(k for k in gym.registry if 'Isaac' in k)[:20]}"
    )


def build(spec: dict[str, Any]) -> tuple[Callable[[], None], Any, Any]:
    """Launch, import, configure and make; returns (close_app, env, runner)."""
    from vlarl_isaaclab.launch import launch, launcher_args, warn_explicit_wxyz
    from vlarl_isaaclab.runner import ChunkRunner, FinalObsStore, install_final_obs_recorder, use_final_obs_extras

    os.environ.pop("DISPLAY", None)  # headless: avoid GLX errors on machines with an X display
    generation = spec["generation"]
    try:
        close_app = launch(generation, launcher_args(spec["device"], spec["launcher_kwargs"]))
    except Exception as exc:
        raise _Failure("launch", "isaaclab.app") from exc
    decl = TaskDecl.coerce(spec["decl"])
    env = None
    try:
        import importlib

        for package in spec["packages"]:
            try:
                importlib.import_module(package)
            except BaseException as exc:
                raise _Failure("import", package) from exc
        try:
            import gymnasium as gym
            from isaaclab_tasks.utils import parse_env_cfg

            gym_id = _pick_gym_id(spec["task"], decl)
            overrides = {"overrides": list(spec["cfg_overrides"])} if spec["cfg_overrides"] else {}
            env_cfg = parse_env_cfg(gym_id, device=spec["device"], num_envs=spec["num_envs"], **overrides)
            _set_camera(env_cfg, decl.image_sensor if decl.image_term else None, spec["image_size"])
            _set_camera(env_cfg, decl.wrist_image_sensor if decl.wrist_image_term else None, spec["wrist_image_size"])
            env_cfg.seed = spec["seed"]
            env_cfg.episode_length_s = _NO_TIMEOUT_S
            store = FinalObsStore()
            from_extras = use_final_obs_extras(env_cfg, generation)
            if not from_extras:
                install_final_obs_recorder(env_cfg, decl.obs_group, store)
            warn_explicit_wxyz(decl, generation)
            env = gym.make(gym_id, cfg=env_cfg).unwrapped
            quat_order = "xyzw" if generation >= 3 else "wxyz"
            runner = ChunkRunner(
                env, decl, spec["description"], spec["max_episode_steps"], store, quat_order, from_extras
            )
        except _Failure:
            raise
        except Exception as exc:
            raise _Failure("make", spec["task"]) from exc
        return close_app, env, runner
    except BaseException:
        _close(env, close_app)
        raise


def _close(env: Any, close_app: Callable[[], None] | None) -> None:
    for close in (getattr(env, "close", None), close_app):
        if close is None:
            continue
        try:
            close()
        except Exception:
            traceback.print_exc()


def _error(exc: BaseException, stage: str, package: str | None) -> tuple[str, dict[str, Any]]:
    cause = exc.__cause__ if isinstance(exc, _Failure) and exc.__cause__ is not None else exc
    tb = "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))
    return "error", {"stage": stage, "package": package, "traceback": tb, "error": f"{type(cause).__name__}: {cause}"}


def failure_error(payload: dict[str, Any]) -> Any:
    """The user-facing error for a failed stage (launch, import, make, or a call), naming where and the fix."""
    from vlarl.errors import PluginError

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
    return PluginError(f"IsaacLab worker failed while {where}: {payload.get('error')}\n{payload['traceback']}", fix)


class IsaacLabWorker:
    """Worker object of vlarl's core pool: builds the app, task and env, then serves reset / chunk / close.

    Results are torch tensors on the sim's device; the wire carries them as raw bytes (the host puts them
    back on its device). On a start-up failure the env and the app are closed before the error is raised.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        try:
            self.close_app, self.env, self.runner = build(spec)
        except _Failure as exc:
            raise failure_error(_error(exc, exc.stage, exc.package)[1]) from None
        except BaseException as exc:
            raise failure_error(_error(exc, "start", None)[1]) from None
        try:
            obs = self.runner.reset(spec["seed"], None)
        except Exception as exc:  # e.g. an observation mapping that does not fit the task
            self.close()
            raise failure_error(_error(exc, "make", spec["task"])[1]) from None
        shapes = {k: list(v.shape[1:]) for k, v in obs.items() if k != "task_descriptions"}
        self._info = {"device": str(self.runner.device), "num_envs": self.runner.n, "shapes": shapes}

    def info(self) -> dict[str, Any]:
        return self._info

    def reset(self, seed: int | None, group_size: int | None) -> Any:
        try:
            return self.runner.reset(seed, group_size)
        except Exception as exc:
            raise failure_error(_error(exc, "reset", None)[1]) from None

    def chunk(self, actions: Any) -> Any:
        import torch

        try:
            return self.runner.chunk(torch.as_tensor(actions, dtype=torch.float32, device=self.runner.device))
        except Exception as exc:
            raise failure_error(_error(exc, "chunk", None)[1]) from None

    def close(self) -> None:
        env, close_app = getattr(self, "env", None), getattr(self, "close_app", None)
        self.env = self.close_app = None
        _close(env, close_app)
