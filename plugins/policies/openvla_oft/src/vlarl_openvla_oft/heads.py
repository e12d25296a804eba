"""Small heads: OFT's proprio projector and L1-regression action head (official names), and the value head."""

from __future__ import annotations

import torch
from torch import nn


class ProprioProjector(nn.Module):
    """proprio [B, P] -> one LLM embedding [B, H] (names as prismatic/models/projectors.py)."""

    def __init__(self, llm_dim: int, proprio_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(proprio_dim, llm_dim)
        self.fc2 = nn.Linear(llm_dim, llm_dim)
        self.act_fn1 = nn.GELU()

    def forward(self, proprio: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act_fn1(self.fc1(proprio)))


class MLPResNetBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.ffn = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.ffn(x)


class MLPResNet(nn.Module):
    def __init__(self, num_blocks: int, input_dim: int, hidden_dim: int, output_dim: int) -> None:
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(input_dim)
        self.fc1 = nn.Linear(input_dim, hidden_dim)
        self.relu = nn.ReLU()
        self.mlp_resnet_blocks = nn.ModuleList([MLPResNetBlock(hidden_dim) for _ in range(num_blocks)])
        self.layer_norm2 = nn.LayerNorm(hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.fc1(self.layer_norm1(x)))
        for block in self.mlp_resnet_blocks:
            x = block(x)
        return self.fc2(self.layer_norm2(x))


class L1RegressionActionHead(nn.Module):
    """Hidden states of the C*A action positions -> normalized actions [B, C, A] (official layout)."""

    def __init__(self, llm_dim: int, action_dim: int) -> None:
        super().__init__()
        self.action_dim = action_dim
        self.model = MLPResNet(2, llm_dim * action_dim, llm_dim, action_dim)

    def forward(self, action_hidden: torch.Tensor, chunk: int) -> torch.Tensor:
        return self.model(action_hidden.reshape(action_hidden.shape[0], chunk, -1))


class ValueHead(nn.Module):
    """MLP on the hidden state at the first action position -> [B, out] values."""

    def __init__(self, llm_dim: int, out: int, hidden: tuple[int, int] = (512, 128)) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(llm_dim, hidden[0]),
            nn.GELU(),
            nn.Linear(hidden[0], hidden[1]),
            nn.GELU(),
            nn.Linear(hidden[1], out),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h.float())
