"""Official-layout checkpoints (written here with the official names, tiny sizes) and vlarl checkpoints."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors import safe_open

from vlarl.errors import ConfigError
from vlarl_openvla_oft.checkpoint import CheckpointError


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_official_names_are_written(official_ckpt):
    index = json.loads((official_ckpt / "model.safetensors.index.json").read_text())
    names = set(index["weight_map"])
    for name in (
        "vision_backbone.featurizer.blocks.0.attn.qkv.weight",
        "vision_backbone.featurizer.blocks.0.ls1.scale_factor",
        "vision_backbone.featurizer.reg_token",
        "vision_backbone.fused_featurizer.attn_pool.latent",
        "projector.fc3.weight",
        "language_model.model.layers.0.self_attn.q_proj.weight",
        "language_model.lm_head.weight",
    ):
        assert name in names, name
    sd = torch.load(next(official_ckpt.glob("action_head--*")), weights_only=True)
    assert "module.model.fc1.weight" in sd and sd["module.model.layer_norm1.weight"].shape == (128 * 7,)


@pytest.mark.slow
def test_official_checkpoint_loads_into_native_model(h, official_ckpt, tiny_l1_policy):
    p = h.build(checkpoint=str(official_ckpt), action_head="l1", unnorm_key="libero_spatial_no_noops", seed=99)
    ref = tiny_l1_policy
    for name, t in ref.model.state_dict().items():
        if not name.startswith("value_head"):
            assert torch.equal(p.model.state_dict()[name], t), name
    out = ref.act(h.make_obs(2))
    assert torch.allclose(p.evaluate(out.replay).log_probs, ref.evaluate(out.replay).log_probs, atol=1e-5)
    det = p.act(h.make_obs(2), deterministic=True)
    st = h.STATS["libero_spatial_no_noops"]["action"]
    lo, hi = torch.tensor(st["q01"][:6]), torch.tensor(st["q99"][:6])
    norm = det.replay["action_samples"]  # the L1 head's output, un-normalized without clamping (official)
    assert torch.allclose(det.actions[..., :6], 0.5 * (norm[..., :6] + 1) * (hi - lo + 1e-8) + lo, atol=1e-6)


def test_unnormalization_uses_selected_statistics(h, official_ckpt):
    p = h.build(checkpoint=str(official_ckpt), unnorm_key="libero_spatial_no_noops")
    a = torch.tensor([[-1.0, 0.0, 1.0, 1.0, -1.0, 0.0, 0.5]])
    got = p.normalizer.unnormalize(a)[0]
    st = h.STATS["libero_spatial_no_noops"]["action"]
    for i in range(6):
        want = 0.5 * (a[0, i] + 1) * (st["q99"][i] - st["q01"][i] + 1e-8) + st["q01"][i]
        assert abs(got[i].item() - want.item()) < 1e-6
    assert got[6].item() == 0.5  # masked dim passes through
    prop = p.normalizer.normalize_proprio(torch.tensor([[0.5] * 8]))
    assert torch.allclose(prop, torch.full((1, 8), 0.5))  # q01=-1, q99=1


@pytest.mark.parametrize("clip", [False, True])
def test_no_clamp_before_unnormalizing_unless_clip_option(h, official_ckpt, clip):
    p = h.build(checkpoint=str(official_ckpt), unnorm_key="libero_spatial_no_noops", clip_normalized_actions=clip)
    a = torch.tensor([[1.5, -1.25, 0.0, 0.0, 0.0, 0.0, 1.5]])  # an L1 head may leave [-1, 1]
    got = p._to_env_units(a)[0]
    x = a[0].clamp(-1, 1) if clip else a[0]
    st = h.STATS["libero_spatial_no_noops"]["action"]
    for i in range(6):
        want = 0.5 * (x[i] + 1) * (st["q99"][i] - st["q01"][i] + 1e-8) + st["q01"][i]
        assert abs(got[i].item() - want.item()) < 1e-6
    assert got[6].item() == x[6].item()  # the masked (gripper) dim passes through; official: unclipped


def test_unknown_or_missing_unnorm_key_lists_present_keys(h, official_ckpt):
    with pytest.raises(ConfigError, match="libero_goal_no_noops, libero_spatial_no_noops"):
        h.build(checkpoint=str(official_ckpt), unnorm_key="bridge_orig")
    with pytest.raises(ConfigError, match="unnorm_key is not set"):
        h.build(checkpoint=str(official_ckpt))


@pytest.mark.parametrize(
    "remove, match",
    [
        ("config.json", "config.json"),
        ("dataset_statistics.json", "dataset_statistics.json"),
        ("model-00002-of-00002.safetensors", "model-00002-of-00002"),
        ("action_head--100_checkpoint.pt", "action_head"),
        ("proprio_projector--100_checkpoint.pt", "proprio_projector"),
    ],
)
def test_missing_file_is_named(h, official_ckpt, tmp_path, remove, match):
    d = _copy(official_ckpt, tmp_path / "c")
    (d / remove).unlink()
    with pytest.raises(CheckpointError, match=match):
        h.build(checkpoint=str(d), action_head="l1", unnorm_key="libero_goal_no_noops")


def test_mismatched_and_missing_tensors_are_listed(h, official_ckpt, tmp_path):
    from safetensors.torch import save_file

    d = _copy(official_ckpt, tmp_path / "c")
    shard = d / "model-00001-of-00002.safetensors"
    with safe_open(str(shard), framework="pt") as fh:
        sd = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    victim = "projector.fc3.weight" if "projector.fc3.weight" in sd else next(k for k in sd if k.endswith("weight"))
    sd[victim] = torch.zeros(3, 5)
    dropped = next(k for k in sorted(sd) if k != victim)
    del sd[dropped]
    save_file(sd, str(shard))
    with pytest.raises(CheckpointError) as err:
        h.build(checkpoint=str(d), action_head="l1", unnorm_key="libero_goal_no_noops")
    msg = str(err.value)
    assert f"{victim}: expected shape" in msg and "found (3, 5)" in msg
    assert f"missing tensor {dropped}" in msg


def test_wrong_option_against_checkpoint_is_a_shape_error(h, official_ckpt):
    with pytest.raises(CheckpointError, match=r"fc1.weight: expected shape \(128, 6\), found \(128, 8\)"):
        h.build(checkpoint=str(official_ckpt), action_head="l1", unnorm_key="libero_goal_no_noops", proprio_dim=6)


@pytest.mark.slow
def test_vlarl_checkpoint_roundtrip_with_lora_and_value_head(h, tmp_path):
    p = h.build(use_lora=True, lora_rank=4, seed=1)
    with torch.no_grad():  # make LoRA and value head non-trivial so the roundtrip is visible
        for n, q in p.named_parameters():
            if "lora_B" in n or n.startswith("model.value_head"):
                q.add_(0.01 * torch.randn_like(q))
    out = p.act(h.make_obs(2))
    ev = p.evaluate(out.replay)
    for trainable_only in (False, True):
        d = p.save_checkpoint(tmp_path / f"v{trainable_only}", trainable_only=trainable_only)
        with safe_open(str(d / "model.safetensors"), framework="pt") as fh:
            keys = list(fh.keys())
        assert any("lora_B" in k for k in keys) and any("value_head" in k for k in keys)
        assert trainable_only != any("embed_tokens.base_layer" in k or "embed_tokens.weight" in k for k in keys)
        seed = 1 if trainable_only else 7  # trainable-only needs the same base weights (same seed / checkpoint)
        q = h.build(use_lora=True, lora_rank=4, seed=seed, vlarl_checkpoint=str(d))
        ev2 = q.evaluate(out.replay)
        assert torch.allclose(ev2.log_probs, ev.log_probs, atol=1e-5)
        assert torch.allclose(ev2.values, ev.values, atol=1e-6)


def test_vlarl_checkpoint_mismatch_is_reported(h, tmp_path):
    d = h.build(use_lora=True, lora_rank=4).save_checkpoint(tmp_path / "v", trainable_only=True)
    with pytest.raises(CheckpointError, match="lora_A"):
        h.build(use_lora=True, lora_rank=8, vlarl_checkpoint=str(d))
