"""The Prismatic VLM with OFT parallel decoding, built natively from an ``Arch``.

Top-level names match the official ``OpenVLAForActionPrediction`` state dict:
``vision_backbone.featurizer.*``, ``vision_backbone.fused_featurizer.*``, ``projector.fc1/fc2/fc3``,
``language_model.model.*`` / ``language_model.lm_head``. The OFT side modules (``proprio_projector``,
``action_head``) use the names of the official ``proprio_projector--*.pt`` / ``action_head--*.pt`` files.

Sequence layout (as ``predict_action`` builds it, batch-friendly):
``[BOS] [image patches, all cameras] [proprio] [pad...] [prompt tokens after BOS, ending with "▁"]
[C*A action positions, zero embeddings] [stop]``. Padding sits in the middle so the action positions
are at the same indices in every row; position ids count only real tokens, so each row computes what
it would compute alone.

The heads read the official slice ``[NUM_PATCHES + NUM_PROMPT_TOKENS : + C*A]``: it starts at the "▁"
position, one before the first action position, and ends one before the stop token (``head_slice``).
Attention defaults to the official model's: every position attends to every real position
(``full_bidirectional``; the official fork calls SDPA with ``is_causal=False`` and no mask).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM

from vlarl_openvla_oft.arch import Arch
from vlarl_openvla_oft.heads import L1RegressionActionHead, ProprioProjector, ValueHead
from vlarl_openvla_oft.vit import VisionTransformer

AttentionMode = Literal["full_bidirectional", "action_bidirectional", "causal"]
STOP_INDEX = 2  # Llama-2 '</s>'


@dataclass
class LLMPass:
    """One forward pass of the language model over the whole multimodal sequence."""

    embeds: torch.Tensor  # [B, S, H] inputs_embeds given to the LLM
    valid: torch.Tensor  # [B, S] bool, False at batch padding
    hidden: torch.Tensor  # [B, S, H] last hidden states (after the final RMSNorm)
    head_slice: slice  # rows of ``hidden`` the heads read (C*A of them)

    @property
    def head_hidden(self) -> torch.Tensor:
        return self.hidden[:, self.head_slice]

    @property
    def label_hidden(self) -> torch.Tensor:
        """The rows the fine-tuning cross-entropy scores: the head slice and the last action position (the
        row one before each label; the last one predicts the stop token). [B, C*A + 1, H]."""
        return self.hidden[:, self.head_slice.start : self.head_slice.stop + 1]


class PrismaticVisionBackbone(nn.Module):
    def __init__(self, arch: Arch) -> None:
        super().__init__()
        self.featurizer = VisionTransformer(arch.vits[0])
        self.fused_featurizer = VisionTransformer(arch.vits[1])
        self.embed_dim = self.featurizer.embed_dim + self.fused_featurizer.embed_dim
        self.num_patches = arch.vits[0].num_patches

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """pixels [B, K, 6, H, W] (3 channels per backbone) -> [B, K * patches, D_dino + D_siglip]."""
        b, k = pixels.shape[:2]
        flat = pixels.flatten(0, 1)
        feats = torch.cat([self.featurizer(flat[:, :3]), self.fused_featurizer(flat[:, 3:])], dim=2)
        return feats.reshape(b, k * feats.shape[1], feats.shape[2])


class PrismaticProjector(nn.Module):
    """Fused-backbone projector: vision_dim -> 4*vision_dim -> llm -> llm with GELUs."""

    def __init__(self, vision_dim: int, llm_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(vision_dim, 4 * vision_dim)
        self.fc2 = nn.Linear(4 * vision_dim, llm_dim)
        self.fc3 = nn.Linear(llm_dim, llm_dim)
        self.act_fn1 = nn.GELU()
        self.act_fn2 = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(self.act_fn2(self.fc2(self.act_fn1(self.fc1(x)))))


def llama_config(arch: Arch) -> LlamaConfig:
    cfg = LlamaConfig(**arch.llama_kwargs())
    cfg._attn_implementation = "sdpa"
    return cfg


def rebuild_rotary_embeddings(language_model: nn.Module, device: torch.device) -> None:
    """Recreate every rotary-embedding module (their buffers are derived, never loaded) on ``device``.

    After ``to_empty`` the non-persistent ``inv_freq`` buffers hold garbage. The modules are rebuilt from the
    model config under a device context, which works with every constructor transformers has had since 4.45
    (``(config, device=None)`` up to 5.18, ``(config)`` from 5.19 on).
    """
    config = language_model.config
    for parent in list(language_model.modules()):
        for name, child in list(parent.named_children()):
            if type(child).__name__.endswith("RotaryEmbedding"):
                with torch.device(device):
                    setattr(parent, name, type(child)(config=config))


class PrismaticOFT(nn.Module):
    def __init__(
        self,
        arch: Arch,
        *,
        action_chunk: int,
        action_dim: int,
        head: Literal["discrete", "l1"],
        proprio_dim: int | None,
        value_out: int | None,
        attention: AttentionMode = "full_bidirectional",
    ) -> None:
        super().__init__()
        self.arch = arch
        self.action_chunk, self.action_dim = action_chunk, action_dim
        self.head, self.attention = head, attention
        self.vision_backbone = PrismaticVisionBackbone(arch)
        cfg = llama_config(arch)
        self.llm_dim = cfg.hidden_size
        self.projector = PrismaticProjector(self.vision_backbone.embed_dim, self.llm_dim)
        self.language_model = LlamaForCausalLM(cfg)
        # Action tokens are the last n_action_bins ids of the unpadded vocabulary.
        self.vocab_size = cfg.vocab_size - arch.pad_to_multiple_of
        if self.vocab_size < arch.n_action_bins:
            raise ValueError(f"vocab of {self.vocab_size} ids cannot hold {arch.n_action_bins} action tokens")
        self.proprio_projector = ProprioProjector(self.llm_dim, proprio_dim) if proprio_dim else None
        self.action_head = L1RegressionActionHead(self.llm_dim, action_dim) if head == "l1" else None
        self.value_head = ValueHead(self.llm_dim, value_out) if value_out else None

    @property
    def num_action_positions(self) -> int:
        return self.action_chunk * self.action_dim

    def lm_head_weight(self) -> torch.Tensor:
        lm_head = self.language_model.lm_head
        return lm_head.weight if isinstance(lm_head, nn.Linear) else lm_head.base_layer.weight

    def action_token_weight(self) -> torch.Tensor:
        return self.lm_head_weight()[self.vocab_size - self.arch.n_action_bins : self.vocab_size]

    def build_inputs(
        self, pixels: torch.Tensor, text_ids: torch.Tensor, text_mask: torch.Tensor, proprio: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings [B, S, H] and key-validity mask [B, S] of the whole sequence."""
        emb_layer = self.language_model.get_input_embeddings()
        b, dev = text_ids.shape[0], text_ids.device
        dtype = emb_layer.weight.dtype
        bos_id = self.language_model.config.bos_token_id
        bos = emb_layer(torch.full((b, 1), bos_id, device=dev, dtype=torch.long))
        patches = self.projector(self.vision_backbone(pixels.to(dtype)))
        parts = [bos, patches]
        if self.proprio_projector is not None:
            if proprio is None:
                raise ValueError("this model has a proprio projector and needs proprio input")
            parts.append(self.proprio_projector(proprio.to(dtype)).unsqueeze(1))
        parts.append(emb_layer(text_ids))
        n_act = self.num_action_positions
        parts.append(torch.zeros(b, n_act, self.llm_dim, device=dev, dtype=dtype))  # official: embeds * ~mask
        parts.append(emb_layer(torch.full((b, 1), STOP_INDEX, device=dev, dtype=torch.long)))
        embeds = torch.cat(parts, dim=1)
        n_prefix = embeds.shape[1] - text_ids.shape[1] - n_act - 1
        valid = torch.ones(b, embeds.shape[1], dtype=torch.bool, device=dev)
        valid[:, n_prefix : n_prefix + text_ids.shape[1]] = text_mask.bool()
        return embeds, valid

    def head_slice(self, seq_len: int) -> slice:
        """Official head rows: from the "▁" position (one before the first action position) for C*A rows."""
        start = seq_len - 2 - self.num_action_positions
        return slice(start, start + self.num_action_positions)

    def attention_mask(self, valid: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Additive [B, 1, S, S] mask of the ``attention`` mode; padding keys are always masked."""
        s = valid.shape[1]
        idx = torch.arange(s, device=valid.device)
        if self.attention == "full_bidirectional":
            allowed = torch.ones(s, s, dtype=torch.bool, device=valid.device)
        else:
            allowed = idx[None, :] <= idx[:, None]
            if self.attention == "action_bidirectional":
                start = s - 1 - self.num_action_positions
                in_act = (idx >= start) & (idx < s - 1)
                allowed = allowed | (in_act[:, None] & in_act[None, :])
        allowed = allowed[None] & valid[:, None, :]
        allowed = allowed | torch.eye(s, dtype=torch.bool, device=valid.device)[None]  # pad rows see themselves
        mask = torch.zeros(allowed.shape, dtype=dtype, device=valid.device)
        return mask.masked_fill(~allowed, torch.finfo(dtype).min)[:, None]

    def run_llm(
        self, pixels: torch.Tensor, text_ids: torch.Tensor, text_mask: torch.Tensor, proprio: torch.Tensor | None
    ) -> LLMPass:
        """The whole sequence through the LLM in one pass (parallel decoding)."""
        embeds, valid = self.build_inputs(pixels, text_ids, text_mask, proprio)
        position_ids = (valid.long().cumsum(1) - 1).clamp(min=0)
        out = self.language_model.model(
            inputs_embeds=embeds,
            attention_mask=self.attention_mask(valid, embeds.dtype),
            position_ids=position_ids,
            use_cache=False,
        )
        return LLMPass(embeds, valid, out.last_hidden_state, self.head_slice(embeds.shape[1]))

    def forward(
        self, pixels: torch.Tensor, text_ids: torch.Tensor, text_mask: torch.Tensor, proprio: torch.Tensor | None
    ) -> torch.Tensor:
        """Last-layer hidden states of the official head slice, [B, C*A, H], in one forward pass."""
        return self.run_llm(pixels, text_ids, text_mask, proprio).head_hidden

    def action_logits(self, head_hidden: torch.Tensor) -> torch.Tensor:
        """[B, C*A, H] -> logits over the action-token ids [B, C, A, n_bins] (index j = id vocab-n_bins+j)."""
        logits = F.linear(head_hidden, self.action_token_weight())
        return logits.float().reshape(head_hidden.shape[0], self.action_chunk, self.action_dim, -1)

    def vocab_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits over the whole LM-head vocabulary (padding rows included, as the official LM loss)."""
        return F.linear(hidden, self.lm_head_weight())

    def greedy_token_ids(self, head_hidden: torch.Tensor) -> torch.Tensor:
        """Official greedy decoding: argmax over the whole LM-head vocabulary, token ids [B, C, A]."""
        ids = self.vocab_logits(head_hidden).argmax(-1)
        return ids.reshape(head_hidden.shape[0], self.action_chunk, self.action_dim)

    def token_ids_to_bins(self, token_ids: torch.Tensor) -> torch.Tensor:
        """Token ids -> index j into the action-token slice that decodes to the same bin center.

        Official decoding is ``bin = clip(vocab - id - 1, 0, n_bins - 2)``; with ``j = id - (vocab - n_bins)``
        that is ``clip(n_bins - 1 - j, 0, n_bins - 2)``, so clamping ``j`` to ``[0, n_bins - 1]`` keeps the
        bin of every id, including ids outside the action range (below it -> bin n_bins - 2, above it -> bin 0).
        """
        return (token_ids - (self.vocab_size - self.arch.n_action_bins)).clamp(0, self.arch.n_action_bins - 1)

    @torch.no_grad()
    def decode_autoregressive(
        self, pixels: torch.Tensor, text_ids: torch.Tensor, text_mask: torch.Tensor, proprio: torch.Tensor | None
    ) -> torch.Tensor:
        """Greedy token-by-token decoding of the same C*A action tokens with a KV cache (original OpenVLA
        style), for the speed comparison with parallel decoding. Returns bin indices [B, C, A]."""
        from transformers import DynamicCache

        embeds, valid = self.build_inputs(pixels, text_ids, text_mask, proprio)
        n_act = self.num_action_positions
        prefix, pvalid = embeds[:, : -1 - n_act], valid[:, : -1 - n_act]
        cache = DynamicCache()
        pos = (pvalid.long().cumsum(1) - 1).clamp(min=0)
        causal = self.attention
        self.attention = "causal"
        try:
            mask = self.attention_mask(pvalid, prefix.dtype)
        finally:
            self.attention = causal
        out = self.language_model.model(
            inputs_embeds=prefix, attention_mask=mask, position_ids=pos, past_key_values=cache, use_cache=True
        )
        h = out.last_hidden_state[:, -1:]
        w = self.action_token_weight()
        emb_layer = self.language_model.get_input_embeddings()
        next_pos = pos[:, -1:] + 1
        kv_valid = pvalid
        picks = []
        for _ in range(n_act):
            j = F.linear(h, w).argmax(-1)  # [B, 1]
            picks.append(j)
            tok = j + (self.vocab_size - self.arch.n_action_bins)
            kv_valid = torch.cat([kv_valid, torch.ones_like(kv_valid[:, :1])], dim=1)
            step_mask = torch.zeros(kv_valid.shape, dtype=prefix.dtype, device=prefix.device)
            step_mask = step_mask.masked_fill(~kv_valid, torch.finfo(prefix.dtype).min)[:, None, None, :]
            out = self.language_model.model(
                inputs_embeds=emb_layer(tok), attention_mask=step_mask, position_ids=next_pos,
                past_key_values=out.past_key_values, use_cache=True,
            )  # fmt: skip
            h = out.last_hidden_state
            next_pos = next_pos + 1
        return torch.cat(picks, dim=1).reshape(-1, self.action_chunk, self.action_dim)
