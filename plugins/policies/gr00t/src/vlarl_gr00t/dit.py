"""The DiT of the GR00T N1.5 action head, written natively.

Module and parameter names follow the official checkpoint (which used
diffusers' ``Attention``/``FeedForward``/``TimestepEmbedding``), so the
safetensors keys ``action_head.model.*`` and ``action_head.vl_self_attention.*``
load without renaming.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vlarl.errors import ConfigError


def timestep_sincos(timesteps: torch.Tensor, dim: int = 256) -> torch.Tensor:
    """diffusers ``Timesteps(dim, flip_sin_to_cos=True, downscale_freq_shift=1)``: [cos | sin]."""
    half = dim // 2
    exponent = -math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=timesteps.device) / (half - 1)
    args = timesteps.float()[:, None] * torch.exp(exponent)[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class TimestepEmbedding(nn.Module):
    def __init__(self, in_channels: int, dim: int) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, dim)
        self.act = nn.SiLU()
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.act(self.linear_1(x)))


class TimestepEncoder(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.timestep_embedder = TimestepEmbedding(256, dim)

    def forward(self, timesteps: torch.Tensor) -> torch.Tensor:
        dtype = self.timestep_embedder.linear_1.weight.dtype
        return self.timestep_embedder(timestep_sincos(timesteps).to(dtype))


class AdaLayerNorm(nn.Module):
    """LayerNorm without affine, scaled and shifted by the timestep embedding."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.silu = nn.SiLU()
        self.linear = nn.Linear(dim, 2 * dim)
        self.norm = nn.LayerNorm(dim, eps, elementwise_affine=False)

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.linear(self.silu(temb)).chunk(2, dim=1)
        return self.norm(x) * (1 + scale[:, None]) + shift[:, None]


class Attention(nn.Module):
    """Multi-head (cross-)attention with diffusers' parameter names (to_q/to_k/to_v/to_out.0)."""

    def __init__(self, dim: int, heads: int, head_dim: int, dropout: float, bias: bool, cross_dim: int | None) -> None:
        super().__init__()
        inner = heads * head_dim
        kv_dim = cross_dim if cross_dim is not None else dim
        self.heads = heads
        self.to_q = nn.Linear(dim, inner, bias=bias)
        self.to_k = nn.Linear(kv_dim, inner, bias=bias)
        self.to_v = nn.Linear(kv_dim, inner, bias=bias)
        self.to_out = nn.ModuleList([nn.Linear(inner, dim, bias=True), nn.Dropout(dropout)])

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        ctx = x if context is None else context
        b, n, _ = x.shape
        q = self.to_q(x).view(b, n, self.heads, -1).transpose(1, 2)
        k = self.to_k(ctx).view(b, ctx.shape[1], self.heads, -1).transpose(1, 2)
        v = self.to_v(ctx).view(b, ctx.shape[1], self.heads, -1).transpose(1, 2)
        attn_mask = None if mask is None else mask[:, None, None, :].bool()
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        out = out.transpose(1, 2).reshape(b, n, -1)
        return self.to_out[1](self.to_out[0](out))


# diffusers FeedForward activation_fn -> torch gelu "approximate" argument (the ones GR00T configs use).
ACTIVATIONS = {"gelu-approximate": "tanh", "gelu": "none"}


class GELUProj(nn.Module):
    def __init__(self, dim: int, inner: int, approximate: str = "tanh") -> None:
        super().__init__()
        self.proj = nn.Linear(dim, inner)
        self.approximate = approximate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.proj(x), approximate=self.approximate)


class FeedForward(nn.Module):
    """diffusers ``FeedForward`` (gelu / gelu-approximate): net.0.proj, net.1 dropout, net.2, net.3 dropout."""

    def __init__(
        self, dim: int, dropout: float, final_dropout: bool, activation_fn: str = "gelu-approximate", mult: int = 4
    ) -> None:
        super().__init__()
        if activation_fn not in ACTIVATIONS:
            raise ConfigError(
                f"activation_fn={activation_fn!r} is not supported.", f"Use one of: {', '.join(ACTIVATIONS)}."
            )
        inner = dim * mult
        layers: list[nn.Module] = [
            GELUProj(dim, inner, ACTIVATIONS[activation_fn]),
            nn.Dropout(dropout),
            nn.Linear(inner, dim),
        ]
        if final_dropout:
            layers.append(nn.Dropout(dropout))
        self.net = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.net:
            x = layer(x)
        return x


def sinusoidal_table(dim: int, length: int) -> torch.Tensor:
    position = torch.arange(length).unsqueeze(1)
    div = torch.exp(torch.arange(0, dim, 2) * (-math.log(10000.0) / dim))
    pe = torch.zeros(1, length, dim)
    pe[0, :, 0::2] = torch.sin(position * div)
    pe[0, :, 1::2] = torch.cos(position * div)
    return pe


class SinusoidalPositionalEmbedding(nn.Module):
    def __init__(self, dim: int, length: int) -> None:
        super().__init__()
        self.register_buffer("pe", sinusoidal_table(dim, length))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pe[:, : x.shape[1]]


