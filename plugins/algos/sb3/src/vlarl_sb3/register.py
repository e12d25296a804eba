"""Registration of the ``sb3`` bridge (light: no stable-baselines3 or torch import)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import vlarl


@dataclass
class SB3Config:
    algo: str = "PPO"
    """Any algorithm class exported by stable_baselines3 (PPO, A2C, SAC, TD3, DQN, ...)."""
    policy: str = "MlpPolicy"
    """SB3 policy name; MultiInputPolicy is used automatically when the env also returns images."""
    chunk_len: int = 1
    """Sub-steps per SB3 step: the SB3 action is the flattened chunk [chunk_len * action_dim]."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Constructor arguments of the SB3 algorithm (n_steps, learning_rate, ...)."""
    seed: int = 0
    log_interval: int = 1
    """Forward SB3's logger records to the vlarl log function every this many SB3 log dumps."""


@vlarl.hookimpl
def vlarl_register() -> list[vlarl.PluginSpec]:
    return [
        vlarl.PluginSpec(
            kind="algo",
            name="sb3",
            factory="vlarl_sb3.trainer:make",
            description="Bridge: trains any stable-baselines3 algorithm on a vlarl env through an SB3 VecEnv adapter.",
            config=SB3Config,
            requirements=(
                vlarl.Requirement("python", "stable_baselines3", "pip install stable-baselines3"),
                vlarl.Requirement("python", "gymnasium", "pip install gymnasium"),
            ),
            # Not a (policy, buffer) algorithm: SB3 owns its policy and its loop; runners call trainer.learn().
            extra={"external_trainer": True},
        )
    ]
