"""The train-time image augmentation against the official one run under TensorFlow (golden/tf_image_aug.npz).

golden/make_tf_aug_golden.py ran dlimp's ``augment_image`` unchanged (TensorFlow 2.21) with the
``image_augment_kwargs`` of OpenVLA-OFT's datasets.py on two 224 px camera images and three seeds, and stored
the one uniform draw ``u`` that every stateless op of a seed makes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from vlarl_openvla_oft import augment

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def tf_aug() -> dict[str, np.ndarray]:
    with np.load(GOLDEN / "tf_image_aug.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def test_parameters_are_the_official_ones(tf_aug):
    official = ast.literal_eval(str(tf_aug["kwargs"]))
    assert official["augment_order"] == [
        "random_resized_crop", "random_brightness", "random_contrast", "random_saturation", "random_hue"
    ]  # fmt: skip
    assert official["random_resized_crop"] == {"scale": list(augment.CROP_SCALE), "ratio": list(augment.CROP_RATIO)}
    assert official["random_brightness"] == [augment.BRIGHTNESS] and official["random_hue"] == [augment.HUE]
    assert official["random_contrast"] == list(augment.CONTRAST)
    assert official["random_saturation"] == list(augment.SATURATION)


def test_augmentation_equals_tensorflow_at_every_pixel(tf_aug):
    images = torch.from_numpy(tf_aug["images"]).permute(0, 3, 1, 2).contiguous()
    for k, u in enumerate(tf_aug["u"]):
        got = augment.official_image_aug(images, torch.full((len(images),), float(u)))
        want = tf_aug["augmented"][k]
        assert np.array_equal(got.permute(0, 2, 3, 1).numpy(), want), f"seed {tf_aug['seeds'][k]} (u={u})"


def test_crop_keeps_area_0_9_on_the_diagonal():
    u = torch.tensor([0.0, 0.5, 0.999])
    boxes = augment.crop_boxes(u).double()
    side = boxes[:, 2] - boxes[:, 0]
    assert torch.allclose(side * side, torch.full_like(side, 0.9), atol=1e-6)  # area 0.9, square
    assert torch.equal(boxes[:, 0], boxes[:, 1])  # dlimp draws both offsets from one seed: the same offset
    assert boxes[0, 0] == 0 and abs(boxes[1, 0] - (1 - 0.9**0.5) / 2) < 1e-6  # u = 0.5: the eval's center crop


def test_random_draws_differ_per_image_and_follow_torch_seed():
    images = torch.randint(0, 256, (2, 3, 3, 24, 24), dtype=torch.uint8)
    a = augment.random_image_aug(images, torch.Generator().manual_seed(0))
    b = augment.random_image_aug(images, torch.Generator().manual_seed(0))
    assert a.shape == images.shape and a.dtype == torch.uint8 and torch.equal(a, b)
    same = augment.random_image_aug(images[:, :1].expand(2, 3, 3, 24, 24).contiguous(), torch.Generator())
    assert not torch.equal(same[0, 0], same[0, 1])  # one image, three cameras: three draws


def test_image_aug_changes_training_inputs_only(h):
    p = h.build(image_aug=True)
    obs = h.make_obs(2)
    inp = p._prepare(obs)
    torch.manual_seed(0)
    train = p._pixels(inp["images"], train=True)
    assert not torch.allclose(train, p._pixels(inp["images"]))
    assert torch.equal(p._pixels(inp["images"]), h.build()._pixels(inp["images"]))  # act / evaluate: no aug
    q = h.build(center_crop=True)  # training never applies the eval's center crop
    assert torch.equal(q._pixels(inp["images"], train=True), h.build()._pixels(inp["images"]))
