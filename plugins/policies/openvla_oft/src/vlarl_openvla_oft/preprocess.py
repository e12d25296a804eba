"""Image preprocessing of the official OpenVLA-OFT eval (torch, no torchvision / TensorFlow).

Official pipeline (experiments/robot/openvla_utils.py ``prepare_images_for_vla`` + processing_prismatic.py):
1. an image that is not ``size x size``: JPEG round trip + lanczos3 antialiased resize to ``size``
   (``resize_image_for_policy``); an image of the model size is left as it is;
2. optional center crop (``center_crop_image``: TF ``crop_and_resize`` of the central sqrt(0.9) box, back to
   ``size``, uint8 again);
3. the processor: resize to the backbone size (a copy at equal size), ToTensor (/255), per-backbone Normalize.
``resize`` picks step 1: ``jpeg_lanczos`` (official), ``lanczos`` (no JPEG) or ``bicubic`` (torch bicubic).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from vlarl_openvla_oft.tf_image import crop_and_resize, jpeg_roundtrip, lanczos_resize

CROP_SCALE = 0.9
RESIZE_METHODS = ("jpeg_lanczos", "lanczos", "bicubic")


def center_crop_resize(images: torch.Tensor, crop_scale: float = CROP_SCALE) -> torch.Tensor:
    """uint8 [..., 3, H, W] -> uint8 [..., 3, H, W]: the official center crop of an H x H image (H = W)."""
    shape = images.shape
    out = crop_and_resize(images.reshape(-1, *shape[-3:]), crop_scale, shape[-1])
    return out.reshape(shape)


def bicubic_resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 [M, 3, H, W] -> uint8 [M, 3, size, size], torch bicubic with antialias."""
    out = F.interpolate(images.float(), size=(size, size), mode="bicubic", antialias=True, align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8)


def resize(images: torch.Tensor, size: int, method: str = "jpeg_lanczos") -> torch.Tensor:
    """uint8 [M, 3, H, W] -> uint8 [M, 3, size, size]; identity when the images already have that size."""
    if images.shape[-2:] == (size, size):
        return images
    if method == "bicubic":
        return bicubic_resize(images, size)
    if method == "jpeg_lanczos":
        images = jpeg_roundtrip(images)
    elif method != "lanczos":
        raise ValueError(f"unknown resize method {method!r}; use one of {RESIZE_METHODS}")
    return lanczos_resize(images, size)


def preprocess(
    images: torch.Tensor,
    size: int,
    means_stds: list[tuple[tuple[float, ...], tuple[float, ...]]],
    center_crop: bool = False,
    resize_method: str = "jpeg_lanczos",
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """uint8 [N, K, 3, H, W] -> float32 [N, K, 3 * n_backbones, size, size] (channels stacked per backbone).

    ``augment`` (training only) maps the resized uint8 images [N*K, 3, size, size] to augmented ones, in place
    of the center crop (the official training pipeline augments the resized images and never center-crops)."""
    n, k = images.shape[:2]
    x = resize(images.reshape(n * k, *images.shape[2:]), size, resize_method)
    if augment is not None:
        x = augment(x)
    elif center_crop:
        x = center_crop_resize(x)
    x = x.float() / 255.0
    outs = []
    for mean, std in means_stds:
        m = torch.tensor(mean, dtype=x.dtype, device=x.device)[:, None, None]
        s = torch.tensor(std, dtype=x.dtype, device=x.device)[:, None, None]
        outs.append((x - m) / s)
    return torch.cat(outs, dim=1).reshape(n, k, 3 * len(means_stds), size, size)
