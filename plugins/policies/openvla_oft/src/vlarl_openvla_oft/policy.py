"""OpenVLA-OFT as a vlarl ChunkedPolicy: act / evaluate / supervised loss / checkpoints."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vlarl.contracts.dataset import DemoBatch
from vlarl.contracts.observation import ObsBatch
from vlarl.contracts.policy import ActOutput, ChunkedPolicy, EvalOutput, Replay, SupervisedOutput
from vlarl.contracts.spaces import ActionSpec, ObservationSpec
from vlarl.errors import ConfigError, ContractError
from vlarl_openvla_oft import checkpoint as ckpt
from vlarl_openvla_oft import supervised as sup
from vlarl_openvla_oft.arch import PRESETS, Arch
from vlarl_openvla_oft.augment import random_image_aug
from vlarl_openvla_oft.preprocess import RESIZE_METHODS, preprocess
from vlarl_openvla_oft.prismatic import PrismaticOFT, rebuild_rotary_embeddings
from vlarl_openvla_oft.register import OpenVLAOFTConfig
from vlarl_openvla_oft.stats import Normalizer, select_stats
from vlarl_openvla_oft.tokenizer import ByteTokenizer, format_prompt, load_tokenizer

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
CHOICES = {
    "action_head": ("discrete", "l1"),
    "attention": ("full_bidirectional", "action_bidirectional", "causal"),
    "greedy_vocab": ("full", "action"),
    "resize_method": RESIZE_METHODS,
    "logprob_type": ("token", "action", "chunk"),
    "value_type": ("chunk", "action"),
    "gripper_postprocess": ("none", "openvla"),
    "lora_init": ("gaussian", "default"),
    "dtype": tuple(DTYPES),
}


def _check_config(cfg: OpenVLAOFTConfig) -> None:
    for key, allowed in CHOICES.items():
        if getattr(cfg, key) not in allowed:
            raise ConfigError(f"policy.{key}={getattr(cfg, key)!r} is not valid.", f"Use one of: {', '.join(allowed)}.")
    if cfg.checkpoint is None and cfg.vlarl_checkpoint is None and cfg.preset not in PRESETS:
        raise ConfigError(f"policy.preset={cfg.preset!r} is unknown.", f"Use one of: {', '.join(PRESETS)}.")
    if cfg.temperature <= 0 or cfg.top_k < 0 or cfg.num_images < 1 or cfg.action_chunk < 1:
        raise ConfigError(
            "policy.temperature must be > 0, top_k >= 0, num_images >= 1, action_chunk >= 1.",
            "Fix these values (use deterministic act for greedy decoding instead of temperature 0).",
        )


def _source(action_spec: ActionSpec) -> str:
    """Where a dataset read its actions (file and keys); empty for an env's spec."""
    return action_spec.source


def _actions_of(action_spec: ActionSpec) -> str:
    source = _source(action_spec)
    return f"the demonstrated actions ({source})" if source else "the env's actions"


def _as_tensor(x: Any) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))


