"""Image preprocessing against the official eval's TensorFlow functions (golden/tf_image_ops.npz).

The arrays were written by golden/make_tf_image_golden.py, which runs ``resize_image_for_policy``,
``center_crop_image`` and ``prepare_images_for_vla`` of experiments/robot/openvla_utils.py unchanged under
TensorFlow 2.21. Images are HWC there, channels first here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vlarl_openvla_oft.arch import IMAGENET_MEAN, IMAGENET_STD, SIGLIP_MEAN, SIGLIP_STD
from vlarl_openvla_oft.preprocess import center_crop_resize, preprocess, resize
from vlarl_openvla_oft.tf_image import lanczos_resize

GOLDEN = Path(__file__).parent / "golden"
MS = [(IMAGENET_MEAN, IMAGENET_STD), (SIGLIP_MEAN, SIGLIP_STD)]


@pytest.fixture(scope="module")
def tf_ops() -> dict[str, np.ndarray]:
    with np.load(GOLDEN / "tf_image_ops.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def chw(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None]


def hwc(t: torch.Tensor) -> np.ndarray:
    return t[0].permute(1, 2, 0).numpy()


def assert_uint8_match(got: np.ndarray, want: np.ndarray, what: str, max_frac: float = 0.0) -> None:
    """Equal, or (max_frac > 0) at most 1 apart at no more than max_frac of the values (float32 rounding ties)."""
    assert got.shape == want.shape and got.dtype == want.dtype == np.uint8, what
    diff = np.abs(got.astype(int) - want.astype(int))
    frac = float((diff > 0).mean())
    assert diff.max() <= (1 if max_frac else 0) and frac <= max_frac, f"{what}: max {diff.max()}, {frac:.2e} differ"


@pytest.mark.parametrize("name", ["img256", "img120x160"])
def test_jpeg_roundtrip_and_lanczos_resize_match_resize_image_for_policy(tf_ops, name):
    got = hwc(resize(chw(tf_ops[f"in_{name}"]), 224))  # default method: jpeg_lanczos
    assert_uint8_match(got, tf_ops[f"resize_{name}"], f"resize_image_for_policy({name}, 224)", max_frac=1e-4)


def test_lanczos_alone_matches_tf_resize(tf_ops):
    got = hwc(lanczos_resize(chw(tf_ops["in_img256"]), 224))
    assert_uint8_match(got, tf_ops["lanczos_img256"], "tf.image.resize(lanczos3, antialias=True)", max_frac=1e-3)


def test_jpeg_is_what_the_official_resize_does(tf_ops):
    """Without the JPEG round trip the result is not the official one: the step matters."""
    plain = hwc(resize(chw(tf_ops["in_img256"]), 224, method="lanczos"))
    assert np.abs(plain.astype(int) - tf_ops["resize_img256"].astype(int)).max() > 1


def test_center_crop_matches_center_crop_image(tf_ops):
    with np.load(GOLDEN / "reference_outputs.npz", allow_pickle=False) as z:
        image = z["main_images"][0]
    assert_uint8_match(hwc(center_crop_resize(chw(image))), tf_ops["crop_main_image_s0"], "center_crop_image")


def test_pipeline_matches_prepare_images_for_vla_with_center_crop(tf_ops):
    """256 px camera -> JPEG + lanczos to 224 -> center crop -> processor (ToTensor, Normalize)."""
    images = chw(tf_ops["in_img256"])[None]  # [N=1, K=1, 3, H, W]
    got = preprocess(images, 224, MS, center_crop=True)[0, 0]
    x = torch.from_numpy(tf_ops["prepare_crop_img256"]).permute(2, 0, 1).float() / 255.0
    want = torch.cat([(x - torch.tensor(m)[:, None, None]) / torch.tensor(s)[:, None, None] for m, s in MS])
    assert torch.allclose(got, want, atol=1e-6, rtol=0)
