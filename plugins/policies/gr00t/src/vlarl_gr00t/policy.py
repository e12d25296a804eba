"""GR00T N1.5 as a vlarl ChunkedPolicy, with log-probabilities over the denoising chain.

act: VL tokens -> K denoising steps from x_0 ~ N(0, I) (x_0 = 0 when deterministic); a step is stochastic
(x_{t+D} = mean + std * eps) either at one random index per rollout (stored
in the replay as ``denoise_index``) or at every step (``joint_logprob``); the
other steps follow the deterministic integrator x + v D. The whole chain is
stored, so ``evaluate`` recomputes mean and std at the stored points and
reproduces act's log-probs at unchanged weights. Log-probs and entropies are
summed over the valid action dims of the ``num_action_chunks`` executed steps:
shape [N, C] (``logprob_type = "action"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from vlarl.contracts.observation import ObsBatch
from vlarl.contracts.policy import ActOutput, ChunkedPolicy, EvalOutput, Replay
from vlarl.contracts.spaces import ActionSpec, ObservationSpec
from vlarl.errors import ConfigError
from vlarl_gr00t import denoise, inputs
from vlarl_gr00t.checkpoint import load_weights
from vlarl_gr00t.embodiment import Embodiment, read_metadata, resolve
from vlarl_gr00t.heads import NoiseHead, ValueHead
from vlarl_gr00t.model import Gr00tN15, disable_dropout
from vlarl_gr00t.model_config import preset, read_config_json
from vlarl_gr00t.register import Gr00tConfig, Gr00tHooks

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def check_compatible(cfg: dict[str, Any], emb: Embodiment, config: Gr00tConfig, action_spec: ActionSpec | None) -> None:
    """Every shape/config error that can be found before building or running the model."""
    head = cfg["action_head_cfg"]
    max_a = head.get("max_action_dim", head["action_dim"])
    rl = config.rl_head_config
    if emb.action_dim > max_a:
        raise ConfigError(
            f"Embodiment '{emb.tag}' has {emb.action_dim} action dims ({', '.join(f'{k}:{s.width}' for k, s in emb.action.items())}); "
            f"the model's max_action_dim is {max_a}.",
            "Use a checkpoint with a larger max_action_dim, or drop action keys from the embodiment.",
        )
    if emb.state_dim > head["max_state_dim"]:
        raise ConfigError(
            f"Embodiment '{emb.tag}' has {emb.state_dim} state dims; the model's max_state_dim is {head['max_state_dim']}.",
            "Use fewer state keys or a checkpoint with a larger max_state_dim.",
        )
    n_emb = head.get("max_num_embodiments", 32)
    if not 0 <= emb.embodiment_id < n_emb:
        raise ConfigError(
            f"Embodiment '{emb.tag}' uses projector slot {emb.embodiment_id}; the model has slots 0..{n_emb - 1}.",
            "Set policy.embodiment_ids.<tag> to a free slot in that range.",
        )
    if action_spec is not None and action_spec.dim != emb.action_dim:
        raise ConfigError(
            f"The env's action has {action_spec.dim} dims but embodiment '{emb.tag}' outputs {emb.action_dim}.",
            "Pick the embodiment_tag that matches the env, or describe the env's embodiment in policy.embodiments.",
        )
    if not 1 <= config.num_action_chunks <= head["action_horizon"]:
        raise ConfigError(
            f"num_action_chunks={config.num_action_chunks} must be in 1..{head['action_horizon']} (the action horizon).",
            "Execute at most action_horizon steps per chunk.",
        )
    if config.denoising_steps < 1:
        raise ConfigError(f"denoising_steps={config.denoising_steps} must be >= 1.", "Use 4 as in the seeds.")
    if rl.noise_method not in denoise.METHODS:
        raise ConfigError(
            f"Unknown rl_head_config.noise_method '{rl.noise_method}'.", f"Use one of: {', '.join(denoise.METHODS)}."
        )
    if rl.noise_level < 0:
        raise ConfigError(
            f"rl_head_config.noise_level={rl.noise_level} is negative.", "Use a value >= 0 (0.5 in the seeds)."
        )
    if config.dtype not in _DTYPES:
        raise ConfigError(f"Unknown dtype '{config.dtype}'.", f"Use one of: {', '.join(_DTYPES)}.")


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


class Gr00tPolicy(ChunkedPolicy):
    logprob_type = "action"
    value_type = "chunk"

    def __init__(self, model: Gr00tN15, embodiment: Embodiment, config: Gr00tConfig, tokenizer: Any) -> None:
        super().__init__()
        self.model = model
        self.embodiment = embodiment
        self.config = config
        self.rl = config.rl_head_config
        self.tokenizer = tokenizer
        head = model.action_head
        eagle = model.backbone.eagle_model
        self.action_chunk = config.num_action_chunks
        self.action_dim = embodiment.action_dim
        self.num_steps = config.denoising_steps
        self.gripper_convention = config.gripper_convention  # type: ignore[assignment]
        self.cams = inputs.camera_sources(embodiment, config.camera_keys)
        self.has_critic = self.rl.add_value_head
        self.value_head = (
            ValueHead(model.backbone.out_dim, head.cfg["input_embedding_dim"], self.rl.value_hidden)
            if self.has_critic
            else None
        )
        dit_out = head.cfg["diffusion_model_cfg"]["output_dim"]
        self.noise_head = (
            NoiseHead(dit_out, head.action_dim, self.rl.noise_hidden, self.rl.noise_std_min, self.rl.noise_std_max)
            if self.rl.noise_method == "reinflow"
            else None
        )
        if self.rl.disable_dropout:
            disable_dropout(self)
        eagle.language_model.requires_grad_(config.tune_llm)
        eagle.vision_model.requires_grad_(config.tune_visual)
        eagle.mlp1.requires_grad_(config.tune_visual)
        self.register_buffer("_cat", torch.tensor(embodiment.embodiment_id), persistent=False)
        self._image_size = eagle.image_size

    # ---- inputs -------------------------------------------------------------------------------------------
    def prepare(self, obs: ObsBatch) -> Replay:
        """Validate and convert an observation batch (no forward pass)."""
        inputs.validate(obs, self.embodiment, self.cams)
        eagle = self.model.backbone.eagle_model
        images = inputs.images_tensor(obs, self.cams, self._image_size)
        ids, mask = inputs.token_ids(
            list(obs["task_descriptions"]),
            self.tokenizer,
            len(self.cams),
            eagle.num_image_token,
            eagle.image_token_index,
            self.config.max_text_tokens,
        )
        state = inputs.states_tensor(obs, self.embodiment, self.model.action_head.max_state_dim)
        dev = self.device
        return {
            "images": images.to(dev),
            "input_ids": ids.to(dev),
            "attention_mask": mask.to(dev),
            "state": state.to(dev, self._dtype),
        }

    @property
    def _dtype(self) -> torch.dtype:
        return self.model.action_head.future_tokens.weight.dtype

    def _encode(self, r: Replay) -> dict[str, torch.Tensor]:
        head = self.model.action_head
        backbone_trains = any(p.requires_grad for p in self.model.backbone.parameters())
        with torch.set_grad_enabled(torch.is_grad_enabled() and backbone_trains):
            vl = self.model.backbone(inputs.pixel_values(r["images"], self._dtype), r["input_ids"], r["attention_mask"])
        n = vl.shape[0]
        cat = self._cat.expand(n)
        return {
            "vl": vl,
            "mask": r["attention_mask"],
            "context": head.encode_context(vl, r["attention_mask"]),
            "state_features": head.encode_state(r["state"], cat),
            "cat": cat,
        }

    # ---- one denoising step -------------------------------------------------------------------------------
    def _step(
        self, x: torch.Tensor, k: torch.Tensor, enc: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(ODE step x + v D, mean, std) at step indices k [N]."""
        v, feats = self.model.action_head.velocity(
            x, k, self.num_steps, enc["context"], enc["mask"], enc["state_features"], enc["cat"]
        )
        learned = self.noise_head(feats, k.to(x.dtype) / self.num_steps) if self.noise_head is not None else None
        mean, std = denoise.transition(x, v, k, self.num_steps, self.rl.noise_method, self.rl.noise_level, learned)
        return x + v / self.num_steps, mean, std

    def _slice(self, per_elem: torch.Tensor) -> torch.Tensor:
        """[N, H, A_max] -> [N, C] summed over the embodiment's valid action dims of the executed steps."""
        return per_elem[:, : self.action_chunk, : self.action_dim].sum(-1)

    def _values(self, enc: dict[str, torch.Tensor]) -> torch.Tensor | None:
        if self.value_head is None:
            return None
        return self.value_head(enc["vl"], enc["mask"], enc["state_features"]).float()

    # ---- contract -----------------------------------------------------------------------------------------
    def act(self, obs: ObsBatch, deterministic: bool = False) -> ActOutput:
        replay = self.prepare(obs)
        with torch.no_grad():
            enc = self._encode(replay)
            head = self.model.action_head
            n, steps, dev = replay["state"].shape[0], self.num_steps, self.device
            shape = (n, head.action_horizon, head.action_dim)
            # Greedy acting starts from the prior's mean so it is repeatable; sampling starts from x_0 ~ N(0, I).
            x = (
                torch.zeros(shape, device=dev, dtype=self._dtype)
                if deterministic
                else torch.randn(shape, device=dev, dtype=self._dtype)
            )
            stochastic = self.rl.noise_method != "deterministic"
            joint = self.rl.joint_logprob
            index = (
                torch.full((n,), -1, device=dev, dtype=torch.long)
                if joint
                else torch.randint(0, steps, (n,), device=dev)
            )
            lp_elem = (
                denoise.gaussian_log_prob(x, torch.zeros_like(x), torch.ones_like(x)) if joint else torch.zeros_like(x)
            )
            ent_elem = denoise.gaussian_entropy(torch.ones_like(x)) if joint else torch.zeros_like(x)
            chain = [x]
            for k in range(steps):
                kk = torch.full((n,), k, device=dev, dtype=torch.long)
                ode, mean, std = self._step(x, kk, enc)
                here = torch.ones(n, 1, 1, dtype=torch.bool, device=dev) if joint else (index == k).view(-1, 1, 1)
                if deterministic or not stochastic:
                    x_next = ode
                else:
                    x_next = torch.where(here, mean + std * torch.randn_like(mean), ode)
                if stochastic:
                    lp_elem = lp_elem + torch.where(here, denoise.gaussian_log_prob(x_next, mean, std), 0.0)
                    ent_elem = ent_elem + torch.where(here, denoise.gaussian_entropy(std), 0.0)
                x = x_next
                chain.append(x)
            if not stochastic:
                lp_elem, ent_elem = torch.zeros_like(x), torch.zeros_like(x)
            norm_actions = x[:, : self.action_chunk, : self.action_dim].float()
            values = self._values(enc)
        env_actions = self.embodiment.unnormalize_action(norm_actions.cpu().numpy().astype(np.float64))
        replay.update({"chain": torch.stack(chain, dim=1), "denoise_index": index, "actions": norm_actions})
        return ActOutput(
            actions=torch.from_numpy(env_actions).to(torch.float32),
            log_probs=self._slice(lp_elem).float(),
            values=values,
            replay=replay,
        )

    def evaluate(self, replay: Replay) -> EvalOutput:
        enc = self._encode(replay)
        chain = replay["chain"].to(self._dtype)
        n, dev = chain.shape[0], chain.device
        values = self._values(enc)
        if self.rl.noise_method == "deterministic":
            zeros = torch.zeros(n, self.action_chunk, device=dev)
            return EvalOutput(log_probs=zeros, entropy=zeros, values=values)
        if self.rl.joint_logprob:
            x0 = chain[:, 0]
            lp = denoise.gaussian_log_prob(x0, torch.zeros_like(x0), torch.ones_like(x0))
            ent = denoise.gaussian_entropy(torch.ones_like(x0))
            for k in range(self.num_steps):
                kk = torch.full((n,), k, device=dev, dtype=torch.long)
                _, mean, std = self._step(chain[:, k], kk, enc)
                lp = lp + denoise.gaussian_log_prob(chain[:, k + 1], mean, std)
                ent = ent + denoise.gaussian_entropy(std)
        else:
            idx = replay["denoise_index"].to(torch.long)
            rows = torch.arange(n, device=dev)
            _, mean, std = self._step(chain[rows, idx], idx, enc)
            lp = denoise.gaussian_log_prob(chain[rows, idx + 1], mean, std)
            ent = denoise.gaussian_entropy(std)
        return EvalOutput(log_probs=self._slice(lp).float(), entropy=self._slice(ent).float(), values=values)

    @torch.no_grad()
    def predict_values(self, obs: ObsBatch) -> torch.Tensor | None:
        if self.value_head is None:
            return None
        return self._values(self._encode(self.prepare(obs)))


