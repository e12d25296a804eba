"""What each task of a suite is: description, init states, BDDL file, objects and goal.

Imported by worker processes and the demo collector (it imports libero when called, not at import).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TaskInfo:
    """One task, as the installed LIBERO package describes it (picklable: sent by the workers)."""

    name: str  # e.g. pick_up_the_black_bowl_..._on_the_plate (LIBERO names its demo files after it)
    language: str
    num_states: int
    bddl_file: str  # absolute path inside the installed package
    # BDDL problem info as LIBERO's get_problem_info returns it (problem_name, domain_name, language_instruction).
    problem_info: dict[str, str]
    env_name: str  # the robosuite env class of the problem, e.g. Libero_Tabletop_Manipulation
    # Movable objects (robosuite's `objects`, the ones with object-state observables), in BDDL order.
    objects: tuple[str, ...]
    # Goal predicates as parsed from the BDDL, lower-case: e.g. ("on", "akita_black_bowl_1", "plate_1").
    goal: tuple[tuple[str, ...], ...]


def load_init_states(bench: Any, task_id: int) -> np.ndarray:
    """The suite's init states of one task (MuJoCo flattened states, [num_states, dim])."""
    try:
        return np.asarray(bench.get_task_init_states(task_id))
    except Exception:
        # Upstream libero stores them as torch pickles and calls torch.load without weights_only, which
        # torch >= 2.6 refuses; they are data files of the installed package, so load them explicitly.
        import torch
        from libero.libero import get_libero_path

        task = bench.get_task(task_id)
        path = os.path.join(get_libero_path("init_states"), task.problem_folder, task.init_states_file)
        return np.asarray(torch.load(path, weights_only=False))


def get_benchmark(suite: str) -> Any:
    from libero.libero import benchmark

    return benchmark.get_benchmark_dict()[suite]()


def bddl_path(bench: Any, task_id: int) -> str:
    from libero.libero import get_libero_path

    task = bench.get_task(task_id)
    return os.path.join(get_libero_path("bddl_files"), task.problem_folder, task.bddl_file)


def task_info(bench: Any, task_id: int) -> TaskInfo:
    import libero.libero.envs.bddl_utils as bddl_utils
    from libero.libero.envs import TASK_MAPPING

    task = bench.get_task(task_id)
    path = bddl_path(bench, task_id)
    try:
        parsed = bddl_utils.robosuite_parse_problem(path)
        objects = tuple(name for names in parsed["objects"].values() for name in names)
        goal = tuple(tuple(str(p) for p in pred) for pred in parsed["goal_state"])
        problem_info = dict(bddl_utils.get_problem_info(path))
        env_name = TASK_MAPPING[problem_info["problem_name"]].__name__
    except Exception:
        # Unreadable objects only matter with privileged_state, where object_union names the task.
        objects, goal, problem_info, env_name = (), (), {}, ""
    return TaskInfo(
        name=task.name,
        language=task.language,
        num_states=len(load_init_states(bench, task_id)),
        bddl_file=path,
        problem_info=problem_info,
        env_name=env_name,
        objects=objects,
        goal=goal,
    )


def suite_info(suite: str) -> dict[int, TaskInfo]:
    """task id -> TaskInfo for every task of ``suite`` (reads the BDDL files: tens of ms per suite)."""
    bench = get_benchmark(suite)
    return {i: task_info(bench, i) for i in range(bench.n_tasks)}


def sim_meta() -> dict[str, Any]:
    """robosuite settings a LIBERO dataset records: image convention, controller config, version."""
    import robosuite
    import robosuite.macros as macros

    return {
        "image_convention": str(macros.IMAGE_CONVENTION),
        "controller_config": robosuite.load_controller_config(default_controller="OSC_POSE"),
        "robosuite_version": str(robosuite.__version__),
    }
