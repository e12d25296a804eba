"""Embodiments: which cameras, state and action keys a GR00T checkpoint expects, and their statistics.

Read from the checkpoint's ``experiment_cfg/metadata.json`` (one entry per
embodiment tag: ``modalities`` with ``video``/``state``/``action`` keys and
shapes, ``statistics`` with per-key min/max/mean/std/q01/q99). Embodiment ids
are data (a dict), never an enum: users add tags through the policy config
(``embodiments``) or through the ``vlarl_gr00t_embodiments`` plugin hook.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vlarl.errors import ConfigError
from vlarl_gr00t import normalization

# Embodiment tag -> projector slot: EMBODIMENT_TAG_MAPPING of gr00t/data/embodiment_tags.py @ 4af2b622, exactly.
OFFICIAL_EMBODIMENT_IDS: dict[str, int] = {
    "new_embodiment": 31,
    "oxe_droid": 17,
    "agibot_genie1": 26,
    "gr1": 24,
}

# The seeds' framework (RLinf @ a3816b59, rlinf/models/embodiment/gr00t/embodiment_tags.py) patches that table
# for its own checkpoints; note it moves new_embodiment to 10. Chosen with embodiment_table: rlinf.
RLINF_EMBODIMENT_IDS: dict[str, int] = {
    "libero_panda": 2,
    "robocasa_panda_omron": 13,
    "libero_franka": 31,
    "oxe_droid": 17,
    "agibot_genie1": 26,
    "gr1": 24,
    "maniskill_widowx": 30,
    "isaaclab_franka": 31,
    "new_embodiment": 10,
}

EMBODIMENT_TABLES: dict[str, dict[str, int]] = {"official": OFFICIAL_EMBODIMENT_IDS, "rlinf": RLINF_EMBODIMENT_IDS}

NORM_MODES = normalization.MODES


@dataclass
class KeyStats:
    width: int
    mode: str = "min_max"
    stats: dict[str, np.ndarray] = field(default_factory=dict)

    def normalize(self, x: np.ndarray) -> np.ndarray:
        return normalization.normalize(x, self.mode, self.stats)

    def unnormalize(self, x: np.ndarray) -> np.ndarray:
        return normalization.unnormalize(x, self.mode, self.stats)


@dataclass
class Embodiment:
    tag: str
    embodiment_id: int
    video_keys: list[str]
    state: dict[str, KeyStats]
    action: dict[str, KeyStats]

    @property
    def state_dim(self) -> int:
        return sum(k.width for k in self.state.values())

    @property
    def action_dim(self) -> int:
        return sum(k.width for k in self.action.values())

    def normalize_state(self, states: np.ndarray) -> np.ndarray:
        return _apply(states, self.state, "normalize")

    def normalize_action(self, actions: np.ndarray) -> np.ndarray:
        """Env-unit actions -> model units, key by key (the training transform's StateActionTransform.apply)."""
        return _apply(actions, self.action, "normalize")

    def unnormalize_action(self, actions: np.ndarray) -> np.ndarray:
        return _apply(actions, self.action, "unnormalize")


def _apply(x: np.ndarray, keys: dict[str, KeyStats], fn: str) -> np.ndarray:
    out, start = np.empty_like(x, dtype=np.float32), 0
    for ks in keys.values():
        out[..., start : start + ks.width] = getattr(ks, fn)(x[..., start : start + ks.width].astype(np.float64))
        start += ks.width
    return out


def _width(info: Any, stats: dict[str, Any] | None, where: str) -> int:
    if isinstance(info, dict) and "shape" in info:
        shape = info["shape"]
        return int(np.prod(shape)) if isinstance(shape, (list, tuple)) else int(shape)
    if stats and "max" in stats:
        return len(stats["max"])
    raise ConfigError(
        f"{where} has neither a 'shape' nor statistics to tell its width.", 'Add "shape": [n] to it in metadata.json.'
    )


def _keys(entry: dict[str, Any], modality: str, modes: dict[str, str], tag: str) -> dict[str, KeyStats]:
    mods = entry.get("modalities", {}).get(modality, {})
    stats = entry.get("statistics", {}).get(modality, {})
    out: dict[str, KeyStats] = {}
    for key in mods or stats:
        key_stats = normalization.as_stats(stats.get(key) or {})
        mode = next((modes[k] for k in (f"{modality}.{key}", key, f"{modality}.*", "*") if k in modes), "min_max")
        where = f"{tag}.{modality}.{key}"
        if mode not in NORM_MODES:
            raise ConfigError(
                f"Normalization '{mode}' for {where} is unknown.", f"Use one of: {', '.join(NORM_MODES)}."
            )
        info = mods.get(key) if isinstance(mods.get(key), dict) else {}
        if info.get("continuous") is False and mode != "binary":
            raise ConfigError(
                f"metadata.json marks {where} as not continuous; the official transform then allows only 'binary' "
                f"normalization, not '{mode}'.",
                f"Set policy.normalization.{key}: binary.",
            )
        missing = [n for n in normalization.NEEDS[mode] if n not in key_stats]
        if missing:
            raise ConfigError(
                f"metadata.json: {tag}.statistics.{modality}.{key} lacks {missing} needed for '{mode}' normalization.",
                "Regenerate metadata.json with the dataset statistics, or choose another normalization mode.",
            )
        out[key] = KeyStats(_width(mods.get(key), stats.get(key), where), mode, key_stats)
    return out


def parse_entry(
    tag: str,
    entry: dict[str, Any],
    embodiment_id: int | None = None,
    norm_modes: dict[str, str] | None = None,
    table: str = "official",
) -> Embodiment:
    """One metadata.json entry (or a user-given dict of the same shape) -> Embodiment.

    The projector slot is, in order: ``embodiment_id`` (policy.embodiment_ids), the entry's own
    ``embodiment_id`` (vlarl's extension; official metadata has none), the tag's slot in ``table``.
    """
    if table not in EMBODIMENT_TABLES:
        raise ConfigError(f"Unknown embodiment_table '{table}'.", f"Use one of: {', '.join(EMBODIMENT_TABLES)}.")
    eid = embodiment_id if embodiment_id is not None else entry.get("embodiment_id")
    if eid is None:
        eid = EMBODIMENT_TABLES[table].get(tag)
    if eid is None:
        raise ConfigError(
            f"Embodiment '{tag}' has no embodiment id (projector slot).",
            "Give it one: policy.embodiment_ids: {"
            + tag
            + ": <slot>} (0..max_num_embodiments-1), or 'embodiment_id' in its entry.",
        )
    modes = norm_modes or {}
    video = list(entry.get("modalities", {}).get("video", {}))
    emb = Embodiment(tag, int(eid), video, _keys(entry, "state", modes, tag), _keys(entry, "action", modes, tag))
    if not emb.action:
        raise ConfigError(
            f"Embodiment '{tag}' declares no action keys.",
            "List the action keys with their shapes under modalities.action.",
        )
    return emb


def read_metadata(path: str | Path) -> dict[str, dict[str, Any]]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(
            f"{p} does not exist; GR00T needs the modality config and statistics of its fine-tuning data.",
            "Use a fine-tuned checkpoint (it ships experiment_cfg/metadata.json), or describe the embodiment in policy.embodiments.",
        )
    data = json.loads(p.read_text())
    if not isinstance(data, dict):
        raise ConfigError(
            f"{p} is not a JSON object keyed by embodiment tag.", "Restore the checkpoint's metadata.json."
        )
    return data


def resolve(
    tag: str,
    sources: dict[str, dict[str, Any]],
    ids: dict[str, int] | None = None,
    norm_modes: dict[str, str] | None = None,
    table: str = "official",
) -> Embodiment:
    """Pick ``tag`` from metadata/config/hook entries, with a clear error that lists what is present."""
    if tag not in sources:
        present = ", ".join(sorted(sources)) or "(none)"
        raise ConfigError(
            f"Embodiment tag '{tag}' is not in the checkpoint's metadata.json nor in policy.embodiments; present: {present}.",
            "Set policy.embodiment_tag to one of the present tags, or add the embodiment under policy.embodiments "
            "(modalities + statistics) or through the vlarl_gr00t_embodiments hook.",
        )
    return parse_entry(tag, sources[tag], (ids or {}).get(tag), norm_modes, table)
