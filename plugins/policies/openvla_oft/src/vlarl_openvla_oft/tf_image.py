"""The TensorFlow image ops of the official OpenVLA-OFT eval, re-implemented in torch (float32, TF's op order).

``experiments/robot/openvla_utils.py`` uses, for an image that is not 224 x 224 (``resize_image_for_policy``):
``tf.image.encode_jpeg`` (quality 95, 4:2:0) -> ``tf.io.decode_image`` (libjpeg-turbo's fast integer IDCT, fancy
upsampling) -> ``tf.image.resize(method="lanczos3", antialias=True)`` -> round, clip, uint8; and for the eval's
center crop (``crop_and_resize``, area 0.9): ``convert_image_dtype`` to float -> ``tf.image.crop_and_resize``
(bilinear) -> clip -> ``convert_image_dtype`` back to uint8 (``floor(v * 255.5)``, saturated).
TensorFlow is not a dependency: JPEG goes through Pillow (encoder, same coefficients as TF's) and simplejpeg
(decoder with the fast IDCT TF selects); the two resamplers follow TF's kernels step by step.
"""

from __future__ import annotations

import functools
import io
import math

import numpy as np
import torch

LANCZOS_RADIUS = 3.0
TF_PI = np.float32(3.14159265359)  # the constant of TF's sampling_kernels.h
JPEG_QUALITY = 95  # tf.image.encode_jpeg's default


def jpeg_roundtrip(images: torch.Tensor, quality: int = JPEG_QUALITY) -> torch.Tensor:
    """uint8 [M, 3, H, W] -> uint8 [M, 3, H, W]: encode_jpeg + decode_image as TF does them by default."""
    import simplejpeg
    from PIL import Image

    out = []
    for img in images.permute(0, 2, 3, 1).cpu().numpy():
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(img)).save(buf, format="JPEG", quality=quality, subsampling="4:2:0")
        out.append(simplejpeg.decode_jpeg(buf.getvalue(), colorspace="RGB", fastdct=True, fastupsample=False))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous().to(images.device)


def _sinf(x: np.ndarray) -> np.ndarray:
    """float32 sine rounded from float64 (as a correctly rounded sinf; numpy's float32 sin is not)."""
    return np.sin(x.astype(np.float64)).astype(np.float32)


