"""GR00T N1.5 = Eagle backbone + flow-matching action head (state-dict prefixes ``backbone.`` / ``action_head.``)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vlarl_gr00t.action_head import FlowMatchingActionHead
from vlarl_gr00t.backbone import EagleBackbone


class Gr00tN15(nn.Module):
    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = EagleBackbone(cfg["backbone_cfg"], cfg["eagle_cfg"])
        self.action_head = FlowMatchingActionHead(cfg["action_head_cfg"])


def disable_dropout(module: nn.Module) -> int:
    """Replace every nn.Dropout with nn.Identity (in place); returns how many were replaced."""
    count = 0
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Dropout):
            setattr(module, name, nn.Identity())
            count += 1
        else:
            count += disable_dropout(child)
    # HF attention reads its dropout from the config, not from a module.
    for sub in module.modules():
        config = getattr(sub, "config", None)
        if config is not None and hasattr(config, "attention_dropout"):
            config.attention_dropout = 0.0
        if hasattr(sub, "attention_dropout") and isinstance(sub.attention_dropout, float):
            sub.attention_dropout = 0.0
    return count


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build_on_meta(cfg: dict[str, Any]) -> Gr00tN15:
    with torch.device("meta"):
        return Gr00tN15(cfg)
