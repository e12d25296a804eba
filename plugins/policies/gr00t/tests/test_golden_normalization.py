"""Golden fixture, normalization: the official Normalizer forward on states and inverse on actions, every mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from golden_io import ATOL, golden_policy, max_diff, reference

MODES = ("min_max", "q99", "mean_std", "binary")


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    return reference()


def test_state_fed_to_the_model(ref: dict[str, np.ndarray]) -> None:
    """Raw env state -> min_max (default) -> zero-padded to max_state_dim, through the policy's input path."""
    policy = golden_policy()
    images = ref["images_uint8"]
    obs = {
        "images": images[:, 0],
        "wrist_images": images[:, 1],
        "states": ref["raw_state"],
        "task_descriptions": ["a", "b"],
    }
    assert max_diff(policy.prepare(obs)["state"], ref["state"][:, 0]) <= ATOL


@pytest.mark.parametrize("mode", MODES)
def test_state_normalization(mode: str, ref: dict[str, np.ndarray]) -> None:
    emb = golden_policy(normalization={"*": mode}).embodiment
    got = emb.normalize_state(ref["norm_state_input"].astype(np.float64))
    assert max_diff(got, ref[f"norm_state_{mode}"]) <= ATOL


@pytest.mark.parametrize("mode", MODES)
def test_action_unnormalization(mode: str, ref: dict[str, np.ndarray]) -> None:
    policy = golden_policy(normalization={"*": mode})
    got = policy.to_env_actions(torch.from_numpy(ref["unnorm_action_input"]))
    assert max_diff(got, ref[f"unnorm_action_{mode}"]) <= ATOL


def test_per_key_modes_as_the_data_configs_set_them(ref: dict[str, np.ndarray]) -> None:
    """Arm min_max, gripper binary (data_config.py style), named by modality.key: column-wise combination."""
    modes = {"state.arm": "min_max", "state.gripper": "binary", "action.arm": "q99", "action.gripper": "binary"}
    policy = golden_policy(normalization=modes)
    state = policy.embodiment.normalize_state(ref["norm_state_input"].astype(np.float64))
    expected = np.concatenate([ref["norm_state_min_max"][:, :4], ref["norm_state_binary"][:, 4:]], axis=1)
    assert max_diff(state, expected) <= ATOL
    actions = policy.to_env_actions(torch.from_numpy(ref["unnorm_action_input"]))
    expected = np.concatenate([ref["unnorm_action_q99"][:, :3], ref["unnorm_action_binary"][:, 3:]], axis=1)
    assert max_diff(actions, expected) <= ATOL
