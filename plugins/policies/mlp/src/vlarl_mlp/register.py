"""Registration of the ``mlp`` policy plugin (light: no torch import)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    init_log_std: Any = -0.5
    """Initial log std of the Gaussian head in [-1, 1] units: one float, or one per action dim (e.g. less
    exploration on rotation dims than on position dims of a delta-pose arm)."""
    ortho_init: bool = True
    task_embedding_dim: int = 0
    """> 0: condition actor and critic on a learned embedding of the task description, so one
    policy serves several tasks. The vocabulary is ``tasks``, else the env's ``observation_spec.tasks``."""
    tasks: list[str] = field(default_factory=list)
    """Task descriptions the embedding knows (empty: the env's)."""
    relative_positions: bool = False
    """Add ``<object>.pos - eef_pos`` for every object to the features (needs named state dims, e.g.
    libero's privileged_state): what a gripper must do next depends on where objects are *relative to it*,
    and an MLP learns that from a few demonstrations far better than from absolute coordinates."""
    normalize_states: bool = True
    """Standardize ``states`` per dim with the demonstrations' mean and std (fitted by ``vlarl sft``,
    stored in the checkpoint). Identity until fitted, so plain RL from scratch is unaffected."""
    min_state_std: float = 1e-2
    """Floor of the fitted std: a dim (nearly) constant in the demonstrations must not explode when it moves."""
    sft_loss: str = "nll"
    """Supervised loss: ``nll`` (Gaussian negative log-likelihood: fits the mean and the std, so the
    std RL starts from says how well the demonstrations pin each action dim) or ``mse`` (mean only,
    std untouched). Categorical heads always use the negative log-likelihood (cross-entropy)."""


@vlarl.hookimpl
def vlarl_register() -> list[vlarl.PluginSpec]:
    return [
        vlarl.PluginSpec(
            kind="policy",
            name="mlp",
            factory="vlarl_mlp.policy:make_policy",
            description="Small MLP (states) / CNN (images) chunked Gaussian or categorical policy with an optional critic and task embedding.",
            config=MLPPolicyConfig,
            requirements=(vlarl.Requirement("python", "torch", "pip install torch"),),
        )
    ]
