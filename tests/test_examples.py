"""Every example config validates against the installed plugins' schemas (requirements aside: GPU jobs)."""

from pathlib import Path

import pytest

from vlarl.config import load_config
from vlarl.runner.setup import validate
from vlarl.runner.sft import validate_sft

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.yaml"))


def test_there_are_examples_for_every_plugin():
    names = " ".join(p.stem for p in EXAMPLES)
    for part in ("libero", "isaaclab", "behavior", "openvlaoft", "gr00t", "ppo", "grpo", "mlp", "gymnasium"):
        assert part in names


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_validates(path):
    cfg = load_config(path)
    if "dataset" in cfg:
        sft = validate_sft(cfg)
        assert sft.policy[0].spec.name in path.stem.replace("openvlaoft", "openvla_oft")
    if "env" not in cfg:
        return  # a supervised-only config (vlarl sft)
    spec = validate(cfg, check_requirements=False)
    names = {k: spec.plugins[k][0].spec.name for k in ("env", "policy", "algorithm") if k in spec.plugins}
    stem = path.stem.replace("openvlaoft", "openvla_oft")
    assert all(name in stem for name in names.values()), names
