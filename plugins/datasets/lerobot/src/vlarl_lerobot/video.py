"""mp4 videos decoded with PyAV into frames, picked by timestamp as LeRobot picks them.

LeRobot's ``decode_video_frames`` takes, for each query time, the decoded frame whose presentation time is
nearest and fails when it is farther than ``tolerance_s``; so does this, with the file, key and fix named.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from vlarl.errors import ConfigError


class VideoFile:
    """Every frame of one video file (RGB, [T, H, W, 3] uint8) and its presentation times in seconds."""

    def __init__(self, path: Path, key: str, size: tuple[int, int] | None = None) -> None:
        self.path, self.key = path, key
        if not path.is_file():
            raise ConfigError(
                f"{path}: the video of feature '{key}' is missing.",
                "Restore the dataset's videos/ folder, or leave this camera out of dataset.images / wrist_images.",
            )
        try:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                frames, times = [], []
                for frame in container.decode(stream):
                    if frame.pts is None:
                        continue
                    times.append(float(frame.pts * frame.time_base))
                    if size is None:
                        frames.append(frame.to_ndarray(format="rgb24"))
                    else:
                        frames.append(frame.to_ndarray(format="rgb24", width=size[1], height=size[0]))
        except (av.error.FFmpegError, IndexError) as exc:
            raise ConfigError(f"{path}: feature '{key}' could not be decoded ({exc}).",
                              "Re-encode the video (LeRobot writes AV1 or H.264 mp4).") from exc  # fmt: skip
        order = np.argsort(times, kind="stable")
        self.times = np.asarray(times, dtype=np.float64)[order]
        self.frames = np.stack([frames[i] for i in order]) if frames else np.zeros((0, 1, 1, 3), np.uint8)

    def at(self, query: np.ndarray, tolerance: float, what: str, end: float | None = None) -> np.ndarray:
        """Frames [len(query), H, W, 3] nearest to the query times; ``what`` names the rows asking, for errors.

        ``end``: where the episode's part of a shared (v3.0) file ends; its rows must not need frames past it."""
        if len(self.times) == 0:
            raise ConfigError(f"{self.path}: feature '{self.key}' has no frames.", "Re-encode the video.")
        if end is not None and len(query) and query.max() >= end - tolerance:
            raise ConfigError(
                f"{self.path}: feature '{self.key}' is shorter than {what} says: the episode's part of the file ends "
                f"at {end:.4f} s (to_timestamp), but its rows need frames up to {query.max():.4f} s.",
                "Re-encode the episode's video from all its frames, or leave the episode out with dataset.episodes.",
            )
        idx = np.clip(np.searchsorted(self.times, query), 1, len(self.times) - 1)
        left, right = self.times[idx - 1], self.times[idx]
        idx = np.where(np.abs(query - left) <= np.abs(query - right), idx - 1, idx)
        gap = np.abs(self.times[idx] - query)
        bad = np.flatnonzero(gap > tolerance)
        if len(bad):
            first = bad[0]
            span = f"{len(self.times)} frames at {self.times[0]:.4f}..{self.times[-1]:.4f} s"
            if query[first] > self.times[-1]:
                problem = (f"{self.path}: feature '{self.key}' is shorter than {what} says: {span}, but "
                           f"{len(bad)} row(s) need frames up to {query.max():.4f} s.")  # fmt: skip
                fix = (
                    "Re-encode the episode's video from all its frames, or leave the episode out with dataset.episodes."
                )
            else:
                problem = (f"{self.path}: feature '{self.key}' has no frame within {tolerance} s of {query[first]:.4f} s "
                           f"({what}; {span}).")  # fmt: skip
                fix = "Re-encode the video at the dataset's fps, or raise dataset.video_tolerance_s."
            raise ConfigError(problem, fix)
        return self.frames[idx]