# ---- building -----------------------------------------------------------------------------------------------
def hook_embodiments() -> dict[str, Any]:
    """Entries contributed by installed packages through the ``vlarl_gr00t_embodiments`` hook."""
    from vlarl.plugins.registry import get_registry

    pm = get_registry().pm
    if not hasattr(pm.hook, "vlarl_gr00t_embodiments"):
        pm.add_hookspecs(Gr00tHooks)
    out: dict[str, Any] = {}
    for result in pm.hook.vlarl_gr00t_embodiments():
        out.update(result or {})
    return out


def embodiment_sources(config: Gr00tConfig, use_hooks: bool = True) -> dict[str, Any]:
    sources: dict[str, Any] = {}
    if config.checkpoint_path:
        sources.update(read_metadata(Path(config.checkpoint_path) / "experiment_cfg" / "metadata.json"))
    if use_hooks:
        sources.update(hook_embodiments())
    sources.update(config.embodiments or {})  # config wins: it is the user's explicit choice
    return sources


def build_policy(
    config: Gr00tConfig,
    observation_spec: ObservationSpec | None = None,
    action_spec: ActionSpec | None = None,
    use_hooks: bool = True,
) -> Gr00tPolicy:
    ckpt = Path(config.checkpoint_path) if config.checkpoint_path else None
    if ckpt is not None and not ckpt.is_dir():
        raise ConfigError(
            f"checkpoint_path {ckpt} is not a directory.", "Point it at a GR00T-N1.5 checkpoint directory."
        )
    cfg = read_config_json(ckpt / "config.json") if ckpt else preset(config.preset)
    emb = resolve(
        config.embodiment_tag, embodiment_sources(config, use_hooks), config.embodiment_ids, config.normalization
    )
    check_compatible(cfg, emb, config, action_spec)
    check_observation_spec(emb, inputs.camera_sources(emb, config.camera_keys), observation_spec)
    model = Gr00tN15(cfg)
    if ckpt is not None:
        load_weights(model, ckpt, int(cfg["backbone_cfg"].get("select_layer", 12)))
    text_cfg = cfg["eagle_cfg"]["text_config"]
    tokenizer = inputs.make_tokenizer(
        config.tokenizer_path, config.checkpoint_path, text_cfg["vocab_size"], cfg["eagle_cfg"]["image_token_index"]
    )
    policy = Gr00tPolicy(model, emb, config, tokenizer)
    policy.eval()  # no train-mode behaviour anywhere: log-probs must be reproducible
    return policy.to(device=config.device, dtype=_DTYPES[config.dtype])


def make(
    config: Gr00tConfig, observation_spec: ObservationSpec | None = None, action_spec: ActionSpec | None = None
) -> Gr00tPolicy:
    """Factory named in the plugin spec."""
    return build_policy(config, observation_spec=observation_spec, action_spec=action_spec)