def _lanczos(x: np.ndarray) -> np.ndarray:
    """TF's LanczosKernelFunc(3) in float32: r sin(pi x) sin(pi x / r) / (pi^2 x^2), 1 near 0, 0 beyond r."""
    r = np.float32(LANCZOS_RADIUS)
    x = np.abs(x.astype(np.float32))
    px = TF_PI * x
    with np.errstate(divide="ignore", invalid="ignore"):
        w = r * _sinf(px) * _sinf(px / r) / (TF_PI * TF_PI * x * x)
    w = np.where(x <= np.float32(1e-3), np.float32(1.0), w)
    return np.where(x > r, np.float32(0.0), w).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _spans(out_size: int, in_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Start index [out] and weights [out, span] of TF's ComputeSpans (scale_and_translate, antialias).

    Cached per size pair (the arrays are read-only)."""
    scale = np.float32(out_size) / np.float32(in_size)
    inv_scale = np.float32(1.0 / float(scale))
    kernel_scale = max(inv_scale, np.float32(1.0))
    support = np.float32(LANCZOS_RADIUS) * kernel_scale
    span = min(2 * math.ceil(float(support)) + 1, in_size)
    one_over_kernel_scale = np.float32(1.0) / kernel_scale
    starts = np.zeros(out_size, np.int64)
    weights = np.zeros((out_size, span), np.float32)
    for x in range(out_size):
        sample = (np.float32(x) + np.float32(0.5)) * inv_scale
        if sample < 0 or sample > in_size:
            continue  # TF leaves an empty span (zeros)
        lo = min(max(math.ceil(float(sample - support - np.float32(0.5))), 0), in_size - 1)
        hi = min(max(math.floor(float(sample + support - np.float32(0.5))), 0), in_size - 1) + 1
        pos = np.arange(lo, hi).astype(np.float32) + np.float32(0.5) - sample
        w = _lanczos(pos * one_over_kernel_scale)
        total = np.float32(0.0)
        for v in w:  # sequential float32 sum, as TF
            total = np.float32(total + v)
        if abs(total) >= 1000.0 * np.finfo(np.float32).tiny:
            weights[x, : hi - lo] = w * (np.float32(1.0) / total)
        starts[x] = lo
    starts.flags.writeable = weights.flags.writeable = False
    return starts, weights


def _take(x: torch.Tensor, idx: torch.Tensor, dim: int) -> torch.Tensor:
    """``x.index_select(dim, idx)`` for dim 2 or 3 of [M, C, H, W] (advanced indexing: much faster on CPU)."""
    return x[:, :, idx] if dim == 2 else x[..., idx]


def _gather_rows(x: torch.Tensor, starts: np.ndarray, weights: np.ndarray) -> torch.Tensor:
    """Weighted sums over dim 2 of [M, C, H, W], accumulated tap by tap in float32 (TF's GatherRows order)."""
    out = None
    for k in range(weights.shape[1]):
        idx = torch.from_numpy(np.minimum(starts + k, x.shape[2] - 1)).to(x.device)
        term = x[:, :, idx]
        term.mul_(torch.tensor(weights[:, k], device=x.device).reshape(1, 1, -1, 1))
        out = term if out is None else out.add_(term)
    assert out is not None
    return out


def lanczos_resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 [M, 3, H, W] -> uint8 [M, 3, size, size]: tf.image.resize(lanczos3, antialias=True), round, clip."""
    h, w = images.shape[-2:]
    x = _gather_rows(images.float(), *_spans(size, h))  # rows first, as TF's GatherSpans
    x = _gather_rows(x.transpose(2, 3).contiguous(), *_spans(size, w)).transpose(2, 3)  # then columns
    return x.round().clamp(0, 255).to(torch.uint8).contiguous()


def crop_and_resize(images: torch.Tensor, crop_scale: float, size: int) -> torch.Tensor:
    """uint8 [M, 3, H, W] -> uint8 [M, 3, size, size]: the official center crop (TF crop_and_resize, bilinear)."""
    h, w = images.shape[-2:]
    x = images.float() * torch.tensor(1.0 / 255, dtype=torch.float32)  # convert_image_dtype: cast, then * 1/max
    side = np.clip(np.sqrt(np.float32(crop_scale)), np.float32(0), np.float32(1)).astype(np.float32)
    y1 = (np.float32(1) - side) / np.float32(2)
    y2 = y1 + side

    def taps(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        step = (y2 - y1) * np.float32(n - 1) / np.float32(size - 1) if size > 1 else np.float32(0)
        i = np.arange(size, dtype=np.float32)
        pos = (y1 * np.float32(n - 1) + i * step) if size > 1 else np.full(size, 0.5 * (y1 + y2) * (n - 1), np.float32)
        lo, hi = np.floor(pos).astype(np.int64), np.ceil(pos).astype(np.int64)
        lerp = (pos - lo.astype(np.float32)).astype(np.float32)
        return torch.from_numpy(lo), torch.from_numpy(hi), torch.from_numpy(lerp)

    top, bottom, ly = taps(h)
    left, right, lx = taps(w)
    lx = lx.to(x.device)
    ly = ly.to(x.device)[:, None]

    def row(r: torch.Tensor) -> torch.Tensor:
        a = _take(x, r.to(x.device), 2)
        tl, tr = _take(a, left.to(x.device), 3), _take(a, right.to(x.device), 3)
        return tl + (tr - tl) * lx

    t, b = row(top), row(bottom)
    out = (t + (b - t) * ly).clamp(0, 1)
    return (out * np.float32(255.5)).clamp(0, 255).to(torch.uint8)  # saturate_cast truncates
