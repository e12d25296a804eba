"""The LeRobot reader on datasets written in LeRobot's v2.1 and v3.0 layouts with real mp4 files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from lerobot_files import CAMERAS, MODALITY, write_dataset

from vlarl.errors import ConfigError
from vlarl_lerobot.dataset import LeRobotDataset
from vlarl_lerobot.register import LeRobotConfig

IMAGE, WRIST = CAMERAS


def make(root: Path, **kw) -> LeRobotDataset:
    return LeRobotDataset(LeRobotConfig(root=str(root), **kw))


@pytest.mark.parametrize("version", ["v2.1", "v3.0"])
def test_samples_states_images_chunks_and_tasks_as_stored(tmp_path: Path, version: str) -> None:
    w = write_dataset(tmp_path / "ds", version=version, lengths=(6, 4, 5), episodes_per_file=2)
    ds = make(tmp_path / "ds", images=IMAGE, wrist_images=[WRIST])
    eps = w["episodes"]
    assert len(ds) == 15 and ds.num_episodes == 3
    assert ds.task_descriptions == ("open the drawer", "pick up the bowl")
    # sample 8 = episode 1 (4 steps, in v3.0 the second episode of file-000), step 2: chunk of 3 runs past its end
    b = ds.get_batch(np.array([8, 0, 14]), chunk_len=3)
    np.testing.assert_array_equal(b.actions[0], eps[1]["actions"][[2, 3, 3]])
    assert b.action_mask[0].tolist() == [True, True, False] and b.action_mask[1].tolist() == [True] * 3
    assert b.action_mask[2].tolist() == [True, False, False]  # the last step of the last episode
    np.testing.assert_array_equal(b.observations["states"][0], eps[1]["states"][2])
    # lossless mp4: frames come back exactly, upright, channels first, the frame of the row's timestamp
    np.testing.assert_array_equal(b.observations["images"][0], eps[1]["frames"][IMAGE][2].transpose(2, 0, 1))
    np.testing.assert_array_equal(b.observations["wrist_images"][2], eps[2]["frames"][WRIST][4].transpose(2, 0, 1))
    assert b.observations["task_descriptions"] == ["open the drawer", "pick up the bowl", "pick up the bowl"]
    assert b.actions.dtype == np.float32 and b.observations["states"].dtype == np.float32
    spec = ds.observation_spec
    assert spec.states == (8,) and spec.images == (3, 16, 16) and spec.wrist_images == (3, 16, 16)
    assert spec.state_names[:2] == ("s0", "s1") and spec.tasks == ds.task_descriptions
    assert ds.action_spec.names == [f"a{j}" for j in range(7)] and ds.action_spec.gripper == "none"
    all_actions = np.concatenate([e["actions"] for e in eps])
    np.testing.assert_array_equal(ds.action_spec.low, all_actions.min(0))  # action_bounds: data


def test_v21_and_v30_of_the_same_data_read_alike(tmp_path: Path) -> None:
    write_dataset(tmp_path / "a", version="v2.1")
    write_dataset(tmp_path / "b", version="v3.0", episodes_per_file=3)
    a, b = make(tmp_path / "a", images=IMAGE), make(tmp_path / "b", images=IMAGE)
    idx = np.arange(len(a))
    x, y = a.get_batch(idx, 4), b.get_batch(idx, 4)
    np.testing.assert_array_equal(x.actions, y.actions)
    np.testing.assert_array_equal(x.observations["images"], y.observations["images"])
    assert x.observations["task_descriptions"] == y.observations["task_descriptions"]


def test_modality_json_orders_groups_and_names_cameras_and_task(tmp_path: Path) -> None:
    modality = json.loads(json.dumps(MODALITY))
    # gripper first: states follow modality.json's order, not the column's
    modality["state"] = {"gripper": {"start": 6, "end": 8}, "x": {"start": 0, "end": 3}}
    w = write_dataset(tmp_path / "ds", version="v3.0", modality=modality)
    ds = make(tmp_path / "ds", modality=True)
    b = ds.get_batch(np.array([1]), chunk_len=2)
    s = w["episodes"][0]["states"][1]
    np.testing.assert_array_equal(b.observations["states"][0], np.r_[s[6:8], s[0:3]])
    assert ds.observation_spec.state_names == ("s6", "s7", "s0", "s1", "s2")
    assert ds.action_spec.dim == 7  # x 3 + rot 3 + gripper 1
    np.testing.assert_array_equal(b.observations["images"][0], w["episodes"][0]["frames"][IMAGE][1].transpose(2, 0, 1))
    np.testing.assert_array_equal(
        b.observations["wrist_images"][0], w["episodes"][0]["frames"][WRIST][1].transpose(2, 0, 1)
    )
    assert b.observations["task_descriptions"] == ["pick up the bowl"]
    with pytest.raises(ConfigError, match=r"dataset\.states is set but dataset\.modality=true"):
        make(tmp_path / "ds", modality=True, states=["observation.state"])


def test_av1_video_as_lerobot_encodes_it_and_resizing(tmp_path: Path) -> None:
    w = write_dataset(tmp_path / "ds", version="v2.1", lengths=(5,), codec="libsvtav1", size=32)
    ds = make(tmp_path / "ds", images=IMAGE)
    got = ds.get_batch(np.arange(5), 1).observations["images"].astype(int)
    want = w["episodes"][0]["frames"][IMAGE].transpose(0, 3, 1, 2).astype(int)
    assert got.shape == want.shape
    # lossy (noise frames at LeRobot's AV1 settings), but each decoded frame is nearest its own original: in order
    dist = np.abs(got[:, None] - want[None]).mean(axis=(2, 3, 4))
    assert dist.argmin(1).tolist() == list(range(5)), dist
    small = make(tmp_path / "ds", images=IMAGE, image_size=[8, 12])
    assert small.observation_spec.images == (3, 8, 12)


def test_gripper_and_bounds_options(tmp_path: Path) -> None:
    write_dataset(tmp_path / "ds", lengths=(3,))
    ds = make(tmp_path / "ds", states=[], gripper_dims=[6], gripper_convention="close_positive", action_bounds="unit")
    assert ds.observation_spec.states is None and "states" not in ds.get_batch(np.array([0]), 1).observations
    assert ds.action_spec.gripper_indices == [6] and ds.action_spec.gripper == "close_positive"
    assert ds.action_spec.low.tolist() == [-1.0] * 7
    with pytest.raises(ConfigError, match="gripper_dims is empty"):
        make(tmp_path / "ds", gripper_convention="close_positive")
    with pytest.raises(ConfigError, match=r"episodes names \[7\]"):
        make(tmp_path / "ds", episodes=[7])


# ---- bad input: errors name the file, the key and the fix, before any training ---------------------------------
def test_a_missing_mapped_feature_names_info_json_the_key_and_the_fix(tmp_path: Path) -> None:
    write_dataset(tmp_path / "ds", lengths=(3,))
    with pytest.raises(ConfigError) as err:
        make(tmp_path / "ds", images="observation.images.front")
    msg = str(err.value)
    assert str(tmp_path / "ds" / "meta" / "info.json") in msg and "'observation.images.front'" in msg
    assert "dataset.images" in msg and "Fix: Set dataset.images" in msg and IMAGE in msg
    with pytest.raises(ConfigError, match=r"feature 'observation.velocity' \(dataset.states\)"):
        make(tmp_path / "ds", states=["observation.state", "observation.velocity"])
    modality = json.loads(json.dumps(MODALITY))
    modality["action"]["gripper"]["original_key"] = "action.gripper"
    (tmp_path / "ds" / "meta" / "modality.json").write_text(json.dumps(modality))
    with pytest.raises(ConfigError, match=r"modality.json: action.gripper reads feature 'action.gripper'"):
        make(tmp_path / "ds", modality=True)


@pytest.mark.parametrize("version", ["v2.1", "v3.0"])
def test_a_video_shorter_than_the_parquet_index_names_the_video_and_key(tmp_path: Path, version: str) -> None:
    # v3.0: episode 0 shares file-000 with episode 1; its part ends early, so its last rows would read episode 1
    write_dataset(tmp_path / "ds", version=version, lengths=(6, 5), short_video=0, episodes_per_file=2)
    with pytest.raises(ConfigError) as err:
        make(tmp_path / "ds", images=IMAGE)
    msg = str(err.value)
    video = "videos/chunk-000/observation.images.image/episode_000000.mp4" if version == "v2.1" else (
        "videos/observation.images.image/chunk-000/file-000.mp4")  # fmt: skip
    assert video in msg and f"feature '{IMAGE}' is shorter than the 6 rows of" in msg
    assert "Fix: Re-encode the episode's video" in msg and "dataset.episodes" in msg
    ds = make(tmp_path / "ds", images=IMAGE, episodes=[1])  # the fix: leave the episode out
    assert len(ds) == 5


def test_broken_layouts_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a LeRobot dataset directory"):
        make(tmp_path / "nothing")
    w = write_dataset(tmp_path / "ds", lengths=(3, 3))
    info = w["info"] | {"codebase_version": "v1.6"}
    (tmp_path / "ds" / "meta" / "info.json").write_text(json.dumps(info))
    with pytest.raises(ConfigError, match=r"codebase_version v1\.6 is not supported"):
        make(tmp_path / "ds")
    write_dataset(tmp_path / "ds2", lengths=(3, 3))
    (tmp_path / "ds2" / "data" / "chunk-000" / "episode_000001.parquet").unlink()
    with pytest.raises(ConfigError, match=r"episode_000001.parquet: the data of episode 1 is missing"):
        make(tmp_path / "ds2")
    lines = (tmp_path / "ds2" / "meta" / "episodes.jsonl").read_text().splitlines()
    first = json.loads(lines[0]) | {"length": 9}
    (tmp_path / "ds2" / "meta" / "episodes.jsonl").write_text(json.dumps(first) + "\n")
    with pytest.raises(ConfigError, match="episode 0 has 3 rows but the episode table says length 9"):
        make(tmp_path / "ds2")
    write_dataset(tmp_path / "ds3", lengths=(2,))
    with pytest.raises(ConfigError, match=r"modality\.json does not exist"):
        make(tmp_path / "ds3", modality=True)


def test_registration_is_light_and_found() -> None:
    from vlarl.plugins.registry import get_registry

    spec = get_registry().get("dataset", "lerobot").spec
    assert spec.factory == "vlarl_lerobot.dataset:make_dataset" and spec.config is LeRobotConfig
