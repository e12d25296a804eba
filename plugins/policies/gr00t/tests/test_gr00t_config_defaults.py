"""Keys missing from config.json take the official constructors' defaults (Isaac-GR00T @ 4af2b622).

Expected values are copied from the official signatures: EagleBackbone.__init__, FlowmatchingActionHeadConfig,
DiT.__init__, SelfAttentionTransformer.__init__, Eagle2_5_VLConfig.__init__, eagle2_hg_model/config.json.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from golden_io import GOLDEN

from vlarl.errors import ConfigError
from vlarl_gr00t.model import build_on_meta
from vlarl_gr00t.model_config import read_config_json, resolve


def golden_raw() -> dict:
    return json.loads((GOLDEN / "config.json").read_text())


def minimal() -> dict:
    """Only the keys the official constructors cannot default."""
    return {
        "backbone_cfg": {"select_layer": 2},
        "action_head_cfg": {
            "action_dim": 6,
            "action_horizon": 4,
            "max_state_dim": 8,
            "num_inference_timesteps": 4,
            "diffusion_model_cfg": {},
            "vl_self_attention_cfg": {},
        },
    }


def test_backbone_defaults() -> None:
    assert resolve(minimal())["backbone_cfg"]["project_to_dim"] == 1536  # EagleBackbone default, not N1.5's null


def test_action_head_defaults() -> None:
    head = resolve(minimal())["action_head_cfg"]
    assert {k: head[k] for k in ("hidden_size", "input_embedding_dim", "backbone_embedding_dim", "max_seq_len")} == {
        "hidden_size": 1024, "input_embedding_dim": 1536, "backbone_embedding_dim": 1536, "max_seq_len": 1024
    }  # fmt: skip
    assert (head["num_target_vision_tokens"], head["max_num_embodiments"], head["num_timestep_buckets"]) == (
        32,
        32,
        1000,
    )
    assert head["add_pos_embed"] is True and head["use_vlln"] is True


def test_dit_and_vl_self_attention_defaults() -> None:
    head = resolve(minimal())["action_head_cfg"]
    dit, vl = head["diffusion_model_cfg"], head["vl_self_attention_cfg"]
    assert dit["positional_embeddings"] == "sinusoidal" and dit["interleave_self_attention"] is False
    assert (dit["num_attention_heads"], dit["attention_head_dim"], dit["num_layers"], dit["output_dim"]) == (
        8,
        64,
        12,
        26,
    )
    assert (dit["dropout"], dit["norm_type"], dit["cross_attention_dim"], dit["max_num_positional_embeddings"]) == (
        0.1, "ada_norm", None, 512
    )  # fmt: skip
    assert vl["positional_embeddings"] == "sinusoidal" and (vl["num_layers"], vl["attention_head_dim"]) == (12, 64)


def test_given_keys_are_kept() -> None:
    cfg = read_config_json(GOLDEN / "config.json")
    dit = cfg["action_head_cfg"]["diffusion_model_cfg"]
    assert dit["positional_embeddings"] is None and dit["interleave_self_attention"] is True
    assert cfg["action_head_cfg"]["num_inference_timesteps"] == 6


def test_eagle_cfg_defaults() -> None:
    raw = golden_raw()
    del (
        raw["eagle_cfg"]["use_pixel_shuffle"],
        raw["eagle_cfg"]["mlp_connector_layers"],
        raw["eagle_cfg"]["select_layer"],
    )
    eagle = resolve(raw)["eagle_cfg"]
    assert (eagle["use_pixel_shuffle"], eagle["mlp_connector_layers"], eagle["select_layer"]) == (True, 2, -4)
    # No eagle_cfg at all (official checkpoints): the vendored N1.5 Eagle config.
    vendored = resolve(minimal())["eagle_cfg"]
    assert (vendored["image_token_index"], vendored["force_image_size"], vendored["use_pixel_shuffle"]) == (
        151669,
        224,
        False,
    )
    assert vendored["text_config"]["hidden_size"] == 2048 and vendored["vision_config"]["hidden_size"] == 1152


def test_sinusoidal_default_builds_position_tables() -> None:
    raw = minimal()
    raw["action_head_cfg"]["diffusion_model_cfg"] = {"num_layers": 2, "cross_attention_dim": 1536}
    raw["action_head_cfg"]["vl_self_attention_cfg"] = {"num_layers": 1, "attention_head_dim": 192}
    model = build_on_meta(resolve(raw))
    names = set(model.state_dict())
    assert "action_head.model.transformer_blocks.0.pos_embed.pe" in names  # diffusers' persistent buffer
    assert "action_head.vl_self_attention.transformer_blocks.0.pos_embed.pe" in names


@pytest.mark.parametrize(
    "key", ["action_dim", "action_horizon", "max_state_dim", "diffusion_model_cfg", "vl_self_attention_cfg"]
)
def test_keys_without_an_official_default_are_named(key: str) -> None:
    raw = minimal()
    del raw["action_head_cfg"][key]
    with pytest.raises(ConfigError, match=key):
        resolve(raw)


def test_select_layer_default_fails_as_upstream(tmp_path: Path) -> None:
    raw = copy.deepcopy(minimal())
    del raw["backbone_cfg"]["select_layer"]
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(ConfigError, match="select_layer=-1"):
        read_config_json(tmp_path / "config.json")
