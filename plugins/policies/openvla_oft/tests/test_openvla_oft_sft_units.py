"""Pieces of the supervised stage: action tokens, targets, LoRA as finetune.py configures it, bad batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlarl.contracts.dataset import DemoBatch
from vlarl.errors import ContractError
from vlarl_openvla_oft.stats import Normalizer
from vlarl_openvla_oft.supervised import IGNORE_INDEX, action_token_ids, discrete_labels


def test_action_tokens_are_np_digitize_of_the_official_bins():
    bins = np.linspace(-1, 1, 256)
    edges = np.concatenate([bins, (bins[:-1] + bins[1:]) / 2, [-1.5, 1.5, 0.0, -1e-9, 1e-9]]).astype(np.float32)
    got = action_token_ids(torch.from_numpy(edges), 32000, 256).numpy()
    want = 32000 - np.digitize(np.clip(edges, -1, 1), bins)
    assert np.array_equal(got, want)
    assert got.min() == 32000 - 256 and got.max() == 32000 - 1  # the last 256 ids: +1 -> 31744, -1 -> 31999


def test_tokens_decode_back_to_their_bin(h):
    """Round trip through the plugin's (official) decoding: every target lands in the bin it came from."""
    p = h.build()
    x = torch.linspace(-0.999, 0.999, 1001)
    ids = action_token_ids(x, p.model.vocab_size, 256)
    decoded = p._tokens_to_normalized(ids - (p.model.vocab_size - 256))
    assert (decoded - x).abs().max() <= 1 / 255 + 1e-6  # within half a bin width (2 / 255 / 2)


def test_labels_ignore_padded_steps_and_end_with_the_stop_token():
    ids = torch.arange(2 * 3 * 2).reshape(2, 3, 2) + 100
    mask = torch.tensor([[True, True, False], [True, True, True]])
    labels = discrete_labels(ids, mask)
    assert labels.shape == (2, 7)
    assert labels[0].tolist() == [100, 101, 102, 103, IGNORE_INDEX, IGNORE_INDEX, 2]
    assert labels[1].tolist() == [106, 107, 108, 109, 110, 111, 2]


def test_targets_invert_the_un_normalization(h):
    stats = h.STATS["libero_spatial_no_noops"]
    n = Normalizer(stats, np.full(7, -1, np.float32), np.ones(7, np.float32))
    x = torch.rand(50, 7) * 2 - 1
    x[:, 6] = torch.rand(50)  # the gripper dim is not normalized (mask False)
    assert torch.allclose(n.normalize_actions(n.unnormalize(x)), x, atol=1e-5)
    far = n.normalize_actions(torch.full((1, 7), 9.0))
    assert far[0, :6].eq(1).all() and far[0, 6] == 9.0  # clipped inside the mask, passed through outside


def test_constant_dims_become_zero_as_in_the_rlds_pipeline():
    stats = {"action": {"q01": [0.0, -1.0], "q99": [0.0, 1.0], "min": [0.0, -1.0], "max": [0.0, 1.0]},
             "proprio": {"q01": [1.0, -1.0], "q99": [1.0, 1.0], "min": [1.0, -1.0], "max": [1.0, 1.0]}}  # fmt: skip
    n = Normalizer(stats, np.full(2, -1, np.float32), np.ones(2, np.float32))
    assert n.normalize_actions(torch.tensor([[0.0, 0.5]])).tolist() == [[0.0, 0.5]]
    p = torch.tensor([[1.0, 3.0]])
    assert n.normalize_proprio(p, train=True).tolist() == [[0.0, 1.0]]  # training: constant dim -> 0
    assert n.normalize_proprio(p).tolist() == [[-1.0, 1.0]]  # eval's normalize_proprio: no such rule


def test_openvla_gripper_targets_are_the_dataset_gripper(h):
    """open_positive +1 (open) -> 1, -1 (close) -> 0: the [0, 1] gripper OpenVLA trains on (LIBERO's
    ``1 - clip(g, 0, 1)`` of its close_positive actions); ``_to_env_units`` maps it back."""
    p = h.build(gripper_postprocess="openvla")
    a = torch.zeros(2, 8, 7)
    a[0, :, 6], a[1, :, 6] = 1.0, -1.0
    norm = p._to_normalized(a)
    assert norm[0, :, 6].eq(1).all() and norm[1, :, 6].eq(0).all()
    assert torch.equal(p._to_env_units(norm)[..., 6], a[..., 6])


@pytest.mark.parametrize("rank", [8, 32])
def test_lora_is_configured_as_finetune_py(h, rank):
    """finetune.py: LoraConfig(r, lora_alpha=min(r, 16), lora_dropout=0.0, target_modules="all-linear",
    init_lora_weights="gaussian"): A ~ N(0, 1/r), B = 0, every Linear of the VLM but lm_head."""
    from peft.tuners.lora import LoraLayer

    p = h.build(use_lora=True, lora_rank=rank)
    layers = {n: m for n, m in p.named_modules() if isinstance(m, LoraLayer)}
    linear = [n for n, m in p.model.named_modules() if isinstance(m, torch.nn.Linear) and "lora_" not in n]
    vlm = [n for n in linear if n.startswith(("vision_backbone.", "projector.", "language_model.model."))]
    assert {n.removeprefix("model.") for n in layers} == {n.removesuffix(".base_layer") for n in vlm}
    assert not any("lm_head" in n or "action_head" in n or "value_head" in n for n in layers)
    layer = next(iter(layers.values()))
    assert layer.r["default"] == rank and layer.scaling["default"] == min(rank, 16) / rank
    assert isinstance(layer.lora_dropout["default"], torch.nn.Identity)  # dropout 0.0
    a = torch.cat([m.lora_A["default"].weight.flatten() for m in layers.values()])
    assert abs(a.std().item() - 1 / rank) < 0.1 / rank and abs(a.mean().item()) < 0.05 / rank
    assert all(m.lora_B["default"].weight.eq(0).all() for m in layers.values())


def test_bad_chunk_shapes_are_named_before_any_forward(h):
    p = h.build()
    obs = h.make_obs(2)
    with pytest.raises(ContractError, match=r"chunks of \(8, 7\)"):
        p.supervised_loss(DemoBatch(obs, np.zeros((2, 4, 7), np.float32), np.ones((2, 4), bool)))


def test_tiny_preset_losses_are_finite_and_reach_the_heads(h):
    for head in ("discrete", "l1"):
        p = h.build(action_head=head)
        acts = (np.random.default_rng(0).uniform(-1, 1, (2, 8, 7))).astype(np.float32)
        out = p.supervised_loss(DemoBatch(h.make_obs(2), acts, np.ones((2, 8), bool)))
        out.loss.backward()
        assert torch.isfinite(out.loss) and out.metrics
        grads = {n for n, q in p.named_parameters() if q.grad is not None and q.grad.abs().sum() > 0}
        assert any(n.startswith("model.proprio_projector") for n in grads)  # proprio through the projector
        if head == "l1":
            assert any(n.startswith("model.action_head") for n in grads)
        assert not any(n.startswith("model.value_head") for n in grads)  # no value target in SFT
