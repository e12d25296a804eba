"""Vision transformers with timm's parameter names (DINOv2 ViT-L/14-reg4, SigLIP So400m/14).

Written natively because every timm release imports torchvision at import time. Module and
parameter names follow ``timm.models.vision_transformer.VisionTransformer`` (timm 0.9.x, the
version OpenVLA pins), with LayerScale's ``gamma`` renamed ``scale_factor`` exactly as
OpenVLA's ``ls_apply_patch`` does, so official state dicts load without renaming.
The forward returns the patch tokens after the second-to-last block, unnormalized, without
prefix tokens: what OpenVLA gets from ``get_intermediate_layers(n={depth - 2})``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ViTArgs:
    embed_dim: int
    depth: int
    num_heads: int
    mlp_hidden: int
    patch_size: int = 14
    img_size: int = 224
    class_token: bool = True
    reg_tokens: int = 0
    no_embed_class: bool = False
    layer_scale: bool = False
    attn_pool: bool = False  # SigLIP's "map" head (unused by OpenVLA, present in its checkpoints)

    @property
    def num_patches(self) -> int:
        return (self.img_size // self.patch_size) ** 2

    @property
    def num_prefix_tokens(self) -> int:
        return int(self.class_token) + self.reg_tokens


# Real sizes of the timm model ids OpenVLA uses (timm/models/vision_transformer.py).
TIMM_VITS: dict[str, ViTArgs] = {
    "vit_large_patch14_reg4_dinov2.lvd142m": ViTArgs(
        1024, 24, 16, 4096, class_token=True, reg_tokens=4, no_embed_class=True, layer_scale=True
    ),
    "vit_so400m_patch14_siglip_224": ViTArgs(1152, 27, 16, int(1152 * 3.7362), class_token=False, attn_pool=True),
}


class PatchEmbed(nn.Module):
    def __init__(self, args: ViTArgs) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, args.embed_dim, args.patch_size, args.patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class LayerScale(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale_factor = nn.Parameter(torch.full((dim,), 1e-5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale_factor


class Block(nn.Module):
    def __init__(self, args: ViTArgs) -> None:
        super().__init__()
        d = args.embed_dim
        self.norm1 = nn.LayerNorm(d, eps=1e-6)
        self.attn = Attention(d, args.num_heads)
        self.ls1 = LayerScale(d) if args.layer_scale else nn.Identity()
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.mlp = Mlp(d, args.mlp_hidden)
        self.ls2 = LayerScale(d) if args.layer_scale else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class AttentionPoolLatent(nn.Module):
    """Parameters of timm's SigLIP "map" pooling head; kept so official checkpoints load strictly."""

    def __init__(self, args: ViTArgs) -> None:
        super().__init__()
        d = args.embed_dim
        self.latent = nn.Parameter(torch.zeros(1, 1, d))
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(d, 2 * d)
        self.proj = nn.Linear(d, d)
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.mlp = Mlp(d, args.mlp_hidden)


class VisionTransformer(nn.Module):
    def __init__(self, args: ViTArgs) -> None:
        super().__init__()
        self.args = args
        d = args.embed_dim
        self.embed_dim = d
        self.patch_embed = PatchEmbed(args)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d)) if args.class_token else None
        self.reg_token = nn.Parameter(torch.zeros(1, args.reg_tokens, d)) if args.reg_tokens else None
        pos_len = args.num_patches + (0 if args.no_embed_class else args.num_prefix_tokens)
        self.pos_embed = nn.Parameter(torch.randn(1, pos_len, d) * 0.02)
        self.blocks = nn.ModuleList([Block(args) for _ in range(args.depth)])
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.attn_pool = AttentionPoolLatent(args) if args.attn_pool else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] normalized pixels -> [B, num_patches, D] features of block ``depth - 2``."""
        x = self.patch_embed(x)
        prefix = []
        if self.cls_token is not None:
            prefix.append(self.cls_token.expand(x.shape[0], -1, -1))
        if self.reg_token is not None:
            prefix.append(self.reg_token.expand(x.shape[0], -1, -1))
        if self.args.no_embed_class:
            x = torch.cat([*prefix, x + self.pos_embed], dim=1)
        else:
            x = torch.cat([*prefix, x], dim=1) + self.pos_embed
        take = self.args.depth - 2
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            if i == take:
                break
        return x[:, self.args.num_prefix_tokens :]
