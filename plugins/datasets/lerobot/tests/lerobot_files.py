"""Write small LeRobot datasets in the layouts huggingface/lerobot stores (v2.1 and v3.0), with real mp4 files.

Parquet through pyarrow with LeRobot's column types (fixed-size lists for vector features, as the HF
``datasets`` Sequence(length=n) feature stores them), mp4 through PyAV. The default codec, libx264rgb at
crf 0, is lossless so tests can compare pixels exactly; ``codec="libsvtav1"`` writes what LeRobot writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CAMERAS = ("observation.images.image", "observation.images.wrist_image")
V2_DATA = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
V2_VIDEO = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
V3_DATA = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
V3_VIDEO = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"

MODALITY = {
    "state": {"x": {"start": 0, "end": 3}, "rot": {"start": 3, "end": 6, "rotation_type": "axis_angle"},
              "gripper": {"start": 6, "end": 8}},
    "action": {"x": {"start": 0, "end": 3, "absolute": False}, "rot": {"start": 3, "end": 6, "absolute": False},
               "gripper": {"start": 6, "end": 7}},
    "video": {"image": {"original_key": "observation.images.image"},
              "wrist_image": {"original_key": "observation.images.wrist_image"}},
    "annotation": {"human.action.task_description": {"original_key": "task_index"}},
}  # fmt: skip


def encode(path: Path, frames: np.ndarray, fps: int, codec: str = "libx264rgb") -> None:
    """frames [T, H, W, 3] uint8 -> mp4 with one frame every 1/fps s from 0."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "rgb24" if codec == "libx264rgb" else "yuv420p"
        if codec.startswith("libx264"):
            stream.options = {"crf": "0"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _vectors(x: np.ndarray) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1).astype(np.float32)), x.shape[1])


def _feature_info(size: int, fps: int, codec: str) -> dict[str, Any]:
    return {"dtype": "video", "shape": [size, size, 3], "names": ["height", "width", "channels"],
            "info": {"video.height": size, "video.width": size, "video.codec": "h264" if "264" in codec else "av1",
                     "video.pix_fmt": "yuv420p", "video.is_depth_map": False, "video.fps": fps,
                     "video.channels": 3, "has_audio": False}}  # fmt: skip


