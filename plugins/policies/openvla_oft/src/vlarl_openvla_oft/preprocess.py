"""Image preprocessing identical in arithmetic to OpenVLA's (torch only, no torchvision/PIL).

Official pipeline (experiments/robot/openvla_utils.py + processing_prismatic.py):
1. optional center crop: TF ``crop_and_resize`` of the central sqrt(0.9) x sqrt(0.9) box, bilinear,
   back to the input size, then ``convert_image_dtype`` to uint8 (``floor(v * 255.5)``);
2. resize to the backbone size (bicubic, antialias) — skipped when the image already has that size,
   exactly as PIL returns a copy then; 3. ToTensor (/255); 4. per-backbone Normalize.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

CROP_SCALE = 0.9


def center_crop_resize(images: torch.Tensor, crop_scale: float = CROP_SCALE) -> torch.Tensor:
    """uint8 [..., 3, H, W] -> uint8 [..., 3, H, W]: TF crop_and_resize of the central box, bilinear."""
    shape = images.shape
    x = images.reshape(-1, *shape[-3:]).float() / 255.0
    h, w = shape[-2:]
    side = min(max(math.sqrt(crop_scale), 0.0), 1.0)
    off = (1.0 - side) / 2.0

    def coords(n: int) -> torch.Tensor:
        # TF: in = y1*(n-1) + i*(y2-y1)*(n-1)/(n_out-1)
        i = torch.arange(n, dtype=torch.float64)
        return off * (n - 1) + i * side * (n - 1) / max(n - 1, 1)

    ys, xs = coords(h), coords(w)
    y0, x0 = ys.floor().long(), xs.floor().long()
    y1, x1 = (y0 + 1).clamp(max=h - 1), (x0 + 1).clamp(max=w - 1)
    wy, wx = (ys - y0).float(), (xs - x0).float()
    top = x[..., y0, :][..., x0] * (1 - wx) + x[..., y0, :][..., x1] * wx
    bot = x[..., y1, :][..., x0] * (1 - wx) + x[..., y1, :][..., x1] * wx
    out = top * (1 - wy)[:, None] + bot * wy[:, None]
    out = torch.floor(out.clamp(0, 1) * 255.5).clamp(max=255).to(torch.uint8)
    return out.reshape(shape)


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 [M, 3, H, W] -> uint8 [M, 3, size, size], bicubic with antialias (identity at equal size)."""
    if images.shape[-2:] == (size, size):
        return images
    out = F.interpolate(images.float(), size=(size, size), mode="bicubic", antialias=True, align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8)


def preprocess(
    images: torch.Tensor,
    size: int,
    means_stds: list[tuple[tuple[float, ...], tuple[float, ...]]],
    center_crop: bool = False,
) -> torch.Tensor:
    """uint8 [N, K, 3, H, W] -> float32 [N, K, 3 * n_backbones, size, size] (channels stacked per backbone)."""
    n, k = images.shape[:2]
    x = images.reshape(n * k, *images.shape[2:])
    if center_crop:
        x = center_crop_resize(x)
    x = resize(x, size).float() / 255.0
    outs = []
    for mean, std in means_stds:
        m = torch.tensor(mean, dtype=x.dtype, device=x.device)[:, None, None]
        s = torch.tensor(std, dtype=x.dtype, device=x.device)[:, None, None]
        outs.append((x - m) / s)
    return torch.cat(outs, dim=1).reshape(n, k, 3 * len(means_stds), size, size)
