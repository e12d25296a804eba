"""Rollout videos (mp4) with the task description, step, reward and success written on the frames."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def _to_hwc(frame: Any) -> np.ndarray:
    arr = _numpy(frame)
    if arr.ndim == 3 and arr.shape[0] == 3 and arr.shape[-1] != 3:
        arr = arr.transpose(1, 2, 0)
    return np.ascontiguousarray(arr.astype(np.uint8))


def overlay(frame: np.ndarray, lines: list[str]) -> np.ndarray:
    """Write ``lines`` on a copy of ``frame`` (upscaled so small frames stay readable)."""
    from PIL import Image, ImageDraw

    img = Image.fromarray(frame)
    if img.width < 256:
        scale = 256 // img.width + 1
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((4, 4 + 12 * i), line, fill=(255, 255, 0))
    return np.asarray(img)


class VideoRecorder:
    """Collects frames of sub-env 0 during a rollout and writes one mp4."""

    def __init__(self, out_dir: Path, fps: int, info_on_video: bool, max_frames: int) -> None:
        self.out_dir = out_dir
        self.fps = fps
        self.info = info_on_video
        self.max_frames = max_frames
        self.frames: list[np.ndarray] = []
        self.total_reward = 0.0
        self.success = False
        self.steps = 0

    def add_chunk(self, step: Any) -> None:
        """Record sub-env 0 after one executed chunk (a :class:`~vlarl.contracts.env.ChunkStep`)."""
        rewards = _numpy(step.rewards)
        self.steps += rewards.shape[1]
        success = bool(_numpy(step.infos["episode"]["success_once"])[0])
        self.add(step.infos["final_observation"], self.steps, float(rewards[0].sum()), success)

    def add(self, obs: dict[str, Any], step: int, reward: float, success: bool) -> None:
        if len(self.frames) >= self.max_frames or "images" not in obs:
            return
        frame = _to_hwc(obs["images"][0])
        self.total_reward += reward
        self.success |= success
        if self.info:
            desc = obs["task_descriptions"][0]
            frame = overlay(
                frame,
                [
                    desc[:48],
                    f"step {step}  reward {reward:+.2f}  return {self.total_reward:.2f}",
                    f"success {self.success}",
                ],
            )
        self.frames.append(frame)

    def write(self, name: str) -> Path | None:
        if not self.frames:
            return None
        import imageio.v2 as imageio

        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / f"{name}.mp4"
        h, w = self.frames[0].shape[:2]
        frames = [f[: h - h % 2, : w - w % 2] for f in self.frames]  # yuv420 needs even sizes
        imageio.mimwrite(path, frames, fps=self.fps, macro_block_size=1)
        self.frames = []
        return path
