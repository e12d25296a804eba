"""The official OpenVLA-OFT train-time image augmentation (``finetune.py --image_aug True``), in torch.

``prismatic/vla/datasets/datasets.py`` (``RLDSDataset``, ``image_aug``) hands dlimp's ``augment_image`` these
settings: ``random_resized_crop`` (scale [0.9, 0.9], ratio [1.0, 1.0]), ``random_brightness`` [0.2],
``random_contrast`` [0.8, 1.2], ``random_saturation`` [0.8, 1.2], ``random_hue`` [0.05], in that order. dlimp
converts the uint8 image to float32 (x / 255), clips to [0, 1] after every op and converts back to uint8
(saturating, ``x * 255.5`` truncated). The images are already at the model size (the RLDS pipeline resizes
first), so the crop is resized back to the same size.

Every op is a TensorFlow *stateless* op, and dlimp gives all of them the same seed; each draws one number (the
crop two offsets of equal range), the first output of that seed's stream. So one uniform ``u`` per image sets
everything: crop box ``[o, o, o + s, o + s]`` with ``s = sqrt(0.9)``, ``o = u (1 - s)`` (the same offset on
both axes), brightness delta ``0.4 u - 0.2``, contrast and saturation factors ``0.8 + 0.4 u``, hue delta
``0.1 u - 0.05``. Each camera gets its own seed (``obs_transforms.augment``: ``seed + i``), hence its own ``u``.
The ops follow TensorFlow's CPU kernels in float32 (``crop_and_resize`` bilinear, ``AdjustContrastv2``'s halving
sum for the mean, ``AdjustSaturation``'s HSV and ``AdjustHue``'s hue/value-range conversions).
"""

from __future__ import annotations

import numpy as np
import torch

CROP_SCALE = (0.9, 0.9)
CROP_RATIO = (1.0, 1.0)
BRIGHTNESS = 0.2
CONTRAST = (0.8, 1.2)
SATURATION = (0.8, 1.2)
HUE = 0.05
F32 = torch.float32


