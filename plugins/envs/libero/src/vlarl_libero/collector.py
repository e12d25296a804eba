"""Run the scripted expert in a LiberoEnv and keep its successful episodes as LIBERO HDF5 demos."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vlarl_libero.demos import Demo, DemoFile
from vlarl_libero.env import LiberoEnv
from vlarl_libero.expert import ScriptedExpert
from vlarl_libero.register import CAMERA_KEYS, LiberoConfig


@dataclass
class TaskDemos:
    """What collecting one task gave."""

    task_id: int
    path: Path
    demos: int = 0
    episodes: int = 0  # finished episodes (each from a different init state)
    successes: int = 0  # of those, successful (a success beyond demos_wanted is counted, not written)
    lengths: list[int] = field(default_factory=list)
    init_state_ids: list[int] = field(default_factory=list)


def collect_task(
    env: LiberoEnv,
    demos_wanted: int,
    out_dir: Path,
    on_episode: Callable[[TaskDemos], None] | None = None,
    action_noise: Sequence[float] | float = 0.0,
) -> TaskDemos:
    """Collect up to ``demos_wanted`` successful demos of the env's single task.

    Each init state of the task is tried at most once (the env's shuffled schedule, seeded by env.seed,
    uses every state once before repeating one), so a task with fewer solvable states gives fewer demos.

    ``action_noise`` (std in action units, one value or one per action dim) perturbs the *executed*
    action while the expert's own action is recorded (DART, Laskey et al. 2017): the demos then show how
    the expert recovers from the drift a noisy policy makes, which a policy cloned from clean demos never sees.
    """
    if len(env.task_ids) != 1 or not env.cfg.record_sim_states or not env.cfg.privileged_state:
        raise ValueError("collect_task needs a LiberoEnv of one task with privileged_state and record_sim_states")
    task_id = env.task_ids[0]
    n = env.num_envs
    expert = ScriptedExpert.for_env(env)
    obs, _ = env.reset()
    writer = DemoFile(
        out_dir,
        env.tasks[task_id],
        suite=env.cfg.suite,
        task_id=task_id,
        meta=env.sim_meta,
        cameras=env.cameras,
        image_size=env.cfg.image_size,
        objects=env.state_objects,
        model_xml=env.model_xml(0),
    )
    result = TaskDemos(task_id, writer.path)
    budget = env.tasks[task_id].num_states
    started = n
    counts = [True] * n  # whether sub-env i's current episode is within the budget of init states
    demos = [Demo(env.pair_of(i)[1]) for i in range(n)]
    noise = np.broadcast_to(np.asarray(action_noise, dtype=np.float64), (env.action_spec.dim,))
    rng = np.random.default_rng(env.cfg.seed)
    try:
        while result.demos < demos_wanted and any(counts):
            actions = expert.act(obs)
            records = env.sim_records()
            for i in range(n):
                if counts[i]:
                    images = {cam: obs[CAMERA_KEYS[cam]][i] for cam in env.cameras}
                    demos[i].add(records[i], images, actions[i])
            executed = actions
            if noise.any():
                executed = np.clip(actions + rng.normal(size=actions.shape) * noise, -1.0, 1.0).astype(actions.dtype)
            out = env.chunk_step(executed[:, None, :])
            success = out.infos["episode"]["success_once"] & ~out.infos["env_failed"]
            for i in np.flatnonzero(out.infos["done"]):
                if counts[i]:
                    result.episodes += 1
                    result.successes += int(success[i])
                    if success[i] and result.demos < demos_wanted:
                        writer.write(demos[i])
                        result.demos += 1
                        result.lengths.append(len(demos[i]))
                        result.init_state_ids.append(demos[i].init_state_id)
                    if on_episode is not None:
                        on_episode(result)
                expert.reset([i])
                counts[i] = started < budget
                started += 1
                demos[i] = Demo(env.pair_of(i)[1])
            obs = out.observations
    finally:
        writer.close()
    return result


def collect_demos(
    *,
    suite: str,
    task_ids: Sequence[int],
    demos_per_task: int,
    out: Path | str,
    cameras: Sequence[str] = tuple(CAMERA_KEYS),
    image_size: int = 128,
    num_envs: int = 2,
    seed: int = 0,
    max_episode_steps: int | None = None,
    on_episode: Callable[[TaskDemos], None] | None = None,
    on_task_start: Callable[[int], None] | None = None,
    action_noise: Sequence[float] | float = 0.0,
) -> dict[str, Any]:
    """Collect ``demos_per_task`` demos of each task (one env per task, ``num_envs`` sub-envs / workers).

    Returns a JSON-ready report: ``demos`` (total) and ``tasks`` (per task: task_id, path, demos, episodes,
    successes, lengths, init_state_ids).
    """
    results = []
    for task_id in task_ids:
        if on_task_start is not None:
            on_task_start(task_id)
        cfg = LiberoConfig(
            suite=suite,
            task_ids=[task_id],
            num_envs=num_envs,
            cameras=list(cameras),
            image_size=image_size,
            privileged_state=True,  # the expert plans from object poses; they are stored as obs/object too
            record_sim_states=True,
            seed=seed,
            max_episode_steps=max_episode_steps,
        )
        env = LiberoEnv(cfg)
        try:
            results.append(collect_task(env, demos_per_task, Path(out), on_episode, action_noise))
        finally:
            env.close()
    tasks = [{**asdict(r), "path": str(r.path)} for r in results]
    return {"demos": sum(r.demos for r in results), "tasks": tasks}
