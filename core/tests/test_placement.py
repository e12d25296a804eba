import pytest

from vlarl.errors import ConfigError
from vlarl.runner.placement import parse_placement


def test_seed_syntaxes():
    assert parse_placement({"env": "0-3", "rollout": "4-7", "actor": "0-7"}, 8, "GPUs") == {
        "env": [0, 1, 2, 3], "rollout": [4, 5, 6, 7], "actor": list(range(8)),
    }  # fmt: skip
    assert parse_placement({"env,rollout,actor": "all"}, 2, "CPU slots") == {
        c: [0, 1] for c in ("env", "rollout", "actor")
    }
    assert parse_placement({"env": 0, "rollout": "1", "actor": [0, 1]}, 2, "GPUs")["actor"] == [0, 1]


def test_devices_that_do_not_exist_are_named():
    with pytest.raises(ConfigError) as err:
        parse_placement({"env": "0-3", "rollout": "4-7", "actor": "0-7"}, 2, "CPU slots")
    assert "[2, 3]" in err.value.problem and "2 CPU slots" in err.value.problem


def test_unknown_or_missing_components_and_bad_ranges():
    with pytest.raises(ConfigError, match="unknown component"):
        parse_placement({"env,learner": "all"}, 2, "GPUs")
    with pytest.raises(ConfigError, match=r"does not place \['actor'\]"):
        parse_placement({"env,rollout": "all"}, 2, "GPUs")
    with pytest.raises(ConfigError, match="cannot read devices"):
        parse_placement({"env,rollout,actor": "3-1"}, 4, "GPUs")


def test_empty_placement_shares_everything_and_unquoted_flow_keys_are_explained():
    assert parse_placement({}, 2, "GPUs") == {c: [0, 1] for c in ("env", "rollout", "actor")}
    with pytest.raises(ConfigError, match="quote keys with commas"):
        parse_placement({"env": None, "rollout": None, "actor": "all"}, 2, "GPUs")
