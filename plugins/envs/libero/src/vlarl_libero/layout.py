"""Layout of the ``states`` vector: the 8 robot dims, then (with ``privileged_state``) object poses.

Pure Python: used by the env (main process), the workers, the expert and the demo writer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from vlarl.errors import ConfigError

ROBOT_STATE_NAMES: tuple[str, ...] = (
    "eef_pos.x",
    "eef_pos.y",
    "eef_pos.z",
    "eef_axis_angle.x",
    "eef_axis_angle.y",
    "eef_axis_angle.z",
    "gripper_qpos.0",
    "gripper_qpos.1",
)
# robosuite's object-state per object: position (3), then quaternion in robosuite's (x, y, z, w) order.
POSE_FIELDS: tuple[str, ...] = ("pos.x", "pos.y", "pos.z", "quat.x", "quat.y", "quat.z", "quat.w")
POSE_DIM = len(POSE_FIELDS)


def object_union(objects_by_task: Mapping[int, Sequence[str]], task_ids: Iterable[int], suite: str) -> tuple[str, ...]:
    """Sorted union of the objects of ``task_ids``: one layout serves every selected task.

    A task that declares no object cannot give privileged state: a ConfigError names it.
    """
    names: set[str] = set()
    for t in task_ids:
        objects = objects_by_task.get(t) or ()
        if not objects:
            raise ConfigError(
                f"env.privileged_state: the objects of {suite} task {t} cannot be read (its BDDL declares none).",
                "Turn env.privileged_state off for this task, or select tasks with movable objects.",
            )
        names.update(objects)
    return tuple(sorted(names))


def object_state_names(objects: Sequence[str]) -> tuple[str, ...]:
    """``<object>.pos.x`` ... ``<object>.quat.w`` for each object, object-major."""
    return tuple(f"{obj}.{field}" for obj in objects for field in POSE_FIELDS)


def state_names(objects: Sequence[str] = ()) -> tuple[str, ...]:
    """Names of every dim of ``states``: the robot dims, then the object poses of ``objects``."""
    return ROBOT_STATE_NAMES + object_state_names(objects)


class ObjectReadError(RuntimeError):
    """An object of the layout could not be read from the simulator (raised in a worker, sent as a ConfigError)."""
