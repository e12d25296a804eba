"""GR00T N1.5 as a vlarl ChunkedPolicy, with log-probabilities over the denoising chain.

act: VL tokens -> K denoising steps from x_0 ~ N(0, I) (x_0 = 0 when deterministic); a step is stochastic
(x_{t+D} = mean + std * eps) either at one random index per rollout (stored
in the replay as ``denoise_index``) or at every step (``joint_logprob``); the
other steps follow the official Euler integrator x + v D. The whole chain is
stored, so ``evaluate`` recomputes mean and std at the stored points and
reproduces act's log-probs at unchanged weights. Log-probs and entropies are
summed over the valid action dims of the ``num_action_chunks`` executed steps:
shape [N, C] (``logprob_type = "action"``); a joint chain's K+1 terms are summed or
averaged (``rl_head_config.chain_logprob_reduction``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from vlarl.contracts.dataset import DemoBatch
from vlarl.contracts.observation import ObsBatch
from vlarl.contracts.policy import ActOutput, ChunkedPolicy, EvalOutput, Replay, SupervisedOutput
from vlarl.contracts.spaces import ActionSpec, ObservationSpec
from vlarl.errors import ConfigError
from vlarl_gr00t import denoise, images, inputs, prompt, supervised
from vlarl_gr00t.checkpoint import load_weights
from vlarl_gr00t.checks import action_chunk, check_compatible, check_observation_spec, denoising_steps
from vlarl_gr00t.embodiment import Embodiment, read_metadata, resolve
from vlarl_gr00t.flow_matching import FlowDraw
from vlarl_gr00t.heads import NoiseHead, ValueHead
from vlarl_gr00t.model import Gr00tN15, disable_dropout
from vlarl_gr00t.model_config import preset, read_config_json
from vlarl_gr00t.register import Gr00tConfig, Gr00tHooks

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


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
        self.action_chunk = action_chunk(model.cfg, config)
        self.action_dim = embodiment.action_dim
        self.num_steps = denoising_steps(model.cfg, config)
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
        supervised.set_trainable(model, config)  # tune_llm / tune_visual / tune_projector / tune_diffusion_model
        self.register_buffer("_cat", torch.tensor(embodiment.embodiment_id), persistent=False)
        self._image_size = eagle.image_size

    # ---- inputs -------------------------------------------------------------------------------------------
    def prepare(self, obs: ObsBatch) -> Replay:
        """Validate and convert an observation batch (no forward pass)."""
        inputs.validate(obs, self.embodiment, self.cams)
        eagle = self.model.backbone.eagle_model
        views = inputs.images_tensor(obs, self.cams, self._image_size, self.config.image_crop_scale)
        ids, mask = prompt.token_ids(
            list(obs["task_descriptions"]),
            self.tokenizer,
            len(self.cams),
            eagle.num_image_token,
            self.config.max_text_tokens,
            self.config.padding_side,
        )
        state = inputs.states_tensor(obs, self.embodiment, self.model.action_head.max_state_dim)
        dev = self.device
        return {
            "images": views.to(dev),
            "input_ids": ids.to(dev),
            "attention_mask": mask.to(dev),
            "state": state.to(dev, self._dtype),
        }

    def fsdp_units(self) -> list[torch.nn.Module]:
        """FSDP2 units: the SigLIP encoder layers, the LLM decoder layers, the VL self-attention and DiT blocks.

        The DiT blocks run once per denoising step in a forward; FSDP2 gathers them again at each call.
        """
        eagle, head = self.model.backbone.eagle_model, self.model.action_head
        units = [*eagle.vision_model.vision_model.encoder.layers, *eagle.language_model.model.layers]
        if head.vl_self_attention is not None:
            units += list(head.vl_self_attention.transformer_blocks)
        return [*units, *head.model.transformer_blocks]

    @property
    def _dtype(self) -> torch.dtype:
        return self.model.action_head.future_tokens.weight.dtype

    def encode(self, replay: Replay) -> dict[str, torch.Tensor | None]:
        """Backbone tokens ``vl``, head context (vlln + vl_self_attention), state features, embodiment ids.

        ``replay`` holds ``images`` uint8 [N, V, 3, S, S], ``input_ids``/``attention_mask`` [N, L] and the
        normalized, zero-padded ``state`` [N, max_state_dim].
        """
        head = self.model.action_head
        backbone_trains = any(p.requires_grad for p in self.model.backbone.parameters())
        with torch.set_grad_enabled(torch.is_grad_enabled() and backbone_trains):
            pixels = images.pixel_values(replay["images"], self._dtype)
            vl = self.model.backbone(pixels, replay["input_ids"], replay["attention_mask"])
        n = vl.shape[0]
        cat = self._cat.expand(n)
        head_mask = replay["attention_mask"] if self.config.vl_padding_mask else None
        return {
            "vl": vl,
            "mask": replay["attention_mask"],
            "head_mask": head_mask,
            "context": head.encode_context(vl, head_mask),
            "state_features": head.encode_state(replay["state"], cat),
            "cat": cat,
        }

    def velocity(
        self, x: torch.Tensor, k: torch.Tensor, enc: dict[str, torch.Tensor | None]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The head's velocity [N, H, A] at x, Euler step indices k [N] (and the DiT action-token features)."""
        return self.model.action_head.velocity(
            x, k, self.num_steps, enc["context"], enc["head_mask"], enc["state_features"], enc["cat"]
        )

    def integrate(self, enc: dict[str, torch.Tensor | None], x0: torch.Tensor) -> torch.Tensor:
        """The official get_action chain x_{k+1} = x_k + v_k / K from x0: [N, K+1, H, A] (index 0 = x0)."""
        chain = [x0]
        for k in range(self.num_steps):
            kk = torch.full((x0.shape[0],), k, device=x0.device, dtype=torch.long)
            chain.append(chain[-1] + self.velocity(chain[-1], kk, enc)[0] / self.num_steps)
        return torch.stack(chain, dim=1)

    def to_env_actions(self, actions: torch.Tensor) -> torch.Tensor:
        """Model actions [..., H', A_model] -> env units [..., H', A] (valid dims, the official inverse transform)."""
        valid = actions[..., : self.action_dim].detach().float().cpu().numpy().astype(np.float64)
        return torch.from_numpy(self.embodiment.unnormalize_action(valid)).to(torch.float32)

    # ---- one denoising step -------------------------------------------------------------------------------
    def _step(
        self, x: torch.Tensor, k: torch.Tensor, enc: dict[str, torch.Tensor | None]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(ODE step x + v D, mean, std) at step indices k [N]."""
        v, feats = self.velocity(x, k, enc)
        learned = self.noise_head(feats, k.to(x.dtype) / self.num_steps) if self.noise_head is not None else None
        mean, std = denoise.transition(x, v, k, self.num_steps, self.rl.noise_method, self.rl.noise_level, learned)
        return x + v / self.num_steps, mean, std

    def _reduce(self, per_elem: torch.Tensor) -> torch.Tensor:
        """[N, H, A] chain terms -> [N, C]: valid dims of the executed steps summed; joint chains sum or mean."""
        out = per_elem[:, : self.action_chunk, : self.action_dim].sum(-1)
        if self.rl.joint_logprob and self.rl.chain_logprob_reduction == "mean":
            out = out / (self.num_steps + 1)  # RLinf: mean over the prior term and the K steps
        return out

    def _values(self, enc: dict[str, torch.Tensor | None]) -> torch.Tensor | None:
        if self.value_head is None:
            return None
        return self.value_head(enc["vl"], enc["mask"], enc["state_features"]).float()

    # ---- contract -----------------------------------------------------------------------------------------
    def act(self, obs: ObsBatch, deterministic: bool = False) -> ActOutput:
        replay = self.prepare(obs)
        with torch.no_grad():
            enc = self.encode(replay)
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
        replay.update({"chain": torch.stack(chain, dim=1), "denoise_index": index, "actions": norm_actions})
        return ActOutput(
            actions=self.to_env_actions(norm_actions),
            log_probs=self._reduce(lp_elem).float(),
            values=values,
            replay=replay,
        )

    def evaluate(self, replay: Replay) -> EvalOutput:
        enc = self.encode(replay)
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
        return EvalOutput(log_probs=self._reduce(lp).float(), entropy=self._reduce(ent).float(), values=values)

    @torch.no_grad()
    def predict_values(self, obs: ObsBatch) -> torch.Tensor | None:
        if self.value_head is None:
            return None
        return self._values(self.encode(self.prepare(obs)))

    # ---- supervised fine-tuning (the official flow-matching loss: vlarl_gr00t.supervised) --------------------
    def supervised_loss(
        self, batch: DemoBatch, draw: FlowDraw | None = None, generator: torch.Generator | None = None
    ) -> SupervisedOutput:
        """Flow-matching loss of ``batch`` (env-unit action chunks, normalized here with the embodiment's modes).

        The noise and times come from ``draw`` when given, else from ``generator`` (else the global RNG, in the
        official order)."""
        actions, mask = supervised.targets(self, batch)
        return supervised.flow_matching_loss(self, self.prepare(batch.observations), actions, mask, draw, generator)

    def train(self, mode: bool = True) -> Gr00tPolicy:
        """As upstream's set_frozen_modules_to_eval_mode: frozen parts stay in eval mode (their dropout off)."""
        super().train(mode)
        if mode:
            for module in supervised.frozen_modules(self.model, self.config):
                module.eval()
        return self


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
    if config.metadata_path:
        sources.update(read_metadata(config.metadata_path))
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
        config.embodiment_tag,
        embodiment_sources(config, use_hooks),
        config.embodiment_ids,
        config.normalization,
        config.embodiment_table,
    )
    check_compatible(cfg, emb, config, action_spec)
    check_observation_spec(emb, inputs.camera_sources(emb, config.camera_keys), observation_spec)
    model = Gr00tN15(cfg)
    if ckpt is not None:
        load_weights(model, ckpt, int(cfg["backbone_cfg"]["select_layer"]))
    tokenizer = prompt.make_tokenizer(
        config.tokenizer_path,
        config.checkpoint_path,
        model.backbone.eagle_model.language_model.model.config.vocab_size,
        model.backbone.eagle_model.image_token_index,
    )
    policy = Gr00tPolicy(model, emb, config, tokenizer)
    policy.eval()  # no train-mode behaviour anywhere: log-probs must be reproducible
    return policy.to(device=config.device, dtype=_DTYPES[config.dtype])


def make(
    config: Gr00tConfig, observation_spec: ObservationSpec | None = None, action_spec: ActionSpec | None = None
) -> Gr00tPolicy:
    """Factory named in the plugin spec."""
    return build_policy(config, observation_spec=observation_spec, action_spec=action_spec)
