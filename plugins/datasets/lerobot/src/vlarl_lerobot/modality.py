"""GR00T's ``meta/modality.json``: how a LeRobot dataset's columns split into named state / action groups.

The file (Isaac-GR00T ``LeRobotModalityMetadata``, gr00t/data/schema.py) has four sections:

* ``state`` / ``action``: ``{name: {start, end, original_key?, absolute?, rotation_type?, dtype?, range?}}``;
  a group is ``original_key[start:end]`` (default column ``observation.state`` / ``action``);
* ``video``: ``{name: {original_key?}}`` (default: the name itself), a camera feature;
* ``annotation`` (optional): ``{name: {original_key?}}``, a column of task indices (default: ``annotation.<name>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vlarl.errors import ConfigError
from vlarl_lerobot.layout import MODALITY, Meta, _json

DEFAULT_KEYS = {"state": "observation.state", "action": "action"}
ROTATION_TYPES = (
    "axis_angle", "quaternion", "rotation_6d", "matrix", "euler_angles_rpy", "euler_angles_ryp",
    "euler_angles_pry", "euler_angles_pyr", "euler_angles_yrp", "euler_angles_ypr",
)  # fmt: skip


@dataclass(frozen=True)
class Group:
    name: str
    original_key: str
    start: int
    end: int
    absolute: bool = True
    rotation_type: str | None = None
    dtype: str = "float64"

    @property
    def width(self) -> int:
        return self.end - self.start


@dataclass
class Modality:
    state: list[Group]
    action: list[Group]
    video: dict[str, str]  # group name -> feature key
    annotation: dict[str, str]  # group name -> column of task indices


def _group(kind: str, name: str, raw: Any, meta: Meta, where: str) -> Group:
    if not isinstance(raw, dict) or not isinstance(raw.get("start"), int) or not isinstance(raw.get("end"), int):
        raise ConfigError(f"{where}: {kind}.{name} needs integer 'start' and 'end', got {raw!r}.",
                          'Write it as {"start": 0, "end": 3} (indices into its original_key column).')  # fmt: skip
    key = raw.get("original_key") or DEFAULT_KEYS[kind]
    feature = meta.features.get(key)
    if feature is None:
        raise ConfigError(
            f"{where}: {kind}.{name} reads feature '{key}', which {meta.info_path} does not have "
            f"(features: {sorted(meta.features)}).",
            f"Set {kind}.{name}.original_key in {MODALITY} to one of the dataset's features.",
        )
    width = int(_prod(feature.get("shape", [1])))
    if not 0 <= raw["start"] < raw["end"] <= width:
        raise ConfigError(f"{where}: {kind}.{name} is [{raw['start']}:{raw['end']}] but '{key}' has {width} dims.",
                          f"Use 0 <= start < end <= {width}.")  # fmt: skip
    rot = raw.get("rotation_type")
    if rot is not None and rot not in ROTATION_TYPES:
        raise ConfigError(f"{where}: {kind}.{name}.rotation_type {rot!r} is unknown.", f"Use one of {ROTATION_TYPES}.")
    return Group(name, key, raw["start"], raw["end"], bool(raw.get("absolute", True)), rot,
                 str(raw.get("dtype", "float64")))  # fmt: skip


def _prod(shape: Any) -> int:
    out = 1
    for s in shape if isinstance(shape, (list, tuple)) else [shape]:
        out *= int(s)
    return out


def read_modality(meta: Meta) -> Modality:
    path = meta.root / MODALITY
    if not path.is_file():
        raise ConfigError(
            f"{path} does not exist; dataset.modality=true reads GR00T's modality config from it.",
            "Write meta/modality.json (state/action groups with start/end, video and annotation keys), "
            "or set dataset.modality=false and name the features with dataset.states / actions / images.",
        )
    raw = _json(path)
    for section in ("state", "action", "video"):
        if not isinstance(raw.get(section), dict) or not raw[section]:
            raise ConfigError(f"{path} has no '{section}' section (or it is empty).",
                              f"Add the dataset's {section} groups to it.")  # fmt: skip
    video = {}
    for name, entry in raw["video"].items():
        key = (entry or {}).get("original_key") or name
        if meta.features.get(key, {}).get("dtype") not in ("video", "image"):
            raise ConfigError(
                f"{path}: video.{name} reads feature '{key}', which is not a camera of {meta.info_path} "
                f"(cameras: {[k for k, f in meta.features.items() if f.get('dtype') in ('video', 'image')]}).",
                f"Set video.{name}.original_key in {MODALITY} to a camera feature.",
            )
        video[name] = key
    annotation = {name: (entry or {}).get("original_key") or f"annotation.{name}"
                  for name, entry in (raw.get("annotation") or {}).items()}  # fmt: skip
    return Modality(
        [_group("state", n, g, meta, str(path)) for n, g in raw["state"].items()],
        [_group("action", n, g, meta, str(path)) for n, g in raw["action"].items()],
        video,
        annotation,
    )
