"""Worker groups from cluster.component_placement: how envs split, and the errors for splits that cannot work."""

import pytest

from vlarl.errors import ConfigError
from vlarl.runner.placement import parse_placement, plan_layout


def layout(mapping, stages=1, per_device=1, num_envs=8, group=None, n_devices=4):
    return plan_layout(parse_placement(mapping, n_devices, "GPUs"), stages, per_device, num_envs, group)


def test_groups_follow_the_placement():
    lay = layout({"env": "0-1", "rollout": "2-3", "actor": "0-3"}, stages=2, num_envs=16)
    assert (lay.n_env_workers, lay.n_rollout_workers, lay.world_size, lay.envs_per_worker) == (4, 2, 4, 4)
    assert [lay.env_device(w) for w in range(4)] == [0, 1, 0, 1]
    assert lay.users() == {0: 3, 1: 3, 2: 2, 3: 2}  # env workers + replicas + ranks sharing each device
    assert layout({"env,rollout,actor": "all"}, per_device=2).n_rollout_workers == 8


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(mapping={"env": "0-2", "rollout": 0, "actor": 0}), r"env.num_envs=8 does not split over 3 env workers"),
        (dict(mapping={"env": 0, "rollout": 0, "actor": "0-2"}), r"does not split over the 3 actor ranks"),
        (dict(mapping={"env": "0-1", "rollout": 0, "actor": 0}, group=8),
         r"algorithm.group_size=8 does not divide the 4 envs of each of the 2 env workers"),
        (dict(mapping={"env": 0, "rollout": 0, "actor": "0-1"}, group=8), r"GRPO groups must not straddle ranks"),
        (dict(mapping={"env": "0,0", "rollout": 0, "actor": 0}), r"component_placement.env names a device twice"),
        (dict(mapping={"env": 0, "rollout": 0, "actor": "0-4"}), r"asks for GPUs \[4\]"),
    ],
)  # fmt: skip
def test_impossible_splits_name_the_keys(kw, match):
    with pytest.raises(ConfigError, match=match):
        layout(**kw)
