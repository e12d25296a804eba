"""Image preprocessing against hand-computed values (the official TF functions: test_openvla_oft_tf_image.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vlarl_openvla_oft.arch import IMAGENET_MEAN, IMAGENET_STD, SIGLIP_MEAN, SIGLIP_STD
from vlarl_openvla_oft.preprocess import bicubic_resize, center_crop_resize, preprocess, resize
from vlarl_openvla_oft.tokenizer import ByteTokenizer, format_prompt

MS = [(IMAGENET_MEAN, IMAGENET_STD), (SIGLIP_MEAN, SIGLIP_STD)]


def test_normalization_per_backbone_by_hand():
    img = torch.zeros(1, 1, 3, 4, 4, dtype=torch.uint8)
    img[..., 0, :, :] = 255
    img[..., 1, :, :] = 0
    img[..., 2, :, :] = 51
    out = preprocess(img, 4, MS)
    assert out.shape == (1, 1, 6, 4, 4)
    want = [
        (1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0.2 - 0.406) / 0.225,  # DINOv2: ImageNet mean/std
        (1 - 0.5) / 0.5, (0 - 0.5) / 0.5, (0.2 - 0.5) / 0.5,  # SigLIP: 0.5/0.5
    ]  # fmt: skip
    for c, w in enumerate(want):
        assert torch.allclose(out[0, 0, c], torch.full((4, 4), w), atol=1e-6), c


@pytest.mark.parametrize("method", ["jpeg_lanczos", "lanczos", "bicubic"])
def test_resize_is_identity_at_target_size_and_keeps_constants(method):
    img = torch.randint(0, 256, (2, 3, 224, 224), dtype=torch.uint8)
    assert torch.equal(resize(img, 224, method), img)  # official: no JPEG, no resampling at the model size
    const = torch.full((1, 3, 256, 192), 77, dtype=torch.uint8)
    assert torch.equal(resize(const, 224, method), torch.full((1, 3, 224, 224), 77, dtype=torch.uint8))


def test_bicubic_option_close_to_pil_bicubic():
    from PIL import Image

    y, x = np.mgrid[0:256, 0:256]
    arr = np.stack([(x + y) / 2, x, 255 - y], -1).astype(np.uint8)  # smooth ramps
    pil = np.asarray(Image.fromarray(arr).resize((224, 224), Image.BICUBIC)).astype(int)
    ours = bicubic_resize(torch.from_numpy(arr).permute(2, 0, 1)[None], 224)[0].permute(1, 2, 0).numpy().astype(int)
    assert np.abs(pil - ours)[4:-4, 4:-4].max() <= 2  # kernels differ slightly (see README)


def test_center_crop_matches_tf_crop_and_resize_by_hand():
    h = w = 10
    ramp = torch.arange(w, dtype=torch.float32).mul(25).repeat(h, 1)  # value = 25 * column
    img = ramp.to(torch.uint8)[None, None].repeat(1, 3, 1, 1)
    out = center_crop_resize(img)
    side = math.sqrt(0.9)
    off = (1 - side) / 2
    for col in (0, 4, 9):
        src = off * (w - 1) + col * side * (w - 1) / (w - 1)  # TF crop_and_resize sample position
        lo = math.floor(src)
        val = (25 * lo * (1 - (src - lo)) + 25 * min(lo + 1, w - 1) * (src - lo)) / 255
        assert out[0, 0, 5, col].item() == math.floor(val * 255.5), col
    const = torch.full((1, 3, 10, 10), 200, dtype=torch.uint8)
    assert torch.equal(center_crop_resize(const), const)


def test_prompt_format_and_byte_tokenizer():
    assert (
        format_prompt("Put the Bowl on the plate")
        == "In: What action should the robot take to put the bowl on the plate?\nOut:"
    )
    tok = ByteTokenizer()
    ids = tok.encode("Ab")
    assert ids == [1, ord("A") + 3, ord("b") + 3]
