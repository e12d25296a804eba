"""Eagle 2.5 vision-language backbone of GR00T N1.5, built from transformers blocks.

Parameter names match ``backbone.eagle_model.*`` of the official checkpoint:
``vision_model`` (SiglipVisionModel), ``mlp1`` (connector), ``language_model.model``
(Qwen3/Llama decoder, truncated to ``select_layer`` layers). Optional
``backbone.eagle_linear`` projects to ``project_to_dim``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import LlamaConfig, Qwen2Config, Qwen3Config, SiglipVisionConfig
from transformers.models.llama.modeling_llama import LlamaModel
from transformers.models.qwen2.modeling_qwen2 import Qwen2Model
from transformers.models.qwen3.modeling_qwen3 import Qwen3Model
from transformers.models.siglip.modeling_siglip import SiglipVisionModel

from vlarl.errors import ConfigError

_TEXT_MODELS: dict[str, tuple[type, type]] = {
    "Qwen3ForCausalLM": (Qwen3Config, Qwen3Model),
    "Qwen2ForCausalLM": (Qwen2Config, Qwen2Model),
    "LlamaForCausalLM": (LlamaConfig, LlamaModel),
}


def pixel_shuffle(x: torch.Tensor, scale: float) -> torch.Tensor:
    """[N, W, H, C] -> [N, W*s, H*s, C/s^2] (Eagle's space-to-depth token reduction)."""
    n, w, h, c = x.shape
    x = x.reshape(n, w, int(h * scale), int(c / scale))
    x = x.permute(0, 2, 1, 3).contiguous()
    x = x.reshape(n, int(h * scale), int(w * scale), int(c / (scale * scale)))
    return x.permute(0, 2, 1, 3).contiguous()


class _LanguageModel(nn.Module):
    """Holds the decoder under ``.model`` so names read ``language_model.model.layers.N``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model


class EagleModel(nn.Module):
    def __init__(self, eagle_cfg: dict[str, Any], select_layer: int) -> None:
        super().__init__()
        vcfg = SiglipVisionConfig(**{k: v for k, v in eagle_cfg["vision_config"].items() if not k.startswith("_")})
        vcfg.vision_use_head = False  # the pooling head is never read (official checkpoints carry it unused)
        vcfg._attn_implementation = "sdpa"
        tcfg_raw = {k: v for k, v in eagle_cfg["text_config"].items() if not k.startswith("_")}
        archs = tcfg_raw.pop("architectures", None)
        if not archs or archs[0] not in _TEXT_MODELS:
            raise ConfigError(
                f"eagle_cfg.text_config.architectures={archs} is not supported.",
                f"Use one of: {', '.join(_TEXT_MODELS)}.",
            )
        config_cls, model_cls = _TEXT_MODELS[archs[0]]
        n_layers = int(tcfg_raw.get("num_hidden_layers", config_cls().num_hidden_layers))
        if not 0 <= select_layer <= n_layers:
            raise ConfigError(
                f"backbone_cfg.select_layer={select_layer} is outside 0..{n_layers} (the LLM's layers); "
                "the official backbone reads hidden_states[select_layer] and fails there.",
                "Set select_layer to the number of language-model layers to keep (12 in GR00T-N1.5-3B).",
            )
        # Upstream pops every layer above select_layer and reads hidden_states[select_layer], which is then the
        # final-norm output of the kept layers: build just those.
        tcfg_raw["num_hidden_layers"] = select_layer
        tcfg = config_cls(**tcfg_raw)
        tcfg._attn_implementation = "sdpa"
        self.vision_model = SiglipVisionModel(vcfg)
        self.language_model = _LanguageModel(model_cls(tcfg))
        self.use_pixel_shuffle = bool(eagle_cfg["use_pixel_shuffle"])
        self.downsample_ratio = float(eagle_cfg["downsample_ratio"])
        self.vision_select_layer = int(eagle_cfg["select_layer"])
        self.image_token_index = int(eagle_cfg["image_token_index"])
        # Eagle2_5_VLForConditionalGeneration: force_image_size or the vision tower's size.
        self.image_size = int(eagle_cfg.get("force_image_size") or vcfg.image_size)
        grid = self.image_size // vcfg.patch_size
        vit, llm = vcfg.hidden_size, tcfg.hidden_size
        if self.use_pixel_shuffle:
            self.num_image_token = int(grid * grid * self.downsample_ratio**2)
            in_dim = vit * int(1 / self.downsample_ratio) ** 2
        else:
            self.num_image_token = grid * grid
            in_dim = vit
        layers = eagle_cfg["mlp_connector_layers"]
        if layers == 2:
            self.mlp1 = nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, llm), nn.GELU(), nn.Linear(llm, llm))
        elif layers == 1:
            self.mlp1 = nn.Sequential(nn.Linear(in_dim, llm))
        else:
            raise ConfigError(f"mlp_connector_layers={layers} is not supported.", "Use 1 or 2 (as in Eagle 2.5).")
        self.hidden_size = llm

    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """pixel_values [B, 3, S, S] in [-1, 1] -> [B, num_image_token, llm_hidden]."""
        if self.vision_select_layer == -1:  # modeling_eagle2_5_vl.py extract_feature
            vit = self.vision_model(pixel_values=pixel_values).last_hidden_state
        else:
            out = self.vision_model(pixel_values=pixel_values, output_hidden_states=True)
            vit = out.hidden_states[self.vision_select_layer]
        if self.use_pixel_shuffle:
            side = int(vit.shape[1] ** 0.5)
            vit = pixel_shuffle(vit.reshape(vit.shape[0], side, side, -1), self.downsample_ratio)
            vit = vit.reshape(vit.shape[0], -1, vit.shape[-1])
        return self.mlp1(vit)

    def forward(
        self, pixel_values: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        """Hidden states after the last kept layer and the final norm (= upstream ``hidden_states[select_layer]``)."""
        lm = self.language_model.model
        embeds = lm.get_input_embeddings()(input_ids)
        vit = self.image_features(pixel_values).to(embeds.dtype)
        selected = input_ids == self.image_token_index
        b, n, c = embeds.shape
        flat = embeds.reshape(b * n, c)
        flat = flat.masked_scatter(selected.reshape(-1, 1), vit.reshape(-1, c))
        out = lm(inputs_embeds=flat.reshape(b, n, c), attention_mask=attention_mask, use_cache=False)
        return out.last_hidden_state


class EagleBackbone(nn.Module):
    def __init__(self, backbone_cfg: dict[str, Any], eagle_cfg: dict[str, Any]) -> None:
        super().__init__()
        self.eagle_model = EagleModel(eagle_cfg, int(backbone_cfg["select_layer"]))
        project = backbone_cfg["project_to_dim"]  # official default 1536; the released N1.5 config sets null
        # Upstream hard-codes Linear(2048, project_to_dim) (= the N1.5 LLM width); this uses the LLM's width.
        self.eagle_linear: nn.Module = (
            nn.Linear(self.eagle_model.hidden_size, project) if project is not None else nn.Identity()
        )
        self.out_dim = project if project is not None else self.eagle_model.hidden_size

    def forward(
        self, pixel_values: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        return self.eagle_linear(self.eagle_model(pixel_values, input_ids, attention_mask))
