"""Camera images -> the uint8 views the Eagle processor gets, as the official eval transforms make them.

The data configs (gr00t/experiment/data_config.py:171-173, examples/Libero/custom_data_config.py) chain, in
eval mode: ``VideoToTensor`` (uint8 / 255 in float32), ``VideoCrop(scale=0.95)`` = torchvision ``CenterCrop`` to
(int(H 0.95), int(W 0.95)), ``VideoResize(224, 224, "linear", antialias=True)``, ``VideoColorJitter`` (identity in
eval) and ``VideoToNumpy`` = ``(x * 255).to(uint8)``, which truncates. The Eagle image processor then takes one
224 tile per view (no resize) and scales it to [-1, 1] (:func:`pixel_values`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def center_crop_box(height: int, width: int, scale: float) -> tuple[int, int, int, int]:
    """(top, left, crop height, crop width) of torchvision's CenterCrop((int(H scale), int(W scale)))."""
    ch, cw = int(height * scale), int(width * scale)
    return round((height - ch) / 2.0), round((width - cw) / 2.0), ch, cw


def preprocess(images: torch.Tensor, size: int, crop_scale: float) -> torch.Tensor:
    """uint8 [N, 3, H, W] -> uint8 [N, 3, size, size]: center crop, bilinear antialiased resize, truncation."""
    x = images.to(torch.float32) / 255.0
    if crop_scale != 1.0:
        top, left, ch, cw = center_crop_box(x.shape[-2], x.shape[-1], crop_scale)
        x = x[..., top : top + ch, left : left + cw]
    if tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return (x * 255).to(torch.uint8)


def pixel_values(images: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """uint8 [N, V, 3, S, S] -> [N*V, 3, S, S]: rescale 1/255, normalize mean = std = 0.5 (preprocessor_config.json)."""
    x = images.flatten(0, 1).to(dtype) / 255.0
    return (x - 0.5) / 0.5
