"""Flow-matching action head of GR00T N1.5 (names as in ``action_head.*`` of the official checkpoint)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vlarl_gr00t.dit import DiT, SelfAttentionTransformer


class CategorySpecificLinear(nn.Module):
    """One weight slice per embodiment id: W [E, in, out], b [E, out]."""

    def __init__(self, num_categories: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.W = nn.Parameter(0.02 * torch.randn(num_categories, in_dim, out_dim))
        self.b = nn.Parameter(torch.zeros(num_categories, out_dim))

    def forward(self, x: torch.Tensor, cat_ids: torch.Tensor) -> torch.Tensor:
        return torch.bmm(x, self.W[cat_ids]) + self.b[cat_ids].unsqueeze(1)


class CategorySpecificMLP(nn.Module):
    def __init__(self, num_categories: int, in_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.layer1 = CategorySpecificLinear(num_categories, in_dim, hidden)
        self.layer2 = CategorySpecificLinear(num_categories, hidden, out_dim)

    def forward(self, x: torch.Tensor, cat_ids: torch.Tensor) -> torch.Tensor:
        return self.layer2(F.relu(self.layer1(x, cat_ids)), cat_ids)


def sincos_encoding(timesteps: torch.Tensor, dim: int) -> torch.Tensor:
    """[sin | cos] encoding of [B, T] timesteps -> [B, T, dim] (the action encoder's tau embedding)."""
    half = dim // 2
    freqs = torch.exp(-torch.arange(half, dtype=torch.float32, device=timesteps.device) * (math.log(10000.0) / half))
    args = timesteps.float().unsqueeze(-1) * freqs
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


class MultiEmbodimentActionEncoder(nn.Module):
    def __init__(self, action_dim: int, hidden: int, num_embodiments: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.W1 = CategorySpecificLinear(num_embodiments, action_dim, hidden)
        self.W2 = CategorySpecificLinear(num_embodiments, 2 * hidden, hidden)
        self.W3 = CategorySpecificLinear(num_embodiments, hidden, hidden)

    def forward(self, actions: torch.Tensor, timesteps: torch.Tensor, cat_ids: torch.Tensor) -> torch.Tensor:
        b, t, _ = actions.shape
        a = self.W1(actions, cat_ids)
        tau = sincos_encoding(timesteps.unsqueeze(1).expand(b, t), self.hidden).to(a.dtype)
        x = F.silu(self.W2(torch.cat([a, tau], dim=-1), cat_ids))
        return self.W3(x, cat_ids)


def timestep_bucket(k: torch.Tensor, num_steps: int, num_buckets: int) -> torch.Tensor:
    """Discrete timestep of Euler step k: ``int(k / float(K) * num_buckets)`` in float64, as upstream get_action."""
    return (k.to(torch.float64) / float(num_steps) * num_buckets).to(torch.long)


class FlowMatchingActionHead(nn.Module):
    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        self.cfg = cfg
        hidden, emb = cfg["hidden_size"], cfg["input_embedding_dim"]
        n_emb = cfg["max_num_embodiments"]
        self.action_horizon = cfg["action_horizon"]
        self.action_dim = cfg["action_dim"]  # upstream's head works at action_dim (max_action_dim only pads data)
        self.max_state_dim = cfg["max_state_dim"]
        self.num_timestep_buckets = cfg["num_timestep_buckets"]
        self.model = DiT(cfg["diffusion_model_cfg"])
        self.state_encoder = CategorySpecificMLP(n_emb, self.max_state_dim, hidden, emb)
        self.action_encoder = MultiEmbodimentActionEncoder(cfg["action_dim"], emb, n_emb)
        self.action_decoder = CategorySpecificMLP(n_emb, hidden, hidden, cfg["action_dim"])
        self.future_tokens = nn.Embedding(cfg["num_target_vision_tokens"], emb)
        use_vlln = cfg["use_vlln"]
        self.vlln: nn.Module = nn.LayerNorm(cfg["backbone_embedding_dim"]) if use_vlln else nn.Identity()
        self.vl_self_attention: nn.Module | None = (
            SelfAttentionTransformer(cfg["vl_self_attention_cfg"]) if use_vlln else None
        )
        self.position_embedding = nn.Embedding(cfg["max_seq_len"], emb) if cfg["add_pos_embed"] else None
        nn.init.normal_(self.future_tokens.weight, std=0.02)
        if self.position_embedding is not None:
            nn.init.normal_(self.position_embedding.weight, std=0.02)

    def encode_context(self, vl_tokens: torch.Tensor, vl_mask: torch.Tensor | None = None) -> torch.Tensor:
        """vlln then vl_self_attention (process_backbone_output); upstream passes no mask."""
        x = self.vlln(vl_tokens)
        if self.vl_self_attention is not None:
            x = self.vl_self_attention(x, vl_mask)
        return x

    def encode_state(self, state: torch.Tensor, cat_ids: torch.Tensor) -> torch.Tensor:
        """state [B, max_state_dim] -> [B, 1, input_embedding_dim]."""
        return self.state_encoder(state.unsqueeze(1), cat_ids)

    def velocity(
        self,
        x: torch.Tensor,
        k: torch.Tensor,
        num_steps: int,
        context: torch.Tensor,
        context_mask: torch.Tensor | None,
        state_features: torch.Tensor,
        cat_ids: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Velocity [B, H, A] at step indices k [B] (t = k/K; 0 = noise, 1 = action) and the DiT action-token features."""
        t_disc = timestep_bucket(k, num_steps, self.num_timestep_buckets)
        return self.predict(x, t_disc, context, context_mask, state_features, cat_ids)

    def predict(
        self,
        x: torch.Tensor,
        t_disc: torch.Tensor,
        context: torch.Tensor,
        context_mask: torch.Tensor | None,
        state_features: torch.Tensor,
        cat_ids: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Velocity [B, H, A] at x and discrete timesteps t_disc [B] (long, 0..num_timestep_buckets), and the
        DiT action-token features: the body shared by get_action (lines 382-401) and forward (lines 316-338)."""
        b = x.shape[0]
        a = self.action_encoder(x, t_disc, cat_ids)
        if self.position_embedding is not None:
            a = a + self.position_embedding.weight[: a.shape[1]].unsqueeze(0)
        future = self.future_tokens.weight.unsqueeze(0).expand(b, -1, -1)
        seq = torch.cat([state_features, future, a], dim=1)
        out = self.model(seq, context, t_disc, context_mask)
        feats = out[:, -self.action_horizon :]
        return self.action_decoder(feats, cat_ids), feats