def _uniform(u: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """``tf.random.stateless_uniform``'s affine map of its raw draw, in float32: ``u * (high - low) + low``."""
    lo, hi = torch.tensor(low, dtype=F32), torch.tensor(high, dtype=F32)
    return u * (hi - lo) + lo


def crop_boxes(u: torch.Tensor) -> torch.Tensor:
    """[M] draws -> [M, 4] normalized boxes (y1, x1, y2, x2) of dlimp's ``random_resized_crop``."""
    scale = _uniform(u, *CROP_SCALE)
    ratio = torch.exp(_uniform(u, float(np.log(np.float32(CROP_RATIO[0]))), float(np.log(np.float32(CROP_RATIO[1])))))
    # correctly rounded float32 square roots, as TF's (torch's float32 sqrt can be one ulp off)
    side_h = torch.sqrt((scale / ratio).double()).float().clamp(0, 1)
    side_w = torch.sqrt((scale * ratio).double()).float().clamp(0, 1)
    off_h, off_w = u * (1 - side_h), u * (1 - side_w)  # stateless_uniform(0, 1 - side): same u for both
    return torch.stack([off_h, off_w, off_h + side_h, off_w + side_w], dim=1)


def _taps(lo: torch.Tensor, hi: torch.Tensor, n_in: int, n_out: int) -> tuple[torch.Tensor, ...]:
    """TF crop_and_resize sample positions along one axis: (floor, ceil, lerp, inside) each [M, n_out], in
    NumPy float32 in the kernel's order (as ``tf_image.crop_and_resize``, the eval's center crop)."""
    y1, y2 = lo.cpu().numpy().astype(np.float32)[:, None], hi.cpu().numpy().astype(np.float32)[:, None]
    scale = (y2 - y1) * np.float32(n_in - 1) / np.float32(n_out - 1)
    pos = y1 * np.float32(n_in - 1) + np.arange(n_out, dtype=np.float32)[None] * scale
    inside = (pos >= 0) & (pos <= n_in - 1)
    floor = np.floor(pos)
    top, bottom = np.clip(floor, 0, n_in - 1).astype(np.int64), np.clip(np.ceil(pos), 0, n_in - 1).astype(np.int64)
    out = (top, bottom, (pos - floor).astype(np.float32), inside)
    return tuple(torch.from_numpy(a).to(lo.device) for a in out)


def crop_and_resize(x: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """float [M, 3, H, W], boxes [M, 4] -> [M, 3, H, W]: ``tf.image.crop_and_resize`` (bilinear, extrapolation 0)
    of each image's box back to its own size."""
    m, c, h, w = x.shape
    top, bottom, ly, in_y = _taps(boxes[:, 0], boxes[:, 2], h, h)
    left, right, lx, in_x = _taps(boxes[:, 1], boxes[:, 3], w, w)

    def rows(idx: torch.Tensor) -> torch.Tensor:
        return x.gather(2, idx[:, None, :, None].expand(m, c, h, w))

    def cols(r: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return r.gather(3, idx[:, None, None, :].expand(m, c, h, w))

    lx4, ly4 = lx[:, None, None, :], ly[:, None, :, None]
    t, b = rows(top), rows(bottom)
    upper = cols(t, left) + (cols(t, right) - cols(t, left)) * lx4
    lower = cols(b, left) + (cols(b, right) - cols(b, left)) * lx4
    out = upper + (lower - upper) * ly4
    inside = in_y[:, None, :, None] & in_x[:, None, None, :]
    return torch.where(inside, out, torch.zeros_like(out))


def adjust_contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``AdjustContrastv2``: per-channel mean by repeated halving sums, then ``mean + f (x - mean)``."""
    m, c, h, w = x.shape
    s = x.permute(0, 2, 3, 1).reshape(m, h * w, c)  # TF's HWC pixel order
    n = h * w
    while n > 1:
        right = n // 2
        left = n - right
        s = torch.cat([s[:, :right] + s[:, left : left + right], s[:, right:left]], dim=1)
        n = left
    mean = (s[:, 0] * (torch.tensor(1.0, dtype=F32) / torch.tensor(float(h * w), dtype=F32)))[:, :, None, None]
    return mean + factor[:, None, None, None] * (x - mean)


def _rgb_to_hsv(r: torch.Tensor, g: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, ...]:
    v = torch.maximum(r, torch.maximum(g, b))
    rng = v - torch.minimum(r, torch.minimum(g, b))
    s = torch.where(v > 0, rng / v, torch.zeros_like(v))
    norm = 1.0 / (6.0 * rng)
    # C++ adds the double constants 2/6 and 4/6 to a float product, then stores a float
    h = torch.where(
        r == v,
        norm * (g - b),
        torch.where(
            g == v, ((norm * (b - r)).double() + 2.0 / 6.0).float(), ((norm * (r - g)).double() + 4.0 / 6.0).float()
        ),
    )
    h = torch.where(rng <= 0, torch.zeros_like(h), h)
    return torch.where(h < 0, h + 1, h), s, v


def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, ...]:
    c = s * v
    m = v - c
    dh = h * 6
    cat = dh.long()
    fmodu = dh - 2 * torch.floor(dh / 2)  # the kernel's repeated +-2 (exact here)
    x = c * (1 - (fmodu - 1).abs())
    z = torch.zeros_like(c)
    table = [(c, x, z), (x, c, z), (z, c, x), (z, x, c), (x, z, c), (c, z, x)]
    out = []
    for ch in range(3):
        val = z
        for k, row in enumerate(table):
            val = torch.where(cat == k, row[ch], val)
        out.append(val + m)
    return tuple(out)


def adjust_saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``AdjustSaturation``: RGB -> HSV, ``s = clip(s * f, 0, 1)``, back to RGB."""
    h, s, v = _rgb_to_hsv(x[:, 0], x[:, 1], x[:, 2])
    s = (s * factor[:, None, None]).clamp(0, 1)
    return torch.stack(_hsv_to_rgb(h, s, v), dim=1)


def adjust_hue(x: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """``AdjustHue``: hue in [0, 6) with the min/max of the pixel kept, rotated by ``6 delta``."""
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    lt = r < g
    # the kernel's six orderings: (v_max, v_mid, v_min, category)
    cases = [
        (lt & (b < r), (g, r, b, 1)),
        (lt & ~(b < r) & (b > g), (b, g, r, 3)),
        (lt & ~(b < r) & ~(b > g), (g, b, r, 2)),
        (~lt & (b < g), (r, g, b, 0)),
        (~lt & ~(b < g) & (b > r), (b, r, g, 4)),
        (~lt & ~(b < g) & ~(b > r), (r, b, g, 5)),
    ]
    vmax, vmid, vmin, cat = torch.zeros_like(r), torch.zeros_like(r), torch.zeros_like(r), torch.zeros_like(r)
    for cond, (a_max, a_mid, a_min, k) in cases:
        vmax, vmid, vmin = (
            torch.where(cond, a_max, vmax),
            torch.where(cond, a_mid, vmid),
            torch.where(cond, a_min, vmin),
        )
        cat = torch.where(cond, torch.full_like(cat, float(k)), cat)
    ratio = (vmid - vmin) / (vmax - vmin)
    even = torch.remainder(cat, 2) == 0
    hue = torch.where(vmax == vmin, torch.zeros_like(cat), cat + torch.where(even, ratio, 1 - ratio))
    hue = hue + delta[:, None, None] * 6
    hue = torch.where(hue < 0, hue + 6, hue)
    hue = torch.where(hue >= 6, hue - 6, hue)
    k = hue.long()
    ratio = hue - k.float()
    ratio = torch.where(k % 2 == 1, 1 - ratio, ratio)
    mid = vmin + ratio * (vmax - vmin)
    table = [(vmax, mid, vmin), (mid, vmax, vmin), (vmin, vmax, mid), (vmin, mid, vmax), (mid, vmin, vmax)]
    out = []
    for ch in range(3):
        val = (vmax, vmin, mid)[ch]  # category 5 and the kernel's default
        for j, row in enumerate(table):
            val = torch.where(k == j, row[ch], val)
        out.append(val)
    return torch.stack(out, dim=1)


def official_image_aug(images: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """uint8 [M, 3, H, W] and one draw per image u [M] in [0, 1) -> augmented uint8 [M, 3, H, W]."""
    u = u.to(device=images.device, dtype=F32)
    x = images.float() * torch.tensor(1.0 / 255, dtype=F32)  # convert_image_dtype
    x = crop_and_resize(x, crop_boxes(u)).clamp(0, 1)
    x = (x + _uniform(u, -BRIGHTNESS, BRIGHTNESS)[:, None, None, None]).clamp(0, 1)
    x = adjust_contrast(x, _uniform(u, *CONTRAST)).clamp(0, 1)
    x = adjust_saturation(x, _uniform(u, *SATURATION)).clamp(0, 1)
    x = adjust_hue(x, _uniform(u, -HUE, HUE)).clamp(0, 1)
    return (x * np.float32(255.5)).clamp(0, 255).to(torch.uint8)  # saturate_cast truncates


def random_image_aug(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """uint8 [..., 3, H, W] -> the official augmentation with a fresh draw per image (torch's RNG)."""
    shape = images.shape
    flat = images.reshape(-1, *shape[-3:])
    u = torch.rand(flat.shape[0], generator=generator, dtype=F32)
    return official_image_aug(flat, u).reshape(shape)
