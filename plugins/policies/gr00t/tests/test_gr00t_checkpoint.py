"""Checkpoints in the official GR00T-N1.5 layout: round trip, precise errors, official names, 3b sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from gr00t_fixtures import libero_entry, make_obs, tiny_config
from safetensors.torch import load_file, save_file

from vlarl.errors import ConfigError
from vlarl_gr00t.checkpoint import save_checkpoint
from vlarl_gr00t.model import build_on_meta, count_parameters
from vlarl_gr00t.model_config import preset
from vlarl_gr00t.policy import build_policy

# Parameter names as they appear in the official N1.5 checkpoint (read from upstream's module tree).
OFFICIAL_NAMES = [
    "backbone.eagle_model.vision_model.vision_model.embeddings.patch_embedding.weight",
    "backbone.eagle_model.vision_model.vision_model.encoder.layers.0.self_attn.q_proj.weight",
    "backbone.eagle_model.vision_model.vision_model.post_layernorm.weight",
    "backbone.eagle_model.mlp1.0.weight",
    "backbone.eagle_model.language_model.model.embed_tokens.weight",
    "backbone.eagle_model.language_model.model.layers.0.self_attn.q_norm.weight",
    "backbone.eagle_model.language_model.model.norm.weight",
    "action_head.model.timestep_encoder.timestep_embedder.linear_1.weight",
    "action_head.model.transformer_blocks.0.norm1.linear.weight",
    "action_head.model.transformer_blocks.0.attn1.to_k.weight",
    "action_head.model.transformer_blocks.0.attn1.to_out.0.weight",
    "action_head.model.transformer_blocks.0.ff.net.0.proj.weight",
    "action_head.model.transformer_blocks.0.ff.net.2.weight",
    "action_head.model.proj_out_1.weight",
    "action_head.model.proj_out_2.weight",
    "action_head.state_encoder.layer1.W",
    "action_head.state_encoder.layer2.b",
    "action_head.action_encoder.W1.W",
    "action_head.action_encoder.W2.W",
    "action_head.action_encoder.W3.b",
    "action_head.action_decoder.layer2.W",
    "action_head.future_tokens.weight",
    "action_head.vlln.weight",
    "action_head.vl_self_attention.transformer_blocks.0.norm1.weight",
    "action_head.position_embedding.weight",
]


def _write(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(1)
    src = build_policy(tiny_config(), use_hooks=False)
    ckpt = save_checkpoint(src.model, preset("tiny"), {"libero_franka": libero_entry()}, tmp_path / "ckpt")
    return ckpt, src


def _from_ckpt(ckpt: Path, **kw):
    return build_policy(tiny_config(checkpoint_path=str(ckpt), embodiments={}, **kw), use_hooks=False)


def test_round_trip_loads_every_tensor(tmp_path: Path) -> None:
    ckpt, src = _write(tmp_path)
    assert (ckpt / "config.json").is_file() and (ckpt / "experiment_cfg" / "metadata.json").is_file()
    torch.manual_seed(99)  # different init: everything must come from the file
    dst = _from_ckpt(ckpt)
    for key, value in src.model.state_dict().items():
        assert torch.equal(value, dst.model.state_dict()[key]), key
    obs = make_obs(2)
    assert torch.allclose(src.act(obs, deterministic=True).actions, dst.act(obs, deterministic=True).actions, atol=1e-6)


def test_official_parameter_names(tmp_path: Path) -> None:
    ckpt, _ = _write(tmp_path)
    names = set(load_file(str(ckpt / "model.safetensors")))
    assert [n for n in OFFICIAL_NAMES if n not in names] == []


def test_missing_and_mismatched_tensors_are_named(tmp_path: Path) -> None:
    ckpt, _ = _write(tmp_path)
    file = ckpt / "model.safetensors"
    tensors = load_file(str(file))
    del tensors["action_head.action_encoder.W2.W"]
    tensors["action_head.state_encoder.layer1.W"] = torch.zeros(4, 99, 24)
    tensors["action_head.not_a_module.weight"] = torch.zeros(1)
    save_file(tensors, str(file))
    with pytest.raises(ConfigError) as err:
        _from_ckpt(ckpt)
    msg = str(err.value)
    assert "missing: action_head.action_encoder.W2.W" in msg
    assert "shape mismatch: action_head.state_encoder.layer1.W: checkpoint [4, 99, 24] vs model [4, 16, 24]" in msg
    assert "unexpected: action_head.not_a_module.weight" in msg


def test_unused_upstream_tensors_and_shards_are_accepted(tmp_path: Path) -> None:
    ckpt, src = _write(tmp_path)
    tensors = load_file(str(ckpt / "model.safetensors"))
    (ckpt / "model.safetensors").unlink()
    tensors["backbone.eagle_model.language_model.lm_head.weight"] = torch.zeros(300, 32)
    tensors["backbone.eagle_model.language_model.model.layers.2.mlp.up_proj.weight"] = torch.zeros(
        64, 32
    )  # beyond select_layer=2
    keys = sorted(tensors)
    shards = {
        "model-00001-of-00002.safetensors": keys[: len(keys) // 2],
        "model-00002-of-00002.safetensors": keys[len(keys) // 2 :],
    }
    for name, ks in shards.items():
        save_file({k: tensors[k] for k in ks}, str(ckpt / name))
    index = {"weight_map": {k: name for name, ks in shards.items() for k in ks}}
    (ckpt / "model.safetensors.index.json").write_text(json.dumps(index))
    dst = _from_ckpt(ckpt)
    assert torch.equal(dst.model.action_head.action_encoder.W2.W, src.model.action_head.action_encoder.W2.W)


def test_tag_absent_from_metadata_lists_present_ones(tmp_path: Path) -> None:
    ckpt, _ = _write(tmp_path)
    with pytest.raises(
        ConfigError, match=r"'oxe_droid' is not in the checkpoint's metadata.json.*present: libero_franka"
    ):
        _from_ckpt(ckpt, embodiment_tag="oxe_droid")


def test_missing_metadata_is_explained(tmp_path: Path) -> None:
    ckpt, _ = _write(tmp_path)
    (ckpt / "experiment_cfg" / "metadata.json").unlink()
    with pytest.raises(ConfigError, match=r"experiment_cfg/metadata\.json does not exist"):
        _from_ckpt(ckpt)


@pytest.mark.slow
def test_3b_preset_real_sizes_on_meta() -> None:
    model = build_on_meta(preset("3b"))
    sd = model.state_dict()
    assert sd["action_head.model.transformer_blocks.0.attn1.to_k.weight"].shape == (
        1536,
        2048,
    )  # cross-attn to VL tokens
    assert sd["action_head.model.transformer_blocks.1.attn1.to_k.weight"].shape == (1536, 1536)  # interleaved self-attn
    assert sd["action_head.state_encoder.layer1.W"].shape == (32, 64, 1024)
    assert sd["action_head.action_encoder.W2.W"].shape == (32, 3072, 1536)
    assert sd["action_head.action_decoder.layer2.W"].shape == (32, 1024, 32)
    assert sd["action_head.vlln.weight"].shape == (2048,)
    assert sum(1 for k in sd if k.endswith("self_attn.q_proj.weight") and "language_model" in k) == 12  # select_layer
    # Truncated Qwen3-1.7B = 0.91B, whole model 2.40B (the "3B" name counts the untruncated LLM).
    assert count_parameters(model.backbone.eagle_model.language_model) == 914_674_688
    assert 2.35e9 < count_parameters(model) < 2.45e9
    assert all(p.is_meta for p in model.parameters())
