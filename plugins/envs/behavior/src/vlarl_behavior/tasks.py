"""Activities: name validation, natural-language descriptions, cached task-instance files."""

from __future__ import annotations

import difflib
import importlib.util
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from vlarl.errors import ConfigError

# The 50 activities of the 2025 BEHAVIOR challenge, in task-index order (TASK_NAMES_TO_INDICES of BEHAVIOR-1K).
CHALLENGE_ACTIVITIES: tuple[str, ...] = (
    "turning_on_radio", "picking_up_trash", "putting_away_Halloween_decorations", "cleaning_up_plates_and_food",
    "can_meat", "setting_mousetraps", "hiding_Easter_eggs", "picking_up_toys", "rearranging_kitchen_furniture",
    "putting_up_Christmas_decorations_inside", "set_up_a_coffee_station_in_your_kitchen",
    "putting_dishes_away_after_cleaning", "preparing_lunch_box", "loading_the_car", "carrying_in_groceries",
    "bringing_in_wood", "moving_boxes_to_storage", "bringing_water", "tidying_bedroom", "outfit_a_basic_toolbox",
    "sorting_vegetables", "collecting_childrens_toys", "putting_shoes_on_rack", "boxing_books_up_for_storage",
    "storing_food", "clearing_food_from_table_into_fridge", "assembling_gift_baskets", "sorting_household_items",
    "getting_organized_for_work", "clean_up_your_desk", "setting_the_fire", "clean_boxing_gloves",
    "wash_a_baseball_cap", "wash_dog_toys", "hanging_pictures", "attach_a_camera_to_a_tripod", "clean_a_patio",
    "clean_a_trumpet", "spraying_for_bugs", "spraying_fruit_trees", "make_microwave_popcorn", "cook_cabbage",
    "chop_an_onion", "slicing_vegetables", "chopping_wood", "cook_hot_dogs", "cook_bacon", "freeze_pies",
    "canning_food", "make_pizza",
)  # fmt: skip

# Our own short instructions for a handful of them (the BDDL goal conditions, said in plain words).
# The full set comes from the challenge's tasks.jsonl when it is found (see ``describe``).
DESCRIPTIONS: dict[str, str] = {
    "turning_on_radio": "Switch on the radio sitting on the living-room table.",
    "picking_up_trash": "Collect the three soda cans in the living room and drop them into the kitchen trash can.",
    "hanging_pictures": "Take the poster from the kitchen counter and hang it on a nail on the kitchen wall.",
    "attach_a_camera_to_a_tripod": "Mount the digital camera on the tripod in the bedroom.",
    "bringing_water": (
        "Take the two bottles out of the kitchen fridge, set both on the living-room coffee table, "
        "and leave the fridge closed."
    ),
    "tidying_bedroom": "Put the book from the bed on a nightstand and set the two sandals next to each other by the bed.",
    "cook_hot_dogs": "Get the two hot dogs from the kitchen fridge and heat them in the microwave until cooked.",
    "make_microwave_popcorn": "Put the popcorn bag from the kitchen counter in the microwave and cook it.",
}

INSTANCES_DIR = "2025-challenge-task-instances"
# Where the challenge ships its language annotations, relative to OMNIGIBSON_DATA_PATH (first found wins).
DESCRIPTION_FILES = (
    f"{INSTANCES_DIR}/metadata/tasks.jsonl",
    "2025-challenge-demos/meta/tasks.jsonl",
)


def known_activities() -> set[str]:
    """The challenge activities, plus every BDDL activity definition when ``bddl`` is installed."""
    names = set(CHALLENGE_ACTIVITIES)
    spec = importlib.util.find_spec("bddl")
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            defs = Path(root) / "activity_definitions"
            if defs.is_dir():
                names.update(p.name for p in defs.iterdir() if p.is_dir())
    return names


def check_activity(name: str) -> None:
    known = known_activities()
    if name in known:
        return
    close = difflib.get_close_matches(name, sorted(known), n=5, cutoff=0.5)
    hint = f"Did you mean: {', '.join(close)}? " if close else ""
    raise ConfigError(
        f"Unknown BEHAVIOR activity env.activity_name={name!r}.",
        f"{hint}Use one of the 50 challenge activities (e.g. {', '.join(CHALLENGE_ACTIVITIES[:3])}) "
        "or install bddl (pip install 'vlarl-behavior[bddl]') for the full BEHAVIOR-1K list.",
    )


