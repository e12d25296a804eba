"""Registration of the ``ppo`` algorithm plugin (light: no torch import)."""

from __future__ import annotations

from dataclasses import dataclass

import vlarl


@dataclass
class PPOConfig:
    gamma: float = 0.99
    """Discount per decision: per chunk with chunk_level rewards, per sub-step with action_level."""
    gae_lambda: float = 0.95
    reward_type: str = "chunk_level"
    """chunk_level: rewards summed over a chunk's valid sub-steps; action_level: one reward per sub-step."""
    lr: float = 3e-4
    critic_lr: float | None = None
    """Learning rate of parameters named *value_head* / *critic*; None: same as lr."""
    lr_anneal_updates: int | None = None
    """Decay both learning rates linearly to 0 over this many update() calls; None: constant."""
    adam_eps: float = 1e-5
    weight_decay: float = 0.0
    update_epochs: int = 4
    num_minibatches: int = 4
    clip_ratio_low: float = 0.2
    clip_ratio_high: float = 0.2
    clip_ratio_c: float | None = None
    """Dual clip (> 1): caps the loss of negative-advantage samples at -A * clip_ratio_c."""
    value_clip: float | None = 0.2
    """Clip new values to old +- value_clip; None: no value clipping."""
    value_loss: str = "mse"
    """mse or huber."""
    huber_delta: float = 10.0
    value_loss_coef: float = 0.5
    entropy_coef: float = 0.0
    max_grad_norm: float | None = 0.5
    normalize_advantages: bool = True
    """Normalize advantages per minibatch over valid entries."""
    critic_warmup_steps: int = 0
    """The first K update() calls train only the value loss."""
    target_kl: float | None = None
    """Stop the epochs of an update once a minibatch's approx_kl exceeds 1.5 * target_kl."""
    seed: int = 0
    """Seed of the minibatch shuffling."""


@vlarl.hookimpl
def vlarl_register() -> list[vlarl.PluginSpec]:
    return [
        vlarl.PluginSpec(
            kind="algo",
            name="ppo",
            factory="vlarl_ppo.algorithm:make",
            description="PPO: GAE over chunk- or action-level rewards, dual and value clipping, minibatch epochs.",
            config=PPOConfig,
            requirements=(vlarl.Requirement("python", "torch", "pip install torch"),),
        )
    ]
