"""Golden fixture, VL and state side: the official outputs up to the DiT's inputs, at the plugin defaults."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from golden_io import ATOL, golden_policy, golden_replay, max_diff, reference

from vlarl_gr00t.images import pixel_values
from vlarl_gr00t.policy import Gr00tPolicy


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    return reference()


@pytest.fixture(scope="module")
def policy() -> Gr00tPolicy:
    return golden_policy()


@pytest.fixture(scope="module")
def enc(policy: Gr00tPolicy, ref: dict[str, np.ndarray]) -> dict:
    with torch.no_grad():
        return policy.encode(golden_replay(ref))


def test_eagle_cfg_of_the_checkpoint_is_honoured(policy: Gr00tPolicy) -> None:
    eagle = policy.model.backbone.eagle_model
    # eagle_cfg: image 28, patch 14, no pixel shuffle -> 2 x 2 image tokens; <IMG_CONTEXT> is id 31.
    assert (eagle.image_size, eagle.num_image_token, eagle.image_token_index) == (28, 4, 31)
    assert len(eagle.language_model.model.layers) == 2  # select_layer 2 of 3


def test_embodiment_slot_is_the_official_one(policy: Gr00tPolicy, ref: dict[str, np.ndarray]) -> None:
    assert policy.embodiment.tag == "new_embodiment"
    assert [policy.embodiment.embodiment_id] * 2 == ref["embodiment_id"].tolist()


def test_pixel_values(ref: dict[str, np.ndarray]) -> None:
    got = pixel_values(torch.from_numpy(ref["images_uint8"]), torch.float32)
    assert max_diff(got, ref["pixel_values"]) <= 1e-6


def test_backbone_features(enc: dict, ref: dict[str, np.ndarray]) -> None:
    assert max_diff(enc["vl"], ref["backbone_features"]) <= ATOL


def test_vlln_out(policy: Gr00tPolicy, ref: dict[str, np.ndarray]) -> None:
    with torch.no_grad():
        got = policy.model.action_head.vlln(torch.from_numpy(ref["backbone_features"]))
    assert max_diff(got, ref["vlln_out"]) <= ATOL


def test_vl_self_attention_out_takes_padding_in(enc: dict, ref: dict[str, np.ndarray]) -> None:
    # Sample 1 is right-padded; the official head attends over its padded positions too.
    assert max_diff(enc["context"], ref["vl_self_attention_out"]) <= ATOL


def test_state_features(enc: dict, ref: dict[str, np.ndarray]) -> None:
    assert max_diff(enc["state_features"], ref["state_features"]) <= ATOL
