"""The golden checkpoint through the contract, and the options that move away from the official defaults."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from golden_io import golden_policy, golden_replay, reference
from gr00t_fixtures import fixed_draw

from vlarl.contracts.spaces import ObservationSpec

OBS_SPEC = ObservationSpec(states=(5,), images=(3, 28, 28), wrist_images=(3, 28, 28))


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    return reference()


def _obs(ref: dict[str, np.ndarray]) -> dict[str, Any]:
    imgs = ref["images_uint8"]
    return {
        "images": imgs[:, 0],
        "wrist_images": imgs[:, 1],
        "states": ref["raw_state"],
        "task_descriptions": ["a", "b"],
    }


def test_conformance_kit_on_the_official_checkpoint(
    ref: dict[str, np.ndarray], vlarl_check_policy: Callable[..., Any]
) -> None:
    vlarl_check_policy(lambda: fixed_draw(golden_policy()), OBS_SPEC, obs=_obs(ref), name="gr00t-golden")


def test_defaults_execute_the_whole_horizon(ref: dict[str, np.ndarray]) -> None:
    out = golden_policy().act(_obs(ref))
    assert out.actions.shape == (2, 4, 4) and out.replay["chain"].shape == (2, 7, 4, 6)


def test_denoising_steps_overrides_the_checkpoint() -> None:
    assert golden_policy(denoising_steps=4).num_steps == 4


def _sample1_velocity(policy: Any, replay: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return policy.velocity(x, torch.full((x.shape[0],), 1), policy.encode(replay))[0][-1]


def test_vl_padding_mask_equals_the_unpadded_prompt(ref: dict[str, np.ndarray]) -> None:
    """Masked, the padded row acts as if its 3 padding tokens were absent; unmasked (official), they count."""
    replay = golden_replay(ref)
    n = int(replay["attention_mask"][1].sum())
    alone = {k: v[1:] for k, v in replay.items()}
    alone["input_ids"], alone["attention_mask"] = alone["input_ids"][:, :n], alone["attention_mask"][:, :n]
    x = torch.from_numpy(ref["denoise_chain"][1])
    masked, official = golden_policy(vl_padding_mask=True), golden_policy()
    unpadded = _sample1_velocity(official, alone, x[1:])
    torch.testing.assert_close(_sample1_velocity(masked, replay, x), unpadded, atol=1e-5, rtol=0)
    assert float((_sample1_velocity(official, replay, x) - unpadded).abs().max()) > 1e-3
