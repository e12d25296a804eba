"""LIBERO init-state files are read without running code: the installed package's real files, upstream
LIBERO's torch-pickle layout, and crafted malicious files (refused, named, never run)."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from vlarl.errors import PluginError
from vlarl_libero.tasks import get_benchmark, load_init_states, read_init_states


class _RunsCode:
    """Unpickling this runs ``touch <marker>``: what a malicious init-state file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _refused(exc: pytest.ExceptionInfo[PluginError], file: Path) -> str:
    text = exc.value.problem
    assert f"The LIBERO init-state file {file} was refused" in text and "nothing in it was run" in text
    assert "weights_only=False" not in text + exc.value.fix and "add_safe_globals" not in text
    return text


def test_the_installed_package_s_real_init_states_load_as_its_own_reader_loads_them():
    bench = get_benchmark("libero_spatial")
    for task_id in (0, bench.n_tasks - 1):
        ours = load_init_states(bench, task_id)
        theirs = np.asarray(bench.get_task_init_states(task_id))
        assert ours.dtype == np.float64 and ours.ndim == 2 and ours.shape[0] >= 10
        assert np.array_equal(ours, theirs)


def _upstream_file(path: Path, states: np.ndarray) -> None:
    """Upstream LIBERO's layout: ``torch.save`` of a numpy array, pickled by numpy 1.x (whose reconstructor is
    ``numpy.core.multiarray._reconstruct``; numpy 2 writes ``numpy._core``)."""
    buf = io.BytesIO()
    torch.save(states, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    with zipfile.ZipFile(path, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
                assert b"cnumpy.core.multiarray\n_reconstruct" in data  # the protocol-2 GLOBAL upstream files hold
            out.writestr(info, data)


def test_upstream_torch_pickle_init_states_load_with_only_numpy_globals_allowed(tmp_path):
    states = np.random.default_rng(0).normal(size=(50, 92))
    _upstream_file(tmp_path / "task.pruned_init", states)
    assert np.array_equal(read_init_states(tmp_path / "task.pruned_init"), states)
    before = len(torch.serialization.get_safe_globals())
    torch.save(states.astype(np.float32), tmp_path / "numpy2.pruned_init")  # the layout numpy 2 writes
    assert read_init_states(tmp_path / "numpy2.pruned_init").dtype == np.float32
    assert len(torch.serialization.get_safe_globals()) == before  # allowed for those calls only


def test_a_torch_pickle_that_would_run_code_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    file = tmp_path / "evil.pruned_init"
    torch.save({"states": _RunsCode(marker)}, file)
    with pytest.raises(PluginError) as exc:
        read_init_states(file)
    assert "posix.system" in _refused(exc, file)
    assert not marker.exists()


def test_object_arrays_are_refused_in_both_layouts(tmp_path):
    marker = tmp_path / "pwned"
    evil = np.array([_RunsCode(marker), 1.0], dtype=object)
    torch.save(evil, tmp_path / "obj.pruned_init")
    with pytest.raises(PluginError) as exc:
        read_init_states(tmp_path / "obj.pruned_init")
    _refused(exc, tmp_path / "obj.pruned_init")
    np.save(tmp_path / "obj.npy", evil, allow_pickle=True)
    with pytest.raises(PluginError) as exc:
        read_init_states(tmp_path / "obj.npy")
    assert "pickled object array" in _refused(exc, tmp_path / "obj.npy")
    assert not marker.exists()


def test_npz_name_resolution_and_missing_damaged_or_odd_files_are_named(tmp_path):
    states = np.arange(12.0).reshape(3, 4)
    np.savez_compressed(tmp_path / "t.pruned_init.npz", states=states)
    assert np.array_equal(read_init_states(tmp_path / "t.pruned_init"), states)  # libero-pro's naming
    with pytest.raises(PluginError, match=r"init-state file .*nope\.pruned_init is missing"):
        read_init_states(tmp_path / "nope.pruned_init")
    data = (tmp_path / "t.pruned_init.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(PluginError, match=r"cut\.npz is damaged"):
        read_init_states(tmp_path / "cut.npz")
    np.savez(tmp_path / "other.npz", poses=states)
    with pytest.raises(PluginError, match="has no 'states' array"):
        read_init_states(tmp_path / "other.npz")
    np.save(tmp_path / "flat.npy", np.arange(5.0))
    with pytest.raises(PluginError, match="not a 2-D numeric array"):
        read_init_states(tmp_path / "flat.npy")