def _read_jsonl(path: Path) -> dict[str, str]:
    table: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            table[str(row["task_name"])] = str(row["task"])
    return table


def describe(activity: str, override: str = "", descriptions_file: str = "", data_path: str | None = None) -> str:
    """The instruction: override, then a user JSONL, the dataset's JSONL, our table, the humanised name."""
    if override:
        return override
    files = [Path(descriptions_file)] if descriptions_file else []
    if descriptions_file and not files[0].is_file():
        raise ConfigError(
            f"env.task_descriptions_file={descriptions_file!r} does not exist.",
            'Point it at a JSONL file of {"task_name": ..., "task": ...} lines, or leave it empty.',
        )
    root = data_path or os.environ.get("OMNIGIBSON_DATA_PATH")
    if root:
        files += [Path(root) / rel for rel in DESCRIPTION_FILES]
    for path in files:
        if path.is_file():
            table = _read_jsonl(path)
            if activity in table:
                return table[activity]
    if activity in DESCRIPTIONS:
        return DESCRIPTIONS[activity]
    return activity.replace("_", " ").strip().capitalize() + "."


@dataclass(frozen=True)
class InstanceFile:
    scene_model: str
    instance_id: int
    path: Path


_INSTANCE_RE = re.compile(r"_(\d+)_(\d+)_template-tro_state\.json$")


def find_instances(data_path: str, activity: str, definition_id: int, scene_model: str | None) -> list[InstanceFile]:
    """Cached instances under ``<data>/2025-challenge-task-instances/scenes/<scene>/json/<scene>_task_<act>_instances``."""
    scenes = Path(data_path) / INSTANCES_DIR / "scenes"
    pattern = f"{scene_model or '*'}/json/*_task_{activity}_instances/*_template-tro_state.json"
    found = []
    for path in sorted(scenes.glob(pattern)):
        match = _INSTANCE_RE.search(path.name)
        scene = path.parent.parent.parent.name
        prefix = f"{scene}_task_{activity}_"
        if match and path.name.startswith(prefix) and int(match.group(1)) == definition_id:
            found.append(InstanceFile(scene, int(match.group(2)), path))
    return found


def resolve_instances(
    data_path: str, activity: str, definition_id: int, scene_model: str | None, wanted: list[int]
) -> tuple[str, dict[int, Path]]:
    """Check the requested instance ids are on disk; return the scene model and id -> file."""
    if not wanted:
        raise ConfigError(
            "env.instance_ids is empty.", "List at least one task instance id, e.g. env.instance_ids=[0]."
        )
    found = find_instances(data_path, activity, definition_id, scene_model)
    fix_download = (
        "Download them with python -c 'from omnigibson.utils.asset_utils import "
        "download_2025_challenge_task_instances; download_2025_challenge_task_instances()' "
        "into OMNIGIBSON_DATA_PATH."
    )
    where = Path(data_path) / INSTANCES_DIR / "scenes"
    if not found:
        raise ConfigError(
            f"No cached task instances of '{activity}' (definition {definition_id}"
            f"{', scene ' + scene_model if scene_model else ''}) under {where}.",
            fix_download,
        )
    scenes = sorted({f.scene_model for f in found})
    if len(scenes) > 1:
        raise ConfigError(
            f"Task instances of '{activity}' exist for several scenes: {', '.join(scenes)}.",
            f"Pick one with env.scene_model (e.g. env.scene_model={scenes[0]}).",
        )
    by_id = {f.instance_id: f.path for f in found}
    missing = [i for i in wanted if i not in by_id]
    if missing:
        raise ConfigError(
            f"Task instance id(s) {missing} of '{activity}' are not under {where / scenes[0]}; "
            f"available: {sorted(by_id)[:20]}{' ...' if len(by_id) > 20 else ''}.",
            f"Choose env.instance_ids among the available ids. {fix_download}",
        )
    return scenes[0], {i: by_id[i] for i in wanted}
