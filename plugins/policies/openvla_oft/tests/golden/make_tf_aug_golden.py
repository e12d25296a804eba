"""Regenerate ``tf_image_aug.npz``: the official train-time image augmentation run unchanged under TensorFlow.

Not a test and not needed to run the tests. It needs TensorFlow (a throwaway venv: ``pip install tensorflow-cpu``),
dlimp's ``dlimp/augmentations.py`` (kvablack/dlimp @ ad72ce3, the ``augment_image`` that OpenVLA-OFT's RLDS
pipeline calls) and OpenVLA-OFT's ``prismatic/vla/datasets/datasets.py`` (moojink/openvla-oft @ 213c5ff8), whose
``image_augment_kwargs`` literal is read with ``ast`` (nothing of that file is executed). dlimp's file is executed
unchanged (it imports only tensorflow).

    python make_tf_aug_golden.py /path/to/dlimp/augmentations.py /path/to/prismatic/vla/datasets/datasets.py
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import numpy as np

SEEDS = ((0, 1), (7, 99), (2024, 5))  # u = 0.082, 0.368, 0.870


def _literal(node: ast.AST) -> object:
    """ast.literal_eval that also reads ``dict(key=literal, ...)`` calls (the official file nests them)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
        return {kw.arg: _literal(kw.value) for kw in node.keywords}
    return ast.literal_eval(node)


def official_kwargs(datasets_py: str) -> dict:
    """The dict passed as ``image_augment_kwargs`` when ``image_aug`` is on (RLDSDataset.__init__)."""
    for node in ast.walk(ast.parse(Path(datasets_py).read_text())):
        if isinstance(node, ast.Dict) and any(
            isinstance(k, ast.Constant) and k.value == "image_augment_kwargs" for k in node.keys
        ):
            call = node.values[[k.value for k in node.keys].index("image_augment_kwargs")]
            assert isinstance(call, ast.Call) and call.func.id == "dict", "official file changed"
            return _literal(call)
    raise AssertionError("image_augment_kwargs not found: official file changed")


def main(augmentations_py: str, datasets_py: str) -> None:
    import tensorflow as tf

    ns: dict = {}
    exec(compile(Path(augmentations_py).read_text(), augmentations_py, "exec"), ns)
    augment_image = ns["augment_image"]
    kwargs = official_kwargs(datasets_py)
    ref = np.load(Path(__file__).with_name("reference_outputs.npz"))
    images = np.stack([ref["main_images"][0], ref["wrist_images"][1]])  # 224 px HWC uint8, as the pipeline has them
    out: dict[str, np.ndarray] = {"images": images, "seeds": np.asarray(SEEDS, np.int32)}
    u, full = [], []
    for seed in SEEDS:
        s = tf.constant(seed, tf.int32)
        u.append(float(tf.random.stateless_uniform([], s)))  # the one draw every op of this seed makes
        full.append([augment_image(tf.constant(img), seed=s, **kwargs).numpy() for img in images])
    out.update(u=np.asarray(u, np.float32), augmented=np.asarray(full))
    out["kwargs"] = np.asarray(repr(kwargs))
    target = Path(__file__).with_name("tf_image_aug.npz")
    np.savez_compressed(target, **out)
    print(f"wrote {target} ({target.stat().st_size} bytes) with tensorflow {tf.__version__}; kwargs {kwargs}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
