"""GR00T's metadata.json entry computed from a LeRobot dataset: the official JSON shape and statistics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from lerobot_files import MODALITY, write_dataset

from vlarl.errors import ConfigError
from vlarl_lerobot.gr00t_metadata import compute_metadata, main


@pytest.mark.parametrize("version", ["v2.1", "v3.0"])
def test_metadata_has_the_official_shape_and_statistics(tmp_path: Path, version: str) -> None:
    w = write_dataset(tmp_path / "ds", version=version, lengths=(40, 30, 35), size=16, fps=20, modality=MODALITY)
    entry = compute_metadata(tmp_path / "ds", "new_embodiment")
    # DatasetMetadata.model_dump(mode="json"): statistics, modalities, embodiment_tag; stats in field order
    assert list(entry) == ["statistics", "modalities", "embodiment_tag"] and entry["embodiment_tag"] == "new_embodiment"
    assert list(entry["statistics"]) == ["state", "action"] and list(entry["modalities"]) == [
        "video",
        "state",
        "action",
    ]
    assert list(entry["statistics"]["state"]) == ["x", "rot", "gripper"]
    assert list(entry["statistics"]["action"]["gripper"]) == ["max", "min", "mean", "std", "q01", "q99"]
    assert entry["modalities"]["video"] == {
        "image": {"resolution": [16, 16], "channels": 3, "fps": 20.0},
        "wrist_image": {"resolution": [16, 16], "channels": 3, "fps": 20.0},
    }
    assert entry["modalities"]["state"]["rot"] == {"absolute": True, "rotation_type": "axis_angle", "shape": [3],
                                                   "continuous": True}  # fmt: skip
    assert entry["modalities"]["action"]["x"] == {"absolute": False, "rotation_type": None, "shape": [3],
                                                  "continuous": True}  # fmt: skip
    # The statistics by their definitions, over every row of every episode (float32 data; quantiles by linear
    # interpolation between order statistics, as np.quantile's default method).
    states = np.concatenate([e["states"] for e in w["episodes"]]).astype(np.float64)
    n = len(states)
    rot = states[:, 3:6]
    got = entry["statistics"]["state"]["rot"]
    np.testing.assert_allclose(got["mean"], rot.sum(0) / n, rtol=1e-5)
    np.testing.assert_allclose(got["std"], np.sqrt(((rot - rot.sum(0) / n) ** 2).sum(0) / n), rtol=1e-4)
    np.testing.assert_allclose(got["min"], rot.min(0), rtol=0)
    ordered = np.sort(rot, axis=0)
    for q, name in ((0.01, "q01"), (0.99, "q99")):
        pos = q * (n - 1)
        lo, frac = int(np.floor(pos)), pos - np.floor(pos)
        np.testing.assert_allclose(got[name], ordered[lo] + frac * (ordered[lo + 1] - ordered[lo]), rtol=1e-5)
    actions = np.concatenate([e["actions"] for e in w["episodes"]])
    np.testing.assert_allclose(entry["statistics"]["action"]["gripper"]["max"], actions[:, 6:7].max(0), rtol=0)
    json.dumps(entry)  # plain JSON


def test_cli_writes_and_updates_metadata_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_dataset(tmp_path / "ds", lengths=(5,), modality=MODALITY)
    out = tmp_path / "exp" / "metadata.json"
    out.parent.mkdir()
    out.write_text(json.dumps({"gr1": {"kept": True}}))
    assert main([str(tmp_path / "ds"), "--embodiment-tag", "libero_franka", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["gr1"] == {"kept": True} and data["libero_franka"]["embodiment_tag"] == "libero_franka"
    assert "policy.metadata_path=" in capsys.readouterr().out
    write_dataset(tmp_path / "plain", lengths=(3,))
    assert main([str(tmp_path / "plain"), "--out", str(out)]) == 2
    assert "modality.json does not exist" in capsys.readouterr().err


def test_a_group_beyond_its_column_is_named(tmp_path: Path) -> None:
    modality = json.loads(json.dumps(MODALITY))
    modality["state"]["gripper"]["end"] = 9
    write_dataset(tmp_path / "ds", lengths=(3,), modality=modality)
    with pytest.raises(ConfigError, match=r"state.gripper is \[6:9\] but 'observation.state' has 8 dims"):
        compute_metadata(tmp_path / "ds")