class BasicTransformerBlock(nn.Module):
    """cross_attention_dit.BasicTransformerBlock: (Ada)LayerNorm -> attention -> residual -> LayerNorm -> FF."""

    def __init__(
        self,
        dim: int,
        heads: int,
        head_dim: int,
        dropout: float,
        cross_dim: int | None,
        norm_type: str,
        affine: bool,
        final_dropout: bool,
        positional_embeddings: str | None,
        max_positions: int,
        attention_bias: bool,
        activation_fn: str = "gelu-approximate",
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.ada_norm = norm_type == "ada_norm"
        self.pos_embed = (
            SinusoidalPositionalEmbedding(dim, max_positions) if positional_embeddings == "sinusoidal" else None
        )
        # Upstream builds AdaLayerNorm(dim) with its own eps (1e-5) and every other norm type as a LayerNorm.
        self.norm1: nn.Module = (
            AdaLayerNorm(dim) if self.ada_norm else nn.LayerNorm(dim, eps, elementwise_affine=affine)
        )
        self.attn1 = Attention(dim, heads, head_dim, dropout, attention_bias, cross_dim)
        self.norm3 = nn.LayerNorm(dim, eps, elementwise_affine=affine)
        self.ff = FeedForward(dim, dropout, final_dropout, activation_fn)
        self.final_dropout = nn.Dropout(dropout) if final_dropout else None

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        context_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
    ) -> torch.Tensor:
        h = self.norm1(x, temb) if self.ada_norm else self.norm1(x)
        if self.pos_embed is not None:
            h = self.pos_embed(h)
        a = self.attn1(h, context, context_mask)
        if self.final_dropout is not None:
            a = self.final_dropout(a)
        x = x + a
        return x + self.ff(self.norm3(x))


class DiT(nn.Module):
    """Blocks alternate cross-attention to the VL tokens (even) and self-attention (odd) when interleaved."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        heads, head_dim = cfg["num_attention_heads"], cfg["attention_head_dim"]
        self.inner_dim = heads * head_dim
        self.interleave = bool(cfg["interleave_self_attention"])
        self.timestep_encoder = TimestepEncoder(self.inner_dim)
        blocks = []
        for idx in range(cfg["num_layers"]):
            self_only = self.interleave and idx % 2 == 1
            blocks.append(
                BasicTransformerBlock(
                    self.inner_dim,
                    heads,
                    head_dim,
                    cfg["dropout"],
                    None if self_only else cfg["cross_attention_dim"],
                    norm_type=cfg["norm_type"],
                    affine=cfg["norm_elementwise_affine"],
                    final_dropout=cfg["final_dropout"],
                    positional_embeddings=cfg["positional_embeddings"],
                    max_positions=cfg["max_num_positional_embeddings"],
                    attention_bias=cfg["attention_bias"],
                    activation_fn=cfg["activation_fn"],
                    eps=cfg["norm_eps"],
                )
            )
        self.transformer_blocks = nn.ModuleList(blocks)
        self.norm_out = nn.LayerNorm(self.inner_dim, eps=1e-6, elementwise_affine=False)
        self.proj_out_1 = nn.Linear(self.inner_dim, 2 * self.inner_dim)
        self.proj_out_2 = nn.Linear(self.inner_dim, cfg["output_dim"])

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, timestep: torch.Tensor, context_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        temb = self.timestep_encoder(timestep)
        for idx, block in enumerate(self.transformer_blocks):
            self_only = self.interleave and idx % 2 == 1
            # Upstream passes no encoder mask (context_mask None); a mask is vlarl's vl_padding_mask option.
            x = block(x, None if self_only else context, None if self_only else context_mask, temb)
        shift, scale = self.proj_out_1(F.silu(temb)).chunk(2, dim=1)
        x = self.norm_out(x) * (1 + scale[:, None]) + shift[:, None]
        return self.proj_out_2(x)


class SelfAttentionTransformer(nn.Module):
    """The VL self-attention stack applied to backbone tokens before the DiT (LayerNorm with affine)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        heads, head_dim = cfg["num_attention_heads"], cfg["attention_head_dim"]
        dim = heads * head_dim
        self.transformer_blocks = nn.ModuleList(
            [
                BasicTransformerBlock(
                    dim,
                    heads,
                    head_dim,
                    cfg["dropout"],
                    None,
                    norm_type="layer_norm",  # BasicTransformerBlock's defaults: SelfAttentionTransformer passes none
                    affine=True,
                    final_dropout=cfg["final_dropout"],
                    positional_embeddings=cfg["positional_embeddings"],
                    max_positions=cfg["max_num_positional_embeddings"],
                    attention_bias=cfg["attention_bias"],
                    activation_fn=cfg["activation_fn"],
                )
                for _ in range(cfg["num_layers"])
            ]
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Upstream takes no mask (padded tokens take part); ``mask`` [B, S] is vlarl's vl_padding_mask option."""
        for block in self.transformer_blocks:
            x = block(x, None, mask)
        return x
