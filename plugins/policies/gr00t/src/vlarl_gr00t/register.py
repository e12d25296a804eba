"""Registration of the GR00T N1.5 policy (light: vlarl, dataclasses and stdlib only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import vlarl


@dataclass
class RLHeadConfig:
    """How the denoising chain is made stochastic for RL."""

    noise_method: str = "flow_sde"  # deterministic | flow_sde | reinflow
    noise_level: float = 0.5  # flow_sde: a in sigma_t = a sqrt((1-t)/t)
    disable_dropout: bool = True  # replace every dropout with identity (log-probs need a fixed network)
    joint_logprob: bool = False  # False: one random stochastic step per rollout; True: all steps, joint log-prob
    noise_std_min: float = 0.08  # reinflow: learned std squashed into [min, max]
    noise_std_max: float = 0.16
    # How the K+1 terms of a joint chain log-prob (prior + K steps) are combined: "sum" (the log-density of
    # the chain) or "mean" (the seeds' framework, RLinf gr00t_action_model.py:551). Entropy follows it.
    chain_logprob_reduction: str = "sum"
    noise_hidden: int = 128  # reinflow noise net width
    value_hidden: int = 256  # value head width
    add_value_head: bool = True


@dataclass
class Gr00tConfig:
    checkpoint_path: str | None = None  # GR00T-N1.5 dir: config.json, *.safetensors, experiment_cfg/metadata.json
    # A metadata.json (e.g. of a dataset: python -m vlarl_lerobot.gr00t_metadata) whose tags join (and win over)
    # the checkpoint's; policy.embodiments still win over both.
    metadata_path: str | None = None
    preset: str = "tiny"  # architecture when no checkpoint: tiny | 3b
    embodiment_tag: str = "new_embodiment"
    embodiments: dict[str, Any] = field(
        default_factory=dict
    )  # extra tags: {tag: {modalities, statistics, embodiment_id}}
    embodiment_ids: dict[str, int] = field(default_factory=dict)  # projector slot per tag (overrides the table)
    embodiment_table: str = "official"  # tag -> slot table: official (embodiment_tags.py) | rlinf (the seeds')
    # Mode per key: "<modality>.<key>" (as the data configs: "action.gripper"), "<key>", "<modality>.*" or "*";
    # min_max (default) | q99 | mean_std | binary | identity, with the official Normalizer's formulas.
    normalization: dict[str, str] = field(default_factory=dict)
    camera_keys: dict[str, str] = field(default_factory=dict)  # video key -> images | wrist_images | wrist_images:<k>
    num_action_chunks: int | None = None  # executed steps per chunk; None: the whole action_horizon
    denoising_steps: int | None = None  # K; None: the checkpoint's num_inference_timesteps (official)
    rl_head_config: RLHeadConfig = field(default_factory=RLHeadConfig)
    vl_padding_mask: bool = False  # mask padded VL tokens in the head (upstream: no mask, padding takes part)
    image_crop_scale: float = 0.95  # eval center crop of the data configs (VideoCrop scale); 1.0: no crop
    padding_side: str = "right"  # right (fixed length, RLinf) | left (the official collate's side)
    max_text_tokens: int = 32  # task tokens kept (the prompt has a fixed length so replay records stack)
    tokenizer_path: str | None = None  # Eagle 2.5 tokenizer dir; default: the checkpoint dir, else a byte tokenizer
    # Trainable parts, as scripts/gr00t_finetune.py exposes them (its defaults): the vision tower + connector
    # (mlp1), the LLM, the action head's projector (state/action encoders, action decoder, position embedding),
    # the DiT. The head's vlln / vl_self_attention / future tokens and the RL heads are always trainable.
    tune_visual: bool = False
    tune_llm: bool = False
    tune_projector: bool = True
    tune_diffusion_model: bool = True
    # SFT: leave chunk steps past an episode's end out of the loss (the dataset's action_mask). False: train on
    # them (they repeat the last action), as the official loader's "first_last" padding does.
    sft_mask_past_episode_end: bool = True
    gripper_convention: str = "none"
    dtype: str = "float32"
    device: str = "cpu"


class Gr00tHooks:
    @vlarl.hookspec
    def vlarl_gr00t_embodiments(self) -> dict[str, Any]:
        """Return {tag: metadata.json-style entry (modalities, statistics, embodiment_id)} for new embodiments."""


@vlarl.hookimpl
def vlarl_addhooks(pluginmanager: Any) -> None:
    pluginmanager.add_hookspecs(Gr00tHooks)


@vlarl.hookimpl
def vlarl_register() -> list[vlarl.PluginSpec]:
    fix = "pip install vlarl-gr00t"
    return [
        vlarl.PluginSpec(
            kind="policy",
            name="gr00t",
            factory="vlarl_gr00t.policy:make",
            description="GR00T N1.5 (Eagle 2.5 VLM + flow-matching DiT head); RL log-probs via flow_sde or reinflow noise",
            config=Gr00tConfig,
            requirements=(
                vlarl.Requirement(kind="python", name="torch", fix=fix),
                vlarl.Requirement(kind="python", name="transformers", fix=fix),
                vlarl.Requirement(kind="python", name="safetensors", fix=fix),
            ),
            extra={"check_setup": "vlarl_gr00t.check_setup:check_setup"},
        )
    ]
