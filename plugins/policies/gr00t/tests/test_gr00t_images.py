"""Image preprocessing against the official eval transforms, written out here from their definitions.

VideoToTensor: uint8 / 255 (float32); VideoCrop(scale=0.95) in eval = torchvision CenterCrop((int(H .95), int(W .95)))
with top = int(round((H - h) / 2)), left = int(round((W - w) / 2)); VideoResize(224, 224, "linear", antialias=True) =
torch interpolate(bilinear, align_corners=False, antialias=True) on the float tensor; VideoToNumpy:
(x * 255).to(uint8), which truncates.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from gr00t_fixtures import make_obs, tiny_config

from vlarl_gr00t.images import center_crop_box, preprocess
from vlarl_gr00t.policy import build_policy


def official_view(img: np.ndarray, size: int, scale: float = 0.95) -> np.ndarray:
    """One uint8 [3, H, W] camera image through the official eval chain."""
    x = torch.from_numpy(img).to(torch.float32) / 255.0
    h, w = x.shape[-2:]
    ch, cw = int(h * scale), int(w * scale)
    top, left = round((h - ch) / 2.0), round((w - cw) / 2.0)  # Python round: half to even
    x = x[:, top : top + ch, left : left + cw]
    x = F.interpolate(x[None], size=(size, size), mode="bilinear", align_corners=False, antialias=True)[0]
    return (x * 255).to(torch.uint8).numpy()


@pytest.mark.parametrize(("h", "w", "box"), [(256, 256, (6, 6, 243, 243)), (224, 224, (6, 6, 212, 212)),
                                               (128, 96, (4, 2, 121, 91)), (28, 28, (1, 1, 26, 26))])  # fmt: skip
def test_center_crop_box(h: int, w: int, box: tuple[int, int, int, int]) -> None:
    assert center_crop_box(h, w, 0.95) == box  # (256 - 243) / 2 = 6.5 rounds to 6 (Python round)


@pytest.mark.parametrize(("src", "size"), [(256, 224), (224, 224), (32, 28)])
def test_preprocess_is_the_official_chain(src: int, size: int) -> None:
    rng = np.random.default_rng(src)
    imgs = rng.integers(0, 256, (3, 3, src, src), dtype=np.uint8)
    got = preprocess(torch.from_numpy(imgs), size, 0.95).numpy()
    expected = np.stack([official_view(im, size) for im in imgs])
    assert got.dtype == np.uint8 and np.array_equal(got, expected)
    uncropped = preprocess(torch.from_numpy(imgs), size, 1.0).numpy()
    assert not np.array_equal(uncropped, expected)  # the crop changes what the model sees


def test_policy_replays_the_cropped_views() -> None:
    torch.manual_seed(0)
    policy = build_policy(tiny_config(), use_hooks=False)
    obs = make_obs(2, size=32)
    views = policy.prepare(obs)["images"].numpy()
    assert views.shape == (2, 2, 3, 28, 28)
    assert np.array_equal(views[1, 0], official_view(obs["images"][1], 28))
    assert np.array_equal(views[0, 1], official_view(obs["wrist_images"][0], 28))
