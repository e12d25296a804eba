"""Regenerate ``tf_image_ops.npz``: the official eval's image functions run unchanged under TensorFlow.

Not a test and not needed to run the tests. It needs TensorFlow and Pillow (a throwaway venv:
``pip install tensorflow-cpu pillow``) and the official ``experiments/robot/openvla_utils.py``
(moojink/openvla-oft @ 213c5ff8). Only its five image functions are taken from that file (by name, with
``ast``, unchanged); the rest of the module needs the whole official stack and is not executed.

    python make_tf_image_golden.py /path/to/openvla_utils.py
"""

from __future__ import annotations

import ast
import sys
import types
from pathlib import Path

import numpy as np

FUNCTIONS = (
    "resize_image_for_policy",
    "crop_and_resize",
    "center_crop_image",
    "check_image_format",
    "prepare_images_for_vla",
)


def official_functions(path: str) -> dict:
    import tensorflow as tf
    from PIL import Image

    tree = ast.parse(Path(path).read_text())
    keep = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in FUNCTIONS]
    assert {n.name for n in keep} == set(FUNCTIONS), "official file changed"
    import typing

    ns = dict(tf=tf, np=np, Image=Image, OPENVLA_IMAGE_SIZE=224)
    ns.update({name: getattr(typing, name) for name in ("Any", "List", "Tuple", "Union")})  # the file's annotations
    exec(compile(ast.Module(body=keep, type_ignores=[]), path, "exec"), ns)
    return ns


def camera_like(h: int, w: int, seed: int) -> np.ndarray:
    """Gradients, hard edges and texture: what JPEG and lanczos both react to."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([120 + 100 * np.sin(x / 17 + seed), 60 + 0.6 * y, 200 - 0.5 * (x + y) % 256], -1)
    img[(x - w / 2) ** 2 + (y - h / 3) ** 2 < (h / 6) ** 2] = (230, 40, 30)  # a disc
    img[int(0.7 * h) :, : int(0.4 * w)] = (20, 20, 160)  # a block
    img[(x // 3 + y // 3) % 2 == 1] += 25  # a fine checker: high frequencies for JPEG and the antialias filter
    return np.clip(img, 0, 255).astype(np.uint8)


def main(path: str) -> None:
    import tensorflow as tf

    f = official_functions(path)
    inputs = {"img256": camera_like(256, 256, 0), "img120x160": camera_like(120, 160, 1)}  # down / up, non-square
    out = {f"in_{k}": v for k, v in inputs.items()}
    for k in inputs:
        out[f"resize_{k}"] = f["resize_image_for_policy"](inputs[k], 224)  # JPEG round trip + lanczos3
    lanczos = tf.image.resize(inputs["img256"], (224, 224), method="lanczos3", antialias=True)
    out["lanczos_img256"] = tf.cast(tf.clip_by_value(tf.round(lanczos), 0, 255), tf.uint8).numpy()  # lanczos alone
    main_image = np.load(Path(__file__).with_name("reference_outputs.npz"))["main_images"][0]  # 224 px, stored there
    out["crop_main_image_s0"] = np.asarray(f["center_crop_image"](main_image))
    cfg = types.SimpleNamespace(center_crop=True)
    out["prepare_crop_img256"] = np.asarray(f["prepare_images_for_vla"]([inputs["img256"]], cfg)[0])
    target = Path(__file__).with_name("tf_image_ops.npz")
    np.savez_compressed(target, **out)
    print(f"wrote {target} ({target.stat().st_size} bytes) with tensorflow {tf.__version__}")


if __name__ == "__main__":
    main(sys.argv[1])
