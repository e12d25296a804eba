"""Architecture presets for building GR00T N1.5 without a checkpoint: ``3b`` (the released sizes) and ``tiny``."""

from __future__ import annotations

import copy
from typing import Any

from vlarl_gr00t.official_defaults import EAGLE_VENDORED

# action_head_cfg of the released GR00T-N1.5-3B config.json.
_HEAD_3B: dict[str, Any] = {
    "action_dim": 32,
    "action_horizon": 16,
    "add_pos_embed": True,
    "backbone_embedding_dim": 2048,
    "diffusion_model_cfg": {
        "attention_head_dim": 48,
        "cross_attention_dim": 2048,
        "dropout": 0.2,
        "final_dropout": True,
        "interleave_self_attention": True,
        "norm_type": "ada_norm",
        "num_attention_heads": 32,
        "num_layers": 16,
        "output_dim": 1024,
        "positional_embeddings": None,
    },
    "hidden_size": 1024,
    "input_embedding_dim": 1536,
    "max_action_dim": 32,
    "max_state_dim": 64,
    "max_num_embodiments": 32,
    "max_seq_len": 1024,
    "num_inference_timesteps": 4,
    "num_target_vision_tokens": 32,
    "num_timestep_buckets": 1000,
    "use_vlln": True,
    "vl_self_attention_cfg": {
        "attention_head_dim": 64,
        "dropout": 0.2,
        "final_dropout": True,
        "num_attention_heads": 32,
        "num_layers": 4,
        "positional_embeddings": None,
    },
}

PRESET_3B: dict[str, Any] = {
    "architectures": ["GR00T_N1_5"],
    "model_type": "gr00t_n1_5",
    "action_horizon": 16,
    "action_dim": 32,
    "backbone_cfg": {"project_to_dim": None, "select_layer": 12, "reproject_vision": False},
    "action_head_cfg": _HEAD_3B,
    "eagle_cfg": EAGLE_VENDORED,
}

# Same architecture, sizes small enough for CPU tests; exercises the pixel-shuffle + 2-layer connector path.
PRESET_TINY: dict[str, Any] = {
    "architectures": ["GR00T_N1_5"],
    "model_type": "gr00t_n1_5",
    "action_horizon": 8,
    "action_dim": 16,
    "backbone_cfg": {"project_to_dim": None, "select_layer": 2, "reproject_vision": False},
    "action_head_cfg": {
        **copy.deepcopy(_HEAD_3B),
        "action_dim": 16,
        "action_horizon": 8,
        "backbone_embedding_dim": 32,
        "diffusion_model_cfg": {
            **_HEAD_3B["diffusion_model_cfg"],
            "attention_head_dim": 8,
            "cross_attention_dim": 32,
            "num_attention_heads": 4,
            "num_layers": 2,
            "output_dim": 24,
        },
        "hidden_size": 24,
        "input_embedding_dim": 32,
        "max_action_dim": 16,
        "max_state_dim": 16,
        "max_num_embodiments": 4,
        "max_seq_len": 64,
        "num_target_vision_tokens": 4,
        "vl_self_attention_cfg": {
            **_HEAD_3B["vl_self_attention_cfg"],
            "attention_head_dim": 8,
            "num_attention_heads": 4,
            "num_layers": 1,
        },
    },
    "eagle_cfg": {
        "vision_config": {
            **EAGLE_VENDORED["vision_config"],
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 28,
            "patch_size": 7,
        },
        "text_config": {
            **EAGLE_VENDORED["text_config"],
            "vocab_size": 300,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 3,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 8,
            "max_position_embeddings": 512,
        },
        "select_layer": -1,
        "use_pixel_shuffle": True,
        "downsample_ratio": 0.5,
        "mlp_connector_layers": 2,
        "image_token_index": 299,
    },
}

PRESETS: dict[str, dict[str, Any]] = {"tiny": PRESET_TINY, "3b": PRESET_3B}
