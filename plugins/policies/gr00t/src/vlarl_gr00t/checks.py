"""Every shape and config error that can be found before building or running the model."""

from __future__ import annotations

from typing import Any

from vlarl.contracts.spaces import ActionSpec, ObservationSpec
from vlarl.errors import ConfigError
from vlarl_gr00t import denoise
from vlarl_gr00t.embodiment import Embodiment
from vlarl_gr00t.prompt import PADDING_SIDES
from vlarl_gr00t.register import Gr00tConfig

DTYPES = ("float32", "bfloat16", "float16")
REDUCTIONS = ("sum", "mean")


def denoising_steps(cfg: dict[str, Any], config: Gr00tConfig) -> int:
    """K: policy.denoising_steps when set, else the checkpoint's num_inference_timesteps (upstream get_action)."""
    steps = config.denoising_steps
    if steps is None:
        steps = cfg["action_head_cfg"]["num_inference_timesteps"]
    if steps is None:
        raise ConfigError(
            "The checkpoint's config.json has no action_head_cfg.num_inference_timesteps and policy.denoising_steps "
            "is not set.",
            "Set policy.denoising_steps (the released N1.5 configs use 4).",
        )
    if int(steps) < 1:
        raise ConfigError(f"denoising_steps={steps} must be >= 1.", "Use the checkpoint's value (unset) or 4.")
    return int(steps)


def action_chunk(cfg: dict[str, Any], config: Gr00tConfig) -> int:
    """Executed steps per chunk: policy.num_action_chunks, else the whole action horizon (upstream get_action)."""
    horizon = cfg["action_head_cfg"]["action_horizon"]
    chunk = horizon if config.num_action_chunks is None else config.num_action_chunks
    if not 1 <= chunk <= horizon:
        raise ConfigError(
            f"num_action_chunks={chunk} must be in 1..{horizon} (the action horizon).",
            "Execute at most action_horizon steps per chunk.",
        )
    return chunk


def check_compatible(cfg: dict[str, Any], emb: Embodiment, config: Gr00tConfig, action_spec: ActionSpec | None) -> None:
    head = cfg["action_head_cfg"]
    rl = config.rl_head_config
    if emb.action_dim > head["action_dim"]:
        widths = ", ".join(f"{k}:{s.width}" for k, s in emb.action.items())
        raise ConfigError(
            f"Embodiment '{emb.tag}' has {emb.action_dim} action dims ({widths}); "
            f"the model's action_dim is {head['action_dim']}.",
            "Use a checkpoint with a larger action_dim, or drop action keys from the embodiment.",
        )
    if emb.state_dim > head["max_state_dim"]:
        raise ConfigError(
            f"Embodiment '{emb.tag}' has {emb.state_dim} state dims; the model's max_state_dim is {head['max_state_dim']}.",
            "Use fewer state keys or a checkpoint with a larger max_state_dim.",
        )
    n_emb = head["max_num_embodiments"]
    if not 0 <= emb.embodiment_id < n_emb:
        raise ConfigError(
            f"Embodiment '{emb.tag}' uses projector slot {emb.embodiment_id}; the model has slots 0..{n_emb - 1}.",
            "Set policy.embodiment_ids.<tag> to a free slot in that range.",
        )
    if action_spec is not None and action_spec.dim != emb.action_dim:
        source = action_spec.source  # a dataset names the file and keys its actions came from
        widths = ", ".join(f"{k}:{s.width}" for k, s in emb.action.items())
        if source:
            raise ConfigError(
                f"{source}: the demonstrated actions have {action_spec.dim} dims but GR00T embodiment '{emb.tag}' "
                f"acts in {emb.action_dim} ({widths}).",
                "Map the dataset's action dims to the embodiment's action keys (dataset.actions, or the action "
                "groups of meta/modality.json), or describe the dataset's embodiment (policy.metadata_path).",
            )
        raise ConfigError(
            f"The env's action has {action_spec.dim} dims but embodiment '{emb.tag}' outputs {emb.action_dim}.",
            "Pick the embodiment_tag that matches the env, or describe the env's embodiment in policy.embodiments.",
        )
    action_chunk(cfg, config)
    denoising_steps(cfg, config)
    if rl.noise_method not in denoise.METHODS:
        raise ConfigError(
            f"Unknown rl_head_config.noise_method '{rl.noise_method}'.", f"Use one of: {', '.join(denoise.METHODS)}."
        )
    if rl.noise_level < 0:
        raise ConfigError(
            f"rl_head_config.noise_level={rl.noise_level} is negative.", "Use a value >= 0 (0.5 in the seeds)."
        )
    if rl.chain_logprob_reduction not in REDUCTIONS:
        raise ConfigError(
            f"Unknown rl_head_config.chain_logprob_reduction '{rl.chain_logprob_reduction}'.",
            f"Use one of: {', '.join(REDUCTIONS)}.",
        )
    if not 0.0 < config.image_crop_scale <= 1.0:
        raise ConfigError(
            f"image_crop_scale={config.image_crop_scale} is outside (0, 1].", "Use 0.95 (official) or 1.0 (no crop)."
        )
    if config.padding_side not in PADDING_SIDES:
        raise ConfigError(f"Unknown padding_side '{config.padding_side}'.", f"Use one of: {', '.join(PADDING_SIDES)}.")
    if config.dtype not in DTYPES:
        raise ConfigError(f"Unknown dtype '{config.dtype}'.", f"Use one of: {', '.join(DTYPES)}.")


def check_observation_spec(
    emb: Embodiment, cams: list[tuple[str, str, int | None]], spec: ObservationSpec | None
) -> None:
    if spec is None:
        return
    for video_key, name, idx in cams:
        shape = spec.shape(name)
        if shape is None:
            raise ConfigError(
                f"Embodiment '{emb.tag}' needs camera '{video_key}' (observation '{name}') but the env provides {spec.keys}.",
                "Enable that camera in the env config, or remap it with policy.camera_keys.",
            )
        if idx is not None and idx >= (1 if len(shape) == 3 else shape[0]):
            raise ConfigError(
                f"Camera '{video_key}' maps to wrist_images:{idx}, beyond the env's wrist cameras.",
                "Fix policy.camera_keys.",
            )
    if emb.state:
        if spec.states is None:
            raise ConfigError(
                f"Embodiment '{emb.tag}' needs states {list(emb.state)}; the env provides none.",
                "Enable states in the env.",
            )
        if spec.states[-1] != emb.state_dim:
            raise ConfigError(
                f"The env's states have {spec.states[-1]} dims; embodiment '{emb.tag}' expects {emb.state_dim} "
                f"({', '.join(f'{k}:{s.width}' for k, s in emb.state.items())}).",
                "Match the env's state vector to the metadata.json state keys.",
            )
