"""Embodiment entries: widths, normalization modes, projector slots."""

from __future__ import annotations

import numpy as np
import pytest
from gr00t_fixtures import libero_entry

from vlarl.errors import ConfigError
from vlarl_gr00t.embodiment import parse_entry


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


def test_known_tag_gets_upstream_slot_and_unknown_needs_one() -> None:
    assert parse_entry("new_embodiment", libero_entry(embodiment_id=None)).embodiment_id == 31
    assert parse_entry("my_arm", libero_entry(embodiment_id=None), embodiment_id=3).embodiment_id == 3
    with pytest.raises(ConfigError, match="embodiment_ids"):
        parse_entry("my_arm", libero_entry(embodiment_id=None))


def test_missing_statistics_are_named() -> None:
    entry = libero_entry()
    del entry["statistics"]["action"]["action.rot"]["q99"]
    with pytest.raises(ConfigError, match=r"statistics\.action\.action\.rot lacks \['q99'\]"):
        parse_entry("libero_franka", entry, norm_modes={"*": "q99"})
