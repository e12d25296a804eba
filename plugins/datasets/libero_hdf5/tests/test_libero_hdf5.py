"""The LIBERO HDF5 reader on files written in LIBERO's layout: samples, chunks, states, images, errors."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from libero_files import write_libero_file

from vlarl.errors import ConfigError
from vlarl_libero_hdf5.dataset import LiberoHDF5Dataset
from vlarl_libero_hdf5.register import LiberoHDF5Config


def make(paths: list[Path], **kw) -> LiberoHDF5Dataset:
    return LiberoHDF5Dataset(LiberoHDF5Config(paths=[str(p) for p in paths], **kw))


def test_samples_are_steps_and_chunks_pad_past_the_episode_end(tmp_path: Path) -> None:
    w = write_libero_file(tmp_path / "t_demo.hdf5", lengths=(5, 3))
    ds = make([tmp_path / "t_demo.hdf5"])
    assert len(ds) == 8 and ds.num_episodes == 2
    b = ds.get_batch(np.array([0, 3, 5, 7]), chunk_len=3)
    a0, a1 = w["actions"]
    np.testing.assert_allclose(b.actions[0], a0[0:3], rtol=1e-6)
    # step 3 of a 5-step demo: steps 3, 4 real, then the last action repeated and masked
    np.testing.assert_allclose(b.actions[1], a0[[3, 4, 4]], rtol=1e-6)
    assert b.action_mask[1].tolist() == [True, True, False]
    np.testing.assert_allclose(b.actions[2], a1[0:3], rtol=1e-6)  # sample 5 = demo 1, step 0
    assert b.action_mask[3].tolist() == [True, False, False]  # demo 1's last step
    assert b.actions.dtype == np.float32 and b.actions.shape == (4, 3, 7)


def test_states_images_and_task_follow_the_env_conventions(tmp_path: Path) -> None:
    w = write_libero_file(tmp_path / "t_demo.hdf5", lengths=(4,), task="put  the bowl\non the plate")
    ds = make([tmp_path / "t_demo.hdf5"], cameras=["agentview"])
    b = ds.get_batch(np.array([2]), chunk_len=1)
    np.testing.assert_allclose(
        b.observations["states"][0], np.r_[w["ee_states"][0][2], w["gripper_states"][0][2]], rtol=1e-6
    )
    # stored as robosuite renders (upside down); served upright as the env serves them: both axes flipped, CHW
    np.testing.assert_array_equal(b.observations["images"][0], w["agentview_rgb"][0][2][::-1, ::-1].transpose(2, 0, 1))
    assert b.observations["task_descriptions"] == ["put the bowl on the plate"]
    spec = ds.observation_spec
    assert spec.states == (8,) and spec.images == (3, 8, 8) and spec.wrist_images is None
    assert spec.state_names[:3] == ("eef_pos.x", "eef_pos.y", "eef_pos.z") and spec.tasks == (
        "put the bowl on the plate",
    )


def test_privileged_states_use_one_layout_over_tasks(tmp_path: Path) -> None:
    wa = write_libero_file(tmp_path / "a_demo.hdf5", lengths=(2,), task="task a", objects=("bowl", "plate"))
    wb = write_libero_file(tmp_path / "b_demo.hdf5", lengths=(2,), task="task b", objects=("plate", "ramekin"), seed=1)
    ds = make([tmp_path], privileged_state=True)
    names = ds.observation_spec.state_names
    assert len(names) == 8 + 3 * 7 and names[8:11] == ("bowl.pos.x", "bowl.pos.y", "bowl.pos.z")
    b = ds.get_batch(np.array([0, 2]), chunk_len=1)
    s_a, s_b = b.observations["states"]
    ramekin = [i for i, n in enumerate(names) if n.startswith("ramekin.")]
    bowl = [i for i, n in enumerate(names) if n.startswith("bowl.")]
    plate = [i for i, n in enumerate(names) if n.startswith("plate.")]
    assert not s_a[ramekin].any() and not s_b[bowl].any()  # absent objects are zeros
    np.testing.assert_allclose(s_a[plate], wa["object"][0][0][7:], rtol=1e-6)
    np.testing.assert_allclose(s_b[plate], wb["object"][0][0][:7], rtol=1e-6)
    assert ds.task_descriptions == ("task a", "task b")


def test_max_demos_per_task_keeps_the_first_k(tmp_path: Path) -> None:
    write_libero_file(tmp_path / "t_demo.hdf5", lengths=(5, 3, 4))
    assert make([tmp_path], max_demos_per_task=2).num_episodes == 2
    assert len(make([tmp_path], max_demos_per_task=1)) == 5


def _error(tmp_path: Path, **kw) -> str:
    with pytest.raises(ConfigError) as exc:
        make([tmp_path / "t_demo.hdf5"], **kw)
    return str(exc.value)


def test_bad_files_name_the_file_the_key_and_the_shape(tmp_path: Path) -> None:
    (tmp_path / "t_demo.hdf5").write_text("not hdf5")
    assert "t_demo.hdf5 is not an HDF5 file" in _error(tmp_path)
    with h5py.File(tmp_path / "t_demo.hdf5", "w") as f:
        f.create_group("other")
    assert "'/data' is missing" in _error(tmp_path)
    with h5py.File(tmp_path / "t_demo.hdf5", "w") as f:
        f.create_group("data")
    assert "no demonstrations" in _error(tmp_path)
    write_libero_file(tmp_path / "t_demo.hdf5", lengths=(3,))
    with h5py.File(tmp_path / "t_demo.hdf5", "a") as f:
        del f["data/demo_0/actions"]
        f["data/demo_0/actions"] = np.zeros((3, 6))
    msg = _error(tmp_path)
    assert "/data/demo_0/actions has shape (3, 6)" in msg and "expected [T, 7]" in msg
    write_libero_file(tmp_path / "t_demo.hdf5", lengths=(3,))
    with h5py.File(tmp_path / "t_demo.hdf5", "a") as f:
        del f["data/demo_0/obs/object"]
    assert "'/data/demo_0/obs/object' is missing" in _error(tmp_path, privileged_state=True)
    assert "unknown camera" in _error(tmp_path, cameras=["front"])


def test_missing_paths_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        make([tmp_path / "nope.hdf5"])
    with pytest.raises(ConfigError, match=r"holds no \.hdf5 file"):
        make([tmp_path])


def test_the_env_task_text_wins_over_the_bddl_instruction(tmp_path: Path) -> None:
    write_libero_file(tmp_path / "t_demo.hdf5", lengths=(2,), task="pick the akita black bowl")
    with h5py.File(tmp_path / "t_demo.hdf5", "a") as f:
        f["data"].attrs["vlarl_task_description"] = "pick up the black bowl"
    assert make([tmp_path]).task_descriptions == ("pick up the black bowl",)
