"""Embodiment entries: widths, normalization modes, projector slots."""

from __future__ import annotations

import numpy as np
import pytest
from gr00t_fixtures import libero_entry

from vlarl.errors import ConfigError
from vlarl_gr00t.embodiment import OFFICIAL_EMBODIMENT_IDS, parse_entry


@pytest.mark.parametrize("mode", ["min_max", "q99", "mean_std"])
def test_state_normalization_and_action_unnormalization(mode: str) -> None:
    emb = parse_entry("libero_franka", libero_entry(), norm_modes={"*": mode})
    assert (emb.state_dim, emb.action_dim, emb.video_keys) == (8, 7, ["video.image", "video.wrist_image"])
    stats = libero_entry()["statistics"]["action"]
    keys = ["action.x", "action.rot", "action.gripper"]
    lo_key, hi_key = {"min_max": ("min", "max"), "q99": ("q01", "q99"), "mean_std": ("mean", "std")}[mode]
    a = np.concatenate([stats[k][lo_key] for k in keys])
    b = np.concatenate([stats[k][hi_key] for k in keys])
    z = np.linspace(-0.9, 0.9, 7)
    expected = z * b + a if mode == "mean_std" else (z + 1) / 2 * (b - a) + a
    np.testing.assert_allclose(emb.unnormalize_action(z), expected, rtol=1e-6)
    s = libero_entry()["statistics"]["state"]
    lo = np.concatenate([s[k][lo_key] for k in ("state.x", "state.rot", "state.gripper")])
    hi = np.concatenate([s[k][hi_key] for k in ("state.x", "state.rot", "state.gripper")])
    x = (lo + hi) / 2 if mode != "mean_std" else lo + 0.5 * hi
    expected_state = np.zeros(8) if mode != "mean_std" else np.full(8, 0.5)
    np.testing.assert_allclose(emb.normalize_state(x), expected_state, atol=1e-6)


def test_official_embodiment_table() -> None:
    # gr00t/data/embodiment_tags.py EMBODIMENT_TAG_MAPPING @ 4af2b622, exactly.
    assert OFFICIAL_EMBODIMENT_IDS == {"new_embodiment": 31, "oxe_droid": 17, "agibot_genie1": 26, "gr1": 24}
    assert parse_entry("new_embodiment", libero_entry(embodiment_id=None)).embodiment_id == 31
    with pytest.raises(ConfigError, match="embodiment_ids"):
        parse_entry("libero_franka", libero_entry(embodiment_id=None))  # not an official tag


def test_rlinf_table_is_one_setting_away() -> None:
    # RLinf @ a3816b59 rlinf/models/embodiment/gr00t/embodiment_tags.py: libero_franka 31, new_embodiment 10.
    assert parse_entry("libero_franka", libero_entry(embodiment_id=None), table="rlinf").embodiment_id == 31
    assert parse_entry("new_embodiment", libero_entry(embodiment_id=None), table="rlinf").embodiment_id == 10


def test_slot_precedence() -> None:
    assert parse_entry("my_arm", libero_entry(embodiment_id=None), embodiment_id=3).embodiment_id == 3
    assert parse_entry("my_arm", libero_entry(embodiment_id=5), embodiment_id=3).embodiment_id == 3  # config wins
    assert parse_entry("new_embodiment", libero_entry(embodiment_id=5)).embodiment_id == 5


def test_not_continuous_keys_take_binary_only() -> None:
    entry = libero_entry()
    entry["modalities"]["action"]["action.gripper"]["continuous"] = False
    with pytest.raises(ConfigError, match="only 'binary'"):
        parse_entry("libero_franka", entry)
    emb = parse_entry("libero_franka", entry, norm_modes={"action.gripper": "binary"})
    assert emb.unnormalize_action(np.array([0, 0, 0, 0, 0, 0, 0.7]))[-1] == 1.0


def test_missing_statistics_are_named() -> None:
    entry = libero_entry()
    del entry["statistics"]["action"]["action.rot"]["q99"]
    with pytest.raises(ConfigError, match=r"statistics\.action\.action\.rot lacks \['q99'\]"):
        parse_entry("libero_franka", entry, norm_modes={"*": "q99"})
