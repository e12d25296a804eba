"""Registration of the ``gymnasium`` env plugin (light: no gymnasium import)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import vlarl


@dataclass
class GymnasiumEnvConfig:
    env_id: str = "CartPole-v1"
    """Any id registered with gymnasium (``gymnasium.make(env_id)``)."""
    num_envs: int = 8
    max_episode_steps: int | None = None
    """Defaults to the id's registered limit."""
    task_description: str = ""
    """Fixed instruction for every sub-env (defaults to the env id)."""
    render_images: bool = False
    """Also return ``images`` from ``render()`` (rgb_array), resized to ``image_size``."""
    image_size: int = 64
    make_kwargs: dict[str, Any] = field(default_factory=dict)


@vlarl.hookimpl
def vlarl_register() -> list[vlarl.PluginSpec]:
    return [
        vlarl.PluginSpec(
            kind="env",
            name="gymnasium",
            factory="vlarl_gymnasium.env:make_env",
            description="Any registered gymnasium env id as a chunked vectorized env (states; images from render()).",
            config=GymnasiumEnvConfig,
            requirements=(vlarl.Requirement("python", "gymnasium", "pip install gymnasium"),),
        )
    ]
