"""Defaults of the official GR00T N1.5 constructors, for keys a ``config.json`` leaves out.

Read from NVIDIA Isaac-GR00T @ 4af2b622 (the last N1.5 commit):

* ``EagleBackbone.__init__`` (gr00t/model/backbone/eagle_backbone.py:31-41),
* ``FlowmatchingActionHeadConfig`` fields (gr00t/model/action_head/flow_matching_action_head.py:107-160),
* ``DiT.__init__`` and ``SelfAttentionTransformer.__init__`` (gr00t/model/action_head/cross_attention_dit.py),
* ``Eagle2_5_VLConfig.__init__`` (gr00t/model/backbone/eagle2_hg_model/configuration_eagle2_5_vl.py),
* the vendored ``eagle2_hg_model/config.json`` that ``EagleBackbone`` always builds the VLM from.

``REQUIRED`` lists the keys whose official default is ``None`` (or that have none) and that the official code
dereferences, so a config without them fails there too; vlarl raises a ``ConfigError`` naming them instead.
"""

from __future__ import annotations

from typing import Any

# EagleBackbone(**backbone_cfg)
BACKBONE: dict[str, Any] = {
    "tune_llm": False,
    "tune_visual": False,
    "select_layer": -1,  # official: pops every LLM layer and then fails (ModuleList.pop on an empty list)
    "reproject_vision": False,
    "use_flash_attention": False,
    "load_bf16": False,
    "eagle_path": None,
    "project_to_dim": 1536,
}

# FlowmatchingActionHeadConfig(**action_head_cfg)
ACTION_HEAD: dict[str, Any] = {
    "add_pos_embed": True,
    "model_dtype": "float32",
    "input_embedding_dim": 1536,
    "backbone_embedding_dim": 1536,
    "hidden_size": 1024,
    "max_seq_len": 1024,
    "noise_beta_alpha": 1.5,
    "noise_beta_beta": 1.0,
    "noise_s": 0.999,
    "num_timestep_buckets": 1000,
    "num_inference_timesteps": None,  # official get_action divides by it: needed unless denoising_steps is set
    "max_num_embodiments": 32,
    "tune_projector": True,
    "tune_diffusion_model": True,
    "use_vlln": True,
    "num_target_vision_tokens": 32,
}

# DiT(**diffusion_model_cfg)
DIT: dict[str, Any] = {
    "num_attention_heads": 8,
    "attention_head_dim": 64,
    "output_dim": 26,
    "num_layers": 12,
    "dropout": 0.1,
    "attention_bias": True,
    "activation_fn": "gelu-approximate",
    "num_embeds_ada_norm": 1000,
    "upcast_attention": False,
    "norm_type": "ada_norm",
    "norm_elementwise_affine": False,
    "norm_eps": 1e-5,
    "max_num_positional_embeddings": 512,
    "final_dropout": True,
    "positional_embeddings": "sinusoidal",
    "interleave_self_attention": False,
    "cross_attention_dim": None,
}

# SelfAttentionTransformer(**vl_self_attention_cfg); its blocks use BasicTransformerBlock's own defaults for
# the norms (layer_norm, elementwise affine, eps 1e-5): SelfAttentionTransformer does not pass them.
VL_SELF_ATTENTION: dict[str, Any] = {
    "num_attention_heads": 8,
    "attention_head_dim": 64,
    "output_dim": 26,
    "num_layers": 12,
    "dropout": 0.1,
    "attention_bias": True,
    "activation_fn": "gelu-approximate",
    "num_embeds_ada_norm": 1000,
    "upcast_attention": False,
    "max_num_positional_embeddings": 512,
    "final_dropout": True,
    "positional_embeddings": "sinusoidal",
    "interleave_self_attention": False,
}

# Eagle2_5_VLConfig(**eagle_cfg): defaults for keys missing from a checkpoint's "eagle_cfg".
EAGLE_CONFIG: dict[str, Any] = {
    "select_layer": -4,
    "force_image_size": None,
    "downsample_ratio": 0.5,
    "image_token_index": None,
    "use_pixel_shuffle": True,
    "mlp_connector_layers": 2,
    "vision_config": {"model_type": "siglip_vision_model"},
    "text_config": {"architectures": ["Qwen2ForCausalLM"]},
}

# gr00t/model/backbone/eagle2_hg_model/config.json (the keys the model reads): what the official EagleBackbone
# builds when config.json has no "eagle_cfg" (official N1.5 checkpoints have none).
EAGLE_VENDORED: dict[str, Any] = {
    "downsample_ratio": 0.5,
    "force_image_size": 224,
    "image_token_index": 151669,
    "mlp_connector_layers": 1,
    "select_layer": -1,
    "use_pixel_shuffle": False,
    "template": "qwen3-chat",
    "text_config": {
        "architectures": ["Qwen3ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0,
        "bos_token_id": 151643,
        "eos_token_id": 151645,
        "head_dim": 128,
        "hidden_act": "silu",
        "hidden_size": 2048,
        "initializer_range": 0.02,
        "intermediate_size": 6144,
        "max_position_embeddings": 40960,
        "max_window_layers": 28,
        "model_type": "qwen3",
        "num_attention_heads": 16,
        "num_hidden_layers": 28,
        "num_key_value_heads": 8,
        "rms_norm_eps": 1e-6,
        "rope_scaling": None,
        "rope_theta": 1000000,
        "sliding_window": None,
        "tie_word_embeddings": True,
        "use_cache": False,
        "use_sliding_window": False,
        "vocab_size": 151680,
    },
    "vision_config": {
        "attention_dropout": 0,
        "hidden_act": "gelu_pytorch_tanh",
        "hidden_size": 1152,
        "image_size": 224,
        "intermediate_size": 4304,
        "layer_norm_eps": 1e-6,
        "model_type": "siglip_vision_model",
        "num_attention_heads": 16,
        "num_channels": 3,
        "num_hidden_layers": 27,
        "patch_size": 14,
    },
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "action_head_cfg": ("action_dim", "action_horizon", "max_state_dim", "diffusion_model_cfg"),
}
