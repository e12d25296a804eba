"""The LeRobot dataset layout on disk (huggingface/lerobot), v2.x and v3.0, read into one episode table.

Both versions keep ``meta/info.json``: ``codebase_version``, ``fps``, ``chunks_size``, ``features``
(key -> dtype, shape, names, video info) and the path templates ``data_path`` / ``video_path``.

* v2.1 (and v2.0): one parquet file and one mp4 per episode and camera,
  ``data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet`` and
  ``videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4`` with
  ``episode_chunk = episode_index // chunks_size``; ``meta/episodes.jsonl`` (episode_index, tasks, length),
  ``meta/tasks.jsonl`` (task_index, task), ``meta/episodes_stats.jsonl``. Videos start at 0 s.
* v3.0: several episodes per file, ``data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet`` and
  ``videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4``; ``meta/episodes/chunk-*/file-*.parquet``
  has one row per episode (``data/chunk_index``, ``data/file_index``, ``videos/<key>/chunk_index``,
  ``videos/<key>/file_index``, ``videos/<key>/from_timestamp``, ...); ``meta/tasks.parquet`` has ``task_index``
  with the task text as its (pandas) index ``task``. A frame's time in its file is ``from_timestamp + timestamp``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from vlarl.errors import ConfigError

INFO = "meta/info.json"
MODALITY = "meta/modality.json"
V2_EPISODES, V2_TASKS = "meta/episodes.jsonl", "meta/tasks.jsonl"
V3_EPISODES, V3_TASKS = "meta/episodes", "meta/tasks.parquet"
SUPPORTED = ("v2.0", "v2.1", "v3.0")


@dataclass
class EpisodeRef:
    index: int
    length: int
    tasks: list[str]
    data_file: Path
    # video key -> (mp4, from_timestamp, to_timestamp or None): the episode's span in its file
    videos: dict[str, tuple[Path, float, float | None]] = field(default_factory=dict)


@dataclass
class Meta:
    root: Path
    version: str
    fps: float
    features: dict[str, dict[str, Any]]
    tasks: dict[int, str]
    episodes: list[EpisodeRef]

    @property
    def info_path(self) -> Path:
        return self.root / INFO

    def video_keys(self) -> list[str]:
        return [k for k, ft in self.features.items() if ft.get("dtype") == "video"]


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}).", "Restore the file from the dataset.") from exc


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise ConfigError(
            f"{path} is missing (a LeRobot v2.x dataset keeps it).", "Restore the dataset's meta/ folder."
        )
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{n} is not a JSON line ({exc}).", "Restore the file.") from exc
    return rows


def _need(row: dict[str, Any], key: str, where: str) -> Any:
    if key not in row:
        raise ConfigError(f"{where} has no '{key}'.", "Restore the dataset's meta/ files (written by LeRobot).")
    return row[key]


def read_meta(root: str | Path) -> Meta:
    root = Path(root)
    if not str(root) or not (root / INFO).is_file():
        raise ConfigError(
            f"{root / INFO} does not exist: dataset.root is not a LeRobot dataset directory.",
            "Set dataset.root to the folder that holds meta/info.json, data/ and videos/.",
        )
    info = _json(root / INFO)
    where = str(root / INFO)
    version = str(_need(info, "codebase_version", where))
    if version not in SUPPORTED:
        raise ConfigError(
            f"{where}: codebase_version {version} is not supported (supported: {', '.join(SUPPORTED)}).",
            "Convert the dataset with LeRobot's converters (e.g. python -m lerobot.scripts.convert_dataset_v21_to_v30).",
        )
    features = _need(info, "features", where)
    fps = float(_need(info, "fps", where))
    template = str(_need(info, "data_path", where))
    video_template = info.get("video_path")
    chunks = int(info.get("chunks_size", 1000))
    videos = [k for k, ft in features.items() if ft.get("dtype") == "video"]
    if videos and not video_template:
        raise ConfigError(f"{where} has video features {videos} but no video_path.", "Restore meta/info.json.")
    if version.startswith("v2"):
        tasks, episodes = _read_v2(root, template, video_template, chunks, videos)
    else:
        tasks, episodes = _read_v3(root, template, video_template, videos)
    if not episodes:
        raise ConfigError(f"{root}: the dataset lists no episodes.", "Record or download episodes first.")
    return Meta(root, version, fps, features, tasks, sorted(episodes, key=lambda e: e.index))


def _read_v2(
    root: Path, template: str, video_template: str | None, chunks: int, videos: list[str]
) -> tuple[dict[int, str], list[EpisodeRef]]:
    tasks = {int(_need(r, "task_index", str(root / V2_TASKS))): str(_need(r, "task", str(root / V2_TASKS)))
             for r in _jsonl(root / V2_TASKS)}  # fmt: skip
    episodes = []
    for row in _jsonl(root / V2_EPISODES):
        where = str(root / V2_EPISODES)
        ep = int(_need(row, "episode_index", where))
        chunk = ep // chunks
        data = root / template.format(episode_chunk=chunk, episode_index=ep)
        vids = {k: (root / str(video_template).format(episode_chunk=chunk, video_key=k, episode_index=ep), 0.0, None)
                for k in videos}  # fmt: skip
        episodes.append(EpisodeRef(ep, int(_need(row, "length", where)), list(row.get("tasks") or []), data, vids))
    return tasks, episodes


def _read_v3(
    root: Path, template: str, video_template: str | None, videos: list[str]
) -> tuple[dict[int, str], list[EpisodeRef]]:
    path = root / V3_TASKS
    if not path.is_file():
        raise ConfigError(
            f"{path} is missing (a LeRobot v3.0 dataset keeps it).", "Restore the dataset's meta/ folder."
        )
    table = pq.read_table(path)
    # pandas writes the task text as the index column "task" (older writers: __index_level_0__).
    text_col = next((c for c in ("task", "__index_level_0__") if c in table.column_names), None)
    if text_col is None or "task_index" not in table.column_names:
        raise ConfigError(f"{path} has columns {table.column_names}; expected task_index and task.", "Restore it.")
    tasks = dict(zip(map(int, table.column("task_index").to_pylist()), map(str, table.column(text_col).to_pylist())))
    files = sorted((root / V3_EPISODES).glob("chunk-*/file-*.parquet"))
    if not files:
        raise ConfigError(
            f"{root / V3_EPISODES} holds no chunk-*/file-*.parquet (a LeRobot v3.0 dataset keeps its episode table "
            "there).",
            "Restore the dataset's meta/episodes folder.",
        )
    episodes = []
    for f in files:
        cols = [c for c in pq.read_schema(f).names if not c.startswith("stats/")]
        for row in pq.read_table(f, columns=cols).to_pylist():
            where = f"{f} (episode {row.get('episode_index')})"
            data = root / template.format(chunk_index=int(_need(row, "data/chunk_index", where)),
                                          file_index=int(_need(row, "data/file_index", where)))  # fmt: skip
            vids = {}
            for k in videos:
                vids[k] = (
                    root / str(video_template).format(video_key=k, chunk_index=int(_need(row, f"videos/{k}/chunk_index", where)),
                                                      file_index=int(_need(row, f"videos/{k}/file_index", where))),
                    float(_need(row, f"videos/{k}/from_timestamp", where)),
                    None if row.get(f"videos/{k}/to_timestamp") is None else float(row[f"videos/{k}/to_timestamp"]),
                )  # fmt: skip
            ep = int(_need(row, "episode_index", where))
            episodes.append(EpisodeRef(ep, int(_need(row, "length", where)), list(row.get("tasks") or []), data, vids))
    return tasks, episodes
