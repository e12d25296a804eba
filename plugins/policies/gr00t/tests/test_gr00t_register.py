"""The registration module stays light, and the seeds' config keys validate."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vlarl.config import validate_section
from vlarl.errors import ConfigError
from vlarl_gr00t.register import Gr00tConfig


def test_register_imports_nothing_heavy() -> None:
    code = (
        "import sys, vlarl_gr00t.register as r; r.vlarl_register(); "
        "heavy = [m for m in ('torch', 'transformers', 'safetensors', 'numpy') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_registry_lists_gr00t() -> None:
    from vlarl.plugins.registry import Registry

    reg = Registry()
    provided = reg.get("policy", "gr00t")
    assert provided.spec.factory == "vlarl_gr00t.policy:make"
    assert provided.distribution == "vlarl-gr00t"


def test_seed_config_keys_validate() -> None:
    section = {
        "num_action_chunks": 5,
        "denoising_steps": 4,
        "embodiment_tag": "new_embodiment",
        "rl_head_config": {"noise_method": "flow_sde", "noise_level": 0.5, "disable_dropout": True},
    }
    cfg = validate_section(Gr00tConfig, section, "policy")
    assert cfg.rl_head_config.noise_method == "flow_sde"
    assert cfg.rl_head_config.noise_level == 0.5 and cfg.num_action_chunks == 5


def test_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError, match="num_action_chunk"):
        validate_section(Gr00tConfig, {"num_action_chunk": 5}, "policy")
