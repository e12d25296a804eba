"""GR00T's ``metadata.json`` entry of a LeRobot dataset: modalities and statistics, as the official code writes it.

Isaac-GR00T (``LeRobotSingleDataset._get_metadata`` and ``calculate_dataset_statistics``, gr00t/data/dataset.py;
``DatasetMetadata``, gr00t/data/schema.py; written by gr00t/experiment/runner.py as
``{tag: metadata.model_dump(mode="json")}`` into ``experiment_cfg/metadata.json``):

* ``statistics.{state,action}.<group>``: ``max, min, mean, std, q01, q99`` of the group's slice of its column.
  Upstream computes them per column over every row of ``data/*/*.parquet`` (float32 rows, ``np.mean`` /
  ``np.std`` (population) / ``np.min`` / ``np.max`` / ``np.quantile(.., 0.01 | 0.99)`` over axis 0), then slices
  ``[start:end]``; this does the same (it ignores a ``meta/stats.json``, which LeRobot writes without q01/q99).
* ``modalities.video.<group>``: ``resolution`` [width, height], ``channels``, ``fps`` from meta/info.json;
  ``modalities.{state,action}.<group>``: ``absolute``, ``rotation_type``, ``shape`` [end - start],
  ``continuous`` (the group's dtype is a float type).
* ``embodiment_tag``.

Run ``python -m vlarl_lerobot.gr00t_metadata DATASET --embodiment-tag new_embodiment --out metadata.json``; the
gr00t policy reads the file with ``policy.metadata_path``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from vlarl.errors import ConfigError, VlarlError
from vlarl_lerobot.dataset import column
from vlarl_lerobot.layout import INFO, Meta, read_meta
from vlarl_lerobot.modality import Modality, read_modality

STAT_ORDER = ("max", "min", "mean", "std", "q01", "q99")  # DatasetStatisticalValues' field order


def column_statistics(rows: np.ndarray) -> dict[str, list[float]]:
    """Upstream's per-column statistics of float32 rows [T, D]."""
    x = np.asarray(rows, dtype=np.float32)
    stats = {
        "mean": np.mean(x, axis=0),
        "std": np.std(x, axis=0),
        "min": np.min(x, axis=0),
        "max": np.max(x, axis=0),
        "q01": np.quantile(x, 0.01, axis=0),
        "q99": np.quantile(x, 0.99, axis=0),
    }
    return {k: stats[k].tolist() for k in STAT_ORDER}


def _video_modalities(meta: Meta, mod: Modality) -> dict[str, Any]:
    out = {}
    for name, key in mod.video.items():
        ft = meta.features[key]
        names, shape = list(ft.get("names") or []), list(ft.get("shape") or [])
        info = ft.get("info") or ft.get("video_info") or {}
        try:
            height, width = shape[names.index("height")], shape[names.index("width")]
        except ValueError as exc:
            raise ConfigError(f"{meta.info_path}: feature '{key}' names {names}, without height/width.",
                              "Restore the feature's names (e.g. [height, width, channels]).") from exc  # fmt: skip
        channel = next((n for n in ("channel", "channels") if n in names), None)
        channels = shape[names.index(channel)] if channel else info.get("video.channels", 3)
        out[name] = {"resolution": [int(width), int(height)], "channels": int(channels),
                     "fps": float(info.get("video.fps", meta.fps))}  # fmt: skip
    return out


def compute_metadata(root: str | Path, embodiment_tag: str = "new_embodiment") -> dict[str, Any]:
    """The ``metadata.json`` entry (``DatasetMetadata``) of the dataset at ``root`` (it needs meta/modality.json)."""
    meta = read_meta(root)
    mod = read_modality(meta)
    files = sorted((meta.root / "data").glob("*/*.parquet"))
    if not files:
        raise ConfigError(f"{meta.root / 'data'} holds no */*.parquet file.", "Restore the dataset's data/ folder.")
    keys = sorted({g.original_key for g in mod.state + mod.action})
    columns: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for f in files:
        present = pq.read_schema(f).names
        for k in keys:
            if k not in present:
                raise ConfigError(f"{f}: column '{k}' (named in meta/modality.json) is missing, though {INFO} lists it.",
                                  "Restore the data file, or fix original_key in meta/modality.json.")  # fmt: skip
        table = pq.read_table(f, columns=keys)
        for k in keys:
            columns[k].append(column(table, k, str(f)).astype(np.float32))
    stats = {k: column_statistics(np.concatenate(v)) for k, v in columns.items()}
    statistics: dict[str, Any] = {}
    modalities: dict[str, Any] = {"video": _video_modalities(meta, mod)}
    for kind, groups in (("state", mod.state), ("action", mod.action)):
        statistics[kind] = {g.name: {s: stats[g.original_key][s][g.start : g.end] for s in STAT_ORDER} for g in groups}
        modalities[kind] = {
            g.name: {"absolute": g.absolute, "rotation_type": g.rotation_type, "shape": [g.width],
                     "continuous": bool(np.issubdtype(np.dtype(g.dtype), np.floating))}
            for g in groups
        }  # fmt: skip
    return {"statistics": statistics, "modalities": modalities, "embodiment_tag": embodiment_tag}


def write_metadata(root: str | Path, out: str | Path, embodiment_tag: str = "new_embodiment") -> Path:
    """Write (or update: other tags are kept, as upstream's runner does) ``out`` with the dataset's entry."""
    out = Path(out)
    existing = json.loads(out.read_text()) if out.is_file() else {}
    existing[embodiment_tag] = compute_metadata(root, embodiment_tag)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(existing, indent=4))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vlarl_lerobot.gr00t_metadata",
        description="Write GR00T's metadata.json (modalities + statistics) of a LeRobot dataset with meta/modality.json.",
    )
    parser.add_argument("root", help="the dataset directory (meta/info.json, meta/modality.json, data/)")
    parser.add_argument("--embodiment-tag", default="new_embodiment")
    parser.add_argument("--out", required=True, help="metadata.json to write (its other tags are kept)")
    args = parser.parse_args(argv)
    try:
        path = write_metadata(args.root, args.out, args.embodiment_tag)
    except VlarlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({args.embodiment_tag}); use it with policy.metadata_path={path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
