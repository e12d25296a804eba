"""Architecture description (what config.json + preset name resolve to) and the named presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from vlarl_openvla_oft.vit import TIMM_VITS, ViTArgs

# OpenVLA's fused backbone: DINOv2 first ("featurizer"), SigLIP second ("fused_featurizer").
DINOSIGLIP_224 = ["vit_large_patch14_reg4_dinov2.lvd142m", "vit_so400m_patch14_siglip_224"]
# Per-backbone normalization (timm data configs of the two ids).
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
SIGLIP_MEAN, SIGLIP_STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
NORM_BY_TIMM_ID = {DINOSIGLIP_224[0]: (IMAGENET_MEAN, IMAGENET_STD), DINOSIGLIP_224[1]: (SIGLIP_MEAN, SIGLIP_STD)}
# LlamaConfig defaults of transformers 4.40.1 (the official fork): what a key missing from config.json's
# text_config means. Spelled out because later transformers releases changed some defaults / names.
OFFICIAL_LLAMA_DEFAULTS: dict[str, Any] = dict(
    vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
    hidden_act="silu", max_position_embeddings=2048, rms_norm_eps=1e-6, rope_theta=10000.0, rope_scaling=None,
    attention_bias=False, attention_dropout=0.0, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
)  # fmt: skip


@dataclass
class Arch:
    vits: list[ViTArgs]  # [featurizer, fused_featurizer]
    timm_ids: list[str]
    text_config: dict[str, Any]  # config.json's text_config; missing keys: OFFICIAL_LLAMA_DEFAULTS
    pad_to_multiple_of: int = 64
    n_action_bins: int = 256
    image_sizes: list[int] = field(default_factory=lambda: [224, 224])

    @property
    def means_stds(self) -> list[tuple[tuple[float, ...], tuple[float, ...]]]:
        return [NORM_BY_TIMM_ID.get(t, (SIGLIP_MEAN, SIGLIP_STD)) for t in self.timm_ids]

    def llama_kwargs(self) -> dict[str, Any]:
        """LlamaConfig kwargs: text_config over the official defaults (num_key_value_heads defaults to heads)."""
        kw = {**OFFICIAL_LLAMA_DEFAULTS, **self.text_config}
        kw.setdefault("num_key_value_heads", kw["num_attention_heads"])
        return kw

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Arch:
        d = dict(d)
        d["vits"] = [ViTArgs(**v) for v in d["vits"]]
        return cls(**d)


def tiny_arch() -> Arch:
    # 112 px input (8x8 patches of 14 px) keeps CPU tests fast; larger camera images are resized to it.
    vit_a = ViTArgs(96, 4, 4, 384, img_size=112, class_token=True, reg_tokens=4, no_embed_class=True, layer_scale=True)
    vit_b = ViTArgs(96, 4, 4, 384, img_size=112, class_token=False, attn_pool=True)
    text = dict(
        vocab_size=576, hidden_size=128, intermediate_size=256, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=4, max_position_embeddings=2048, pad_token_id=0, bos_token_id=1, eos_token_id=2,
    )  # fmt: skip
    return Arch(vits=[vit_a, vit_b], timm_ids=list(DINOSIGLIP_224), text_config=text, image_sizes=[112, 112])


def openvla_7b_arch() -> Arch:
    # openvla-7b config.json: text_config only sets vocab_size/pad_token_id; the rest are the official defaults.
    return Arch(
        vits=[TIMM_VITS[t] for t in DINOSIGLIP_224],
        timm_ids=list(DINOSIGLIP_224),
        text_config=dict(vocab_size=32064, pad_token_id=32000),
    )


PRESETS = {"tiny": tiny_arch, "7b": openvla_7b_arch}