def write_dataset(
    root: Path,
    version: str = "v2.1",
    lengths: tuple[int, ...] = (6, 4, 5),
    tasks: tuple[str, ...] = ("pick up the bowl", "open the drawer"),
    size: int = 16,
    fps: int = 10,
    action_dim: int = 7,
    state_dim: int = 8,
    episodes_per_file: int = 2,
    codec: str = "libx264rgb",
    short_video: int | None = None,
    modality: dict[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Write a dataset; return what it holds (per episode: states, actions, frames per camera, task).

    Episode i does task ``tasks[i % len(tasks)]``. ``short_video=i``: episode i's videos lose their last 2 frames."""
    rng = np.random.default_rng(seed)
    eps = []
    for i, t in enumerate(lengths):
        eps.append({
            "states": rng.normal(size=(t, state_dim)).astype(np.float32),
            "actions": rng.uniform(-1, 1, size=(t, action_dim)).astype(np.float32),
            "frames": {k: rng.integers(0, 256, (t, size, size, 3), dtype=np.uint8) for k in CAMERAS},
            "task": tasks[i % len(tasks)],
        })  # fmt: skip
    task_index = {t: j for j, t in enumerate(dict.fromkeys(e["task"] for e in eps))}
    features = {
        "observation.state": {"dtype": "float32", "shape": [state_dim], "names": [f"s{j}" for j in range(state_dim)]},
        "action": {"dtype": "float32", "shape": [action_dim], "names": [f"a{j}" for j in range(action_dim)]},
        **{k: _feature_info(size, fps, codec) for k in CAMERAS},
        **{k: {"dtype": d, "shape": [1], "names": None} for k, d in
           (("timestamp", "float32"), ("frame_index", "int64"), ("episode_index", "int64"), ("index", "int64"),
            ("task_index", "int64"))},
    }  # fmt: skip
    info = {
        "codebase_version": version, "robot_type": "panda", "total_episodes": len(eps), "total_frames": sum(lengths),
        "total_tasks": len(task_index), "chunks_size": 1000, "fps": fps, "splits": {"train": f"0:{len(eps)}"},
        "features": features,
    }  # fmt: skip
    start = 0
    tables = []
    for i, e in enumerate(eps):
        t = len(e["actions"])
        tables.append(pa.table({
            "observation.state": _vectors(e["states"]), "action": _vectors(e["actions"]),
            "timestamp": pa.array(np.arange(t, dtype=np.float32) / fps), "frame_index": pa.array(np.arange(t)),
            "episode_index": pa.array(np.full(t, i)), "index": pa.array(np.arange(start, start + t)),
            "task_index": pa.array(np.full(t, task_index[e["task"]])),
        }))  # fmt: skip
        start += t
    for e_i, e in enumerate(eps):  # what the videos hold (short_video drops frames from the file only)
        e["video_frames"] = {k: v[:-2] if e_i == short_video else v for k, v in e["frames"].items()}
    (root / "meta").mkdir(parents=True, exist_ok=True)
    if version.startswith("v2"):
        _write_v2(root, info, eps, tables, task_index, fps, codec)
    else:
        _write_v3(root, info, eps, tables, task_index, fps, codec, episodes_per_file)
    if modality is not None:
        (root / "meta" / "modality.json").write_text(json.dumps(modality, indent=4))
    return {"episodes": eps, "info": info, "task_index": task_index}


def _write_v2(root: Path, info: dict, eps: list, tables: list, task_index: dict, fps: int, codec: str) -> None:
    info.update(data_path=V2_DATA, video_path=V2_VIDEO, total_chunks=1, total_videos=len(eps) * len(CAMERAS))
    (root / "meta" / "info.json").write_text(json.dumps(info, indent=4))
    with open(root / "meta" / "tasks.jsonl", "w") as f:
        for task, j in task_index.items():
            f.write(json.dumps({"task_index": j, "task": task}) + "\n")
    with open(root / "meta" / "episodes.jsonl", "w") as f, open(root / "meta" / "episodes_stats.jsonl", "w") as s:
        for i, e in enumerate(eps):
            f.write(json.dumps({"episode_index": i, "tasks": [e["task"]], "length": len(e["actions"])}) + "\n")
            stats = {"action": {"min": e["actions"].min(0).tolist(), "max": e["actions"].max(0).tolist(),
                                "mean": e["actions"].mean(0).tolist(), "std": e["actions"].std(0).tolist(),
                                "count": [len(e["actions"])]}}  # fmt: skip
            s.write(json.dumps({"episode_index": i, "stats": stats}) + "\n")
    for i, (e, table) in enumerate(zip(eps, tables)):
        path = root / V2_DATA.format(episode_chunk=0, episode_index=i)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        for key, frames in e["video_frames"].items():
            encode(root / V2_VIDEO.format(episode_chunk=0, video_key=key, episode_index=i), frames, fps, codec)


def _write_v3(
    root: Path, info: dict, eps: list, tables: list, task_index: dict, fps: int, codec: str, per_file: int
) -> None:
    info.update(data_path=V3_DATA, video_path=V3_VIDEO, data_files_size_in_mb=100, video_files_size_in_mb=500)
    (root / "meta" / "info.json").write_text(json.dumps(info, indent=4))
    # pandas' to_parquet of LeRobot's DataFrame(task_index, index=Index(tasks, name="task")): the index is a column
    pq.write_table(pa.table({"task_index": list(task_index.values()), "task": list(task_index)}),
                   root / "meta" / "tasks.parquet")  # fmt: skip
    rows: list[dict[str, Any]] = []
    start = 0
    for file_index, first in enumerate(range(0, len(eps), per_file)):
        group = list(range(first, min(first + per_file, len(eps))))
        path = root / V3_DATA.format(chunk_index=0, file_index=file_index)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.concat_tables([tables[i] for i in group]), path)
        offsets = np.cumsum([0] + [len(eps[i]["video_frames"][CAMERAS[0]]) for i in group]) / fps
        for key in CAMERAS:
            frames = np.concatenate([eps[i]["video_frames"][key] for i in group])
            encode(root / V3_VIDEO.format(video_key=key, chunk_index=0, file_index=file_index), frames, fps, codec)
        for j, i in enumerate(group):
            t = len(eps[i]["actions"])
            row = {"episode_index": i, "tasks": [eps[i]["task"]], "length": t, "data/chunk_index": 0,
                   "data/file_index": file_index, "dataset_from_index": start, "dataset_to_index": start + t}  # fmt: skip
            for key in CAMERAS:
                row.update({f"videos/{key}/chunk_index": 0, f"videos/{key}/file_index": file_index,
                            f"videos/{key}/from_timestamp": float(offsets[j]),
                            f"videos/{key}/to_timestamp": float(offsets[j + 1])})  # fmt: skip
            row.update({"meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0,
                        "stats/action/mean": eps[i]["actions"].mean(0).tolist()})  # fmt: skip
            rows.append(row)
            start += t
    path = root / "meta" / "episodes" / "chunk-000" / "file-000.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
