"""Registration of the ``mlp`` policy plugin (light: no torch import)."""

from __future__ import annotations

from dataclasses import dataclass, field

import vlarl


@dataclass
class MLPPolicyConfig:
    num_action_chunks: int = 1
    """Sub-steps per decision (C)."""
    hidden_sizes: list[int] = field(default_factory=lambda: [64, 64])
    activation: str = "tanh"
    use_images: bool = False
    """Encode ``images`` with a small CNN (and ``states`` if present)."""
    cnn_channels: list[int] = field(default_factory=lambda: [16, 32, 32])
    """Output channels of the CNN's stride-2 convolutions (5x5 first, then 3x3)."""
    critic: bool = True
    value_type: str = "chunk"
    """``chunk``: one value per decision [N]; ``action``: one per sub-step [N, C]."""
    action_head: str = "auto"
    """``gaussian``, ``categorical`` (discrete dims), or ``auto`` (categorical iff every dim is discrete)."""
    init_log_std: float = -0.5
    ortho_init: bool = True


@vlarl.hookimpl
def vlarl_register() -> list[vlarl.PluginSpec]:
    return [
        vlarl.PluginSpec(
            kind="policy",
            name="mlp",
            factory="vlarl_mlp.policy:make_policy",
            description="Small MLP (states) / CNN (images) chunked Gaussian or categorical policy with an optional critic.",
            config=MLPPolicyConfig,
            requirements=(vlarl.Requirement("python", "torch", "pip install torch"),),
        )
    ]