class OpenVLAOFTPolicy(ChunkedPolicy):
    def _unused_parameters(self, cfg: OpenVLAOFTConfig) -> tuple[str, ...]:
        """Parameters no output depends on: OpenVLA reads each ViT's second-to-last block, so the last
        block, the final norm and SigLIP's pooling head never see a gradient; nor does the LM head in L1 mode."""
        unused = []
        for name in ("featurizer", "fused_featurizer"):
            vit = getattr(self.model.vision_backbone, name, None)
            if vit is None:
                continue
            prefix = f"model.vision_backbone.{name}"
            unused += [f"{prefix}.blocks.{len(vit.blocks) - 1}", f"{prefix}.norm"]
            if getattr(vit, "attn_pool", None) is not None:
                unused.append(f"{prefix}.attn_pool")
        if cfg.action_head == "l1":
            unused.append("model.language_model.lm_head")
        return tuple(unused)

    def __init__(self, cfg: OpenVLAOFTConfig, observation_spec: ObservationSpec, action_spec: ActionSpec) -> None:
        super().__init__()
        _check_config(cfg)
        self.cfg, self.observation_spec, self.action_spec = cfg, observation_spec, action_spec
        self.logprob_type, self.value_type = cfg.logprob_type, cfg.value_type  # type: ignore[misc]
        self.gripper_convention = "open_positive" if cfg.gripper_postprocess == "openvla" else "none"
        meta = ckpt.read_vlarl_meta(cfg.vlarl_checkpoint) if cfg.vlarl_checkpoint else None
        if cfg.checkpoint:
            arch, all_stats = ckpt.read_official_config(cfg.checkpoint)
            where = f"{cfg.checkpoint}/dataset_statistics.json"
        elif meta is not None:
            arch, all_stats, where = (
                Arch.from_dict(meta["arch"]),
                meta["stats"],
                f"{cfg.vlarl_checkpoint}/vlarl_policy.json",
            )
        else:
            arch, all_stats, where = PRESETS[cfg.preset](), None, ""
        self.arch = arch
        self.action_chunk = cfg.action_chunk
        self.action_dim = cfg.action_dim or action_spec.dim
        if cfg.action_dim is not None and cfg.action_dim != action_spec.dim:
            raise ConfigError(
                f"policy.action_dim={cfg.action_dim} but {_actions_of(action_spec)} have {action_spec.dim} dims.",
                "Remove policy.action_dim or pick the env this checkpoint was trained for"
                + (" (or select the dataset's action dims: dataset.actions)." if _source(action_spec) else "."),
            )
        self.proprio_dim = None
        if cfg.use_proprio:
            if observation_spec.states is None and cfg.proprio_dim is None:
                raise ConfigError(
                    "policy.use_proprio=true but the env provides no states.", "Set policy.use_proprio=false."
                )
            self.proprio_dim = cfg.proprio_dim or observation_spec.states[0]  # type: ignore[index]
        self.unnorm_key, stats = (None, None)
        if all_stats:
            self.unnorm_key, stats = select_stats(all_stats, cfg.unnorm_key or (meta or {}).get("unnorm_key"), where)
        elif cfg.unnorm_key is not None:
            raise ConfigError(
                f"policy.unnorm_key={cfg.unnorm_key!r} is set but there are no dataset statistics (present keys: none).",
                "Load a checkpoint with dataset_statistics.json or remove policy.unnorm_key.",
            )
        self.stats = stats
        self.normalizer = Normalizer(stats, action_spec.low, action_spec.high)
        if self.normalizer.action_dim != self.action_dim:
            raise ConfigError(
                f"Statistics entry {self.unnorm_key!r} has {self.normalizer.action_dim} action dims; "
                f"{_actions_of(action_spec)} have {self.action_dim}.",
                "Choose the policy.unnorm_key of the robot/env you run.",
            )
        self.model = self._build_model(arch, cfg)
        self.has_critic = self.model.value_head is not None
        self.log_std = nn.Parameter(
            torch.full((self.action_dim,), math.log(cfg.std_init)),
            requires_grad=cfg.learnable_std and cfg.action_head == "l1",
        )
        bins = torch.linspace(-1, 1, arch.n_action_bins, dtype=torch.float64)
        self.register_buffer("bin_centers", ((bins[:-1] + bins[1:]) / 2).float(), persistent=False)
        self.tokenizer = load_tokenizer(cfg.checkpoint)
        if isinstance(self.tokenizer, ByteTokenizer) and self.model.vocab_size < self.tokenizer.vocab_size:
            raise ConfigError("The model vocabulary is smaller than the byte tokenizer's.", "Add tokenizer files.")
        if cfg.use_lora:
            self._inject_lora(cfg)
        self.unused_parameters = self._unused_parameters(cfg)
        self._set_trainable(cfg)
        if cfg.vlarl_checkpoint:
            ckpt.load_vlarl_weights(self, cfg.vlarl_checkpoint)
        if not self.is_meta:
            self.to(torch.device(cfg.device))

    @property
    def is_meta(self) -> bool:
        """True for the ``7b`` preset without a checkpoint: real shapes, no storage."""
        return self.model.projector.fc1.weight.is_meta

    def fsdp_units(self) -> list[nn.Module]:
        """FSDP2 units: each Llama decoder layer and each block of both ViTs (the 7B's memory is in these)."""
        vision = self.model.vision_backbone
        blocks = [*vision.featurizer.blocks, *vision.fused_featurizer.blocks]
        return [*blocks, *self.model.language_model.model.layers]

    # ----- construction -------------------------------------------------------------------------
    def _build_model(self, arch: Arch, cfg: OpenVLAOFTConfig) -> PrismaticOFT:
        kwargs = dict(
            action_chunk=cfg.action_chunk, action_dim=self.action_dim, head=cfg.action_head,
            proprio_dim=self.proprio_dim, value_out=(cfg.action_chunk if cfg.value_type == "action" else 1) if cfg.value_head else None,
            attention=cfg.attention,
        )  # fmt: skip
        dtype = DTYPES[cfg.dtype]
        if cfg.checkpoint is None and cfg.preset == "7b" and cfg.vlarl_checkpoint is None:
            with torch.device("meta"):  # real sizes without allocating (parameter counts, dry runs)
                return PrismaticOFT(arch, **kwargs)
        if cfg.checkpoint is None:
            torch.manual_seed(cfg.seed)
            return PrismaticOFT(arch, **kwargs).to(dtype)
        with torch.device("meta"):
            model = PrismaticOFT(arch, **kwargs)
        model.to_empty(device=torch.device(cfg.device)).to(dtype)
        torch.manual_seed(cfg.seed)
        for sub in (model.value_head,):  # not in official checkpoints: fresh init
            if sub is not None:
                for m in sub.modules():
                    if isinstance(m, nn.Linear):
                        m.reset_parameters()
                nn.init.zeros_(sub.net[-1].weight)
                nn.init.zeros_(sub.net[-1].bias)
        rebuild_rotary_embeddings(model.language_model, torch.device(cfg.device))  # buffers, not in checkpoints
        ckpt.load_official_weights(model, cfg.checkpoint)
        return model

    def _inject_lora(self, cfg: OpenVLAOFTConfig) -> None:
        from peft import LoraConfig, inject_adapter_in_model

        targets = list(cfg.lora_target_modules)  # module name suffixes; peft raises if none matches
        if targets == ["all-linear"]:  # peft's "all-linear" on the VLA: every Linear except lm_head (finetune.py)
            core = {"vision_backbone": self.model.vision_backbone, "projector": self.model.projector}
            core["language_model.model"] = self.model.language_model.model
            targets = [
                f"{p}.{n}" for p, mod in core.items() for n, m in mod.named_modules() if isinstance(m, nn.Linear)
            ]
        alpha = cfg.lora_alpha if cfg.lora_alpha is not None else min(cfg.lora_rank, 16)  # finetune.py's rule
        lora = LoraConfig(
            r=cfg.lora_rank, lora_alpha=alpha, lora_dropout=cfg.lora_dropout, target_modules=targets,
            init_lora_weights="gaussian" if cfg.lora_init == "gaussian" else True,
        )  # fmt: skip
        holder = nn.ModuleDict(
            {
                "vision_backbone": self.model.vision_backbone,
                "projector": self.model.projector,
                "language_model": self.model.language_model,
            }
        )
        inject_adapter_in_model(lora, holder)

    def _set_trainable(self, cfg: OpenVLAOFTConfig) -> None:
        heads = ("model.value_head.", "model.action_head.", "model.proprio_projector.")
        freeze_base = cfg.use_lora or cfg.freeze_backbone
        for name, p in self.named_parameters():
            if name == "log_std":
                continue
            p.requires_grad_(not freeze_base or name.startswith(heads) or "lora_" in name)

    # ----- inputs -------------------------------------------------------------------------------
    def _prepare(self, obs: ObsBatch, train: bool = False) -> dict[str, torch.Tensor]:
        """Validate an observation batch (before any forward pass) and turn it into replay tensors
        (``train``: proprio normalized as the fine-tuning data pipeline does)."""
        tasks = obs.get("task_descriptions")
        if tasks is None or isinstance(tasks, str) or not all(isinstance(t, str) and t.strip() for t in tasks):
            raise ContractError(
                "openvla_oft needs obs['task_descriptions']: a list of N non-empty strings.",
                "Have the env return one task description per sub-env.",
            )
        n = len(tasks)
        if "images" not in obs:
            raise ContractError(
                "openvla_oft needs obs['images'] (uint8 [N, 3, H, W]).", "Enable the main camera in the env."
            )
        cams = [self._check_images(_as_tensor(obs["images"]), "images", n, (4,))]
        if self.cfg.num_images > 1:
            if "wrist_images" not in obs:
                raise ContractError(
                    f"policy.num_images={self.cfg.num_images} needs obs['wrist_images'].",
                    "Enable the wrist camera(s) in the env or set policy.num_images=1.",
                )
            wrist = self._check_images(_as_tensor(obs["wrist_images"]), "wrist_images", n, (4, 5))
            cams += [wrist] if wrist.ndim == 4 else list(wrist.unbind(1))
            if len(cams) != self.cfg.num_images:
                raise ContractError(
                    f"Got {len(cams)} camera images per env but policy.num_images={self.cfg.num_images}.",
                    f"Set policy.num_images={len(cams)} or change the env's wrist cameras.",
                )
        if len({c.shape[-2:] for c in cams}) != 1:
            raise ContractError(
                f"Camera images differ in size: {[tuple(c.shape[-2:]) for c in cams]}.",
                "Render all cameras at one size.",
            )
        out = {"images": torch.stack(cams, dim=1)}
        if self.proprio_dim is not None:
            states = obs.get("states")
            if states is None:
                raise ContractError("policy.use_proprio=true needs obs['states'].", "Set policy.use_proprio=false.")
            states = _as_tensor(states)
            if states.ndim != 2 or states.shape != (n, self.proprio_dim) or not states.is_floating_point():
                raise ContractError(
                    f"obs['states'] must be float [N={n}, {self.proprio_dim}], got {states.dtype} {tuple(states.shape)}.",
                    "Use the env this policy was configured for (policy.proprio_dim / the observation spec).",
                )
            out["proprio"] = self.normalizer.normalize_proprio(states.float(), train=train)
        ids = [self.tokenizer.encode(format_prompt(t))[1:] for t in tasks]  # BOS is placed by the model
        length = max(len(i) for i in ids)
        text = torch.full((n, length), self.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((n, length), dtype=torch.bool)
        for row, seq in enumerate(ids):  # left-pad so prompts end right before the action positions
            text[row, length - len(seq) :] = torch.tensor(seq)
            mask[row, length - len(seq) :] = True
        out.update(text_ids=text, text_mask=mask)
        return {k: v.to(self.device) for k, v in out.items()}

    def _check_images(self, x: torch.Tensor, key: str, n: int, ndims: tuple[int, ...]) -> torch.Tensor:
        expected = self.observation_spec.shape(key)
        bad = x.dtype != torch.uint8 or x.ndim not in ndims or x.shape[0] != n or x.shape[-3] != 3
        if not bad and expected is not None and tuple(x.shape[-3:]) != tuple(expected[-3:]):
            bad = True
        if bad:
            want = f"uint8 [N={n}, {'K, ' if 5 in ndims else ''}3, H, W]" + (
                f" with (3, H, W)={tuple(expected[-3:])}" if expected else ""
            )
            raise ContractError(
                f"obs['{key}'] must be {want}; got {x.dtype} {tuple(x.shape)}.",
                "Pass upright uint8 RGB images, channels first, at the size the observation spec declares.",
            )
        return x

    # ----- forward pieces -----------------------------------------------------------------------
    def _pixels(self, images: torch.Tensor, train: bool = False) -> torch.Tensor:
        """Model inputs. ``train``: the fine-tuning pipeline (resize, the official augmentation when
        ``image_aug``, never the eval's center crop)."""
        size, cfg = self.arch.image_sizes[0], self.cfg
        if train:
            aug = random_image_aug if cfg.image_aug else None
            return preprocess(images, size, self.arch.means_stds, False, cfg.resize_method, augment=aug)
        return preprocess(images, size, self.arch.means_stds, cfg.center_crop, cfg.resize_method)

    def _hidden(self, inp: Replay) -> torch.Tensor:
        """Hidden states of the official head slice [N, C*A, H] (from the "▁" position on)."""
        return self.model(self._pixels(inp["images"]), inp["text_ids"], inp["text_mask"], inp.get("proprio"))

    def _values(self, hidden: torch.Tensor) -> torch.Tensor | None:
        """Value head on the first row of the head slice (the "▁" position, which sees the whole sequence)."""
        if self.model.value_head is None:
            return None
        v = self.model.value_head(hidden[:, 0])
        return v[:, 0] if self.value_type == "chunk" else v

    def _token_logprobs(self, logits: torch.Tensor) -> torch.Tensor:
        """Temperature and top-k applied; log-softmax over the action bins."""
        logits = logits / self.cfg.temperature
        if self.cfg.top_k and self.cfg.top_k < logits.shape[-1]:
            kth = logits.topk(self.cfg.top_k, dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        return logits.log_softmax(-1)

    def _reduce(self, x: torch.Tensor) -> torch.Tensor:
        if self.logprob_type == "action":
            return x.sum(-1)
        if self.logprob_type == "chunk":
            return x.sum((-1, -2))
        return x

    def _tokens_to_normalized(self, idx: torch.Tensor) -> torch.Tensor:
        # token id = vocab - n_bins + idx; official: bin = clip(vocab - id - 1, 0, n_bins - 2)
        n_bins = self.arch.n_action_bins
        return self.bin_centers[(n_bins - 1 - idx).clamp(0, n_bins - 2)]

    def _to_env_units(self, normalized: torch.Tensor) -> torch.Tensor:
        normalized = normalized.float()
        if self.cfg.clip_normalized_actions:  # not official: predict_action un-normalizes the raw head output
            normalized = normalized.clamp(-1, 1)
        a = self.normalizer.unnormalize(normalized)
        if self.cfg.gripper_postprocess == "openvla":
            g = self.action_spec.gripper_indices or [self.action_dim - 1]
            a[..., g] = torch.sign(2 * a[..., g] - 1)  # [0, 1] -> [-1, 1], binarized; +1 opens
        return a

    def _to_normalized(self, actions: torch.Tensor) -> torch.Tensor:
        """Env-unit actions (the policy's gripper convention) -> the normalized targets of fine-tuning: the
        inverse of ``_to_env_units`` (gripper [-1, 1] -> [0, 1], then BOUNDS_Q99 with the mask)."""
        a = actions.float().clone()
        if self.cfg.gripper_postprocess == "openvla":
            g = self.action_spec.gripper_indices or [self.action_dim - 1]
            a[..., g] = ((a[..., g] + 1) / 2).clamp(0, 1)  # +1 open -> 1, -1 close -> 0 (the dataset's gripper)
        return self.normalizer.normalize_actions(a)

    # ----- contract -----------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs: ObsBatch, deterministic: bool = False) -> ActOutput:
        inp = self._prepare(obs)
        hidden = self._hidden(inp)
        if self.cfg.action_head == "discrete":
            logp_all = self._token_logprobs(self.model.action_logits(hidden))
            if deterministic and self.cfg.greedy_vocab == "full":  # official greedy decoding
                idx = self.model.token_ids_to_bins(self.model.greedy_token_ids(hidden))
            elif deterministic:
                idx = logp_all.argmax(-1)
            else:
                idx = torch.distributions.Categorical(logits=logp_all).sample()
            logp = logp_all.gather(-1, idx[..., None])[..., 0]
            normalized = self._tokens_to_normalized(idx)
            inp["action_tokens"] = idx
        else:
            mean = self.model.action_head(hidden, self.action_chunk).float()
            dist = torch.distributions.Normal(mean, self.log_std.exp().expand_as(mean))
            sample = mean if deterministic else dist.sample()
            logp = dist.log_prob(sample)
            normalized = sample
            inp["action_samples"] = sample
        values = self._values(hidden)
        return ActOutput(
            actions=self._to_env_units(normalized).cpu(), log_probs=self._reduce(logp), values=values, replay=inp
        )

    def evaluate(self, replay: Replay) -> EvalOutput:
        inp = {k: v.to(self.device) for k, v in replay.items()}
        hidden = self._hidden(inp)
        if self.cfg.action_head == "discrete":
            logp_all = self._token_logprobs(self.model.action_logits(hidden))
            logp = logp_all.gather(-1, inp["action_tokens"][..., None])[..., 0]
            p = logp_all.exp()
            entropy = -(p * logp_all.masked_fill(p == 0, 0.0)).sum(-1)
        else:
            mean = self.model.action_head(hidden, self.action_chunk).float()
            dist = torch.distributions.Normal(mean, self.log_std.exp().expand_as(mean))
            logp, entropy = dist.log_prob(inp["action_samples"]), dist.entropy()
        return EvalOutput(log_probs=self._reduce(logp), entropy=self._reduce(entropy), values=self._values(hidden))

    def supervised_loss(self, batch: DemoBatch) -> SupervisedOutput:
        """The official fine-tuning loss of the configured head (see ``supervised.py``): next-token
        cross-entropy on the action tokens (``discrete``) or L1 on the normalized chunk (``l1``)."""
        inp = self._prepare(batch.observations, train=True)
        target = _as_tensor(np.asarray(batch.actions, dtype=np.float32)).to(self.device)
        mask = _as_tensor(np.asarray(batch.action_mask, dtype=bool)).to(self.device)
        if tuple(target.shape[1:]) != (self.action_chunk, self.action_dim) or mask.shape != target.shape[:2]:
            raise ContractError(
                f"Demonstration chunks are {tuple(target.shape)} with mask {tuple(mask.shape)}; the policy acts in "
                f"chunks of ({self.action_chunk}, {self.action_dim}).",
                "Read the dataset with the policy's action_chunk and the env's action dims.",
            )
        normalized = self._to_normalized(target)
        run = self.model.run_llm(self._pixels(inp["images"], train=True), inp["text_ids"], inp["text_mask"],
                                 inp.get("proprio"))  # fmt: skip
        if self.cfg.action_head == "discrete":
            ids = sup.action_token_ids(normalized, self.model.vocab_size, self.arch.n_action_bins)
            labels = sup.discrete_labels(ids, mask)
            logits = self.model.vocab_logits(run.label_hidden)
            loss = sup.cross_entropy(logits, labels)
            metrics = sup.discrete_metrics(logits.detach(), labels, self.bin_centers, self.model.vocab_size,
                                           self.action_dim)  # fmt: skip
        else:
            pred = self.model.action_head(run.head_hidden, self.action_chunk).float()
            loss = sup.masked_l1(pred, normalized, mask)
            metrics = sup.l1_metrics(pred.detach(), normalized, mask)
        return SupervisedOutput(loss, metrics)

    # ----- checkpoints --------------------------------------------------------------------------
    def save_checkpoint(self, directory: str | Path, trainable_only: bool = False) -> Path:
        """safetensors of the whole policy (or only its trainable tensors: LoRA, heads) + metadata."""
        meta = {
            "config": asdict(self.cfg),
            "arch": self.arch.to_dict(),
            "stats": {self.unnorm_key: self.stats} if self.stats is not None else None,
            "unnorm_key": self.unnorm_key,
        }
        return ckpt.save_vlarl_checkpoint(self, directory, meta, trainable_only)


def make(config: OpenVLAOFTConfig, observation_spec: ObservationSpec, action_spec: ActionSpec) -> OpenVLAOFTPolicy:
    return OpenVLAOFTPolicy(config, observation_spec, action_spec)
