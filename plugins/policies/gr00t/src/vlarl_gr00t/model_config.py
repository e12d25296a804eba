"""Architecture config of GR00T N1.5, in the layout of the official ``config.json``.

The official file nests ``backbone_cfg`` and ``action_head_cfg``; the Eagle 2.5
vision/text sub-configs are not in it (upstream reads them from the vendored
Eagle directory), so we keep them under ``eagle_cfg`` and fall back to the
N1.5 values when a checkpoint lacks them.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from vlarl.errors import ConfigError

# Eagle 2.5 inside N1.5: SigLIP-400M-shaped vision tower + Qwen3-1.7B text model.
_EAGLE_3B: dict[str, Any] = {
    "vision_config": {
        "hidden_size": 1152,
        "intermediate_size": 4304,
        "num_hidden_layers": 27,
        "num_attention_heads": 16,
        "image_size": 224,
        "patch_size": 14,
        "hidden_act": "gelu_pytorch_tanh",
        "layer_norm_eps": 1e-6,
        "vision_use_head": False,
    },
    "text_config": {
        "architectures": ["Qwen3ForCausalLM"],
        "vocab_size": 151680,
        "hidden_size": 2048,
        "intermediate_size": 6144,
        "num_hidden_layers": 28,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "rms_norm_eps": 1e-6,
        "rope_theta": 1000000.0,
        "max_position_embeddings": 40960,
        "tie_word_embeddings": True,
    },
    "use_pixel_shuffle": False,
    "downsample_ratio": 0.5,
    "mlp_connector_layers": 1,
    "image_token_index": 151669,
}

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
    "eagle_cfg": _EAGLE_3B,
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
            **_EAGLE_3B["vision_config"],
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 28,
            "patch_size": 7,
        },
        "text_config": {
            **_EAGLE_3B["text_config"],
            "vocab_size": 300,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 3,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 8,
            "max_position_embeddings": 512,
        },
        "use_pixel_shuffle": True,
        "downsample_ratio": 0.5,
        "mlp_connector_layers": 2,
        "image_token_index": 299,
    },
}

PRESETS: dict[str, dict[str, Any]] = {"tiny": PRESET_TINY, "3b": PRESET_3B}


def preset(name: str) -> dict[str, Any]:
    if name not in PRESETS:
        raise ConfigError(
            f"Unknown GR00T preset '{name}'.", f"Use one of: {', '.join(PRESETS)}, or set checkpoint_path."
        )
    return copy.deepcopy(PRESETS[name])


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_config_json(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint's ``config.json``; missing Eagle sub-configs default to the N1.5 ones."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(
            f"GR00T checkpoint config {p} does not exist.",
            "Point checkpoint_path at a GR00T-N1.5 checkpoint directory.",
        )
    try:
        raw = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{p} is not valid JSON: {exc}", "Restore the checkpoint's config.json.") from exc
    for key in ("backbone_cfg", "action_head_cfg"):
        if not isinstance(raw.get(key), dict):
            raise ConfigError(
                f"{p} has no '{key}' section; it is not a GR00T-N1.5 config.",
                "Use the config.json shipped with the checkpoint.",
            )
    return _merge(PRESET_3B, raw)


def head_cfg(cfg: dict[str, Any]) -> dict[str, Any]:
    return cfg["action_head_cfg"]
