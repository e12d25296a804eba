"""A small chunked policy: MLP on states and/or a CNN on images, Gaussian or categorical head.

Log-probs are per sub-step (``logprob_type = "action"``, [N, C]): the sum over
action dims of the per-dim log-density of one sub-step's action.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Normal

from vlarl.contracts.dataset import DemoBatch, DemoStatistics
from vlarl.contracts.observation import ObsBatch
from vlarl.contracts.policy import ActOutput, ChunkedPolicy, EvalOutput, Replay, SupervisedOutput
from vlarl.contracts.spaces import ActionSpec, ObservationSpec
from vlarl.errors import ConfigError, ContractError
from vlarl_mlp.register import MLPPolicyConfig

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}


def _mlp(sizes: list[int], act: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


class ImageEncoder(nn.Module):
    """Nature-DQN-style CNN over uint8 [N, 3, H, W] images: one 5x5 convolution, then 3x3 ones, all of stride 2."""

    def __init__(self, channels: Sequence[int] = (16, 32, 32), out_dim: int = 128) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip([3, *channels], channels)):
            layers += [nn.Conv2d(c_in, c_out, 5 if i == 0 else 3, stride=2), nn.ReLU()]
        self.conv = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.proj = nn.Linear(channels[-1] * 16, out_dim)
        self.out_dim = out_dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.proj(self.conv(images.float() / 255.0)))


RELATIVE_SCALE = 10.0
"""Relative positions are in metres (a few cm to ~0.5 m): x10 brings them to O(1) like standardized states."""


def relative_position_index(obs_spec: ObservationSpec) -> torch.Tensor:
    """[K, 3] state indices of each object's position, for ``<object>.pos - eef_pos`` features.

    Needs ``state_names`` with ``eef_pos.{x,y,z}`` and ``<object>.pos.{x,y,z}`` (the libero env's
    ``privileged_state`` layout names its dims this way).
    """
    names = list(obs_spec.state_names or ())
    axes = ("x", "y", "z")
    if not all(f"eef_pos.{a}" in names for a in axes):
        raise ConfigError(
            "policy.relative_positions needs states named eef_pos.x/y/z (observation_spec.state_names).",
            "Use an env that names its state dims (libero with privileged_state=true), or turn it off.",
        )
    objects = sorted({n.split(".")[0] for n in names if n.endswith(".pos.x") and not n.startswith("eef_pos")})
    if not objects:
        raise ConfigError(
            "policy.relative_positions: the states hold no <object>.pos.x/y/z dims.",
            "Turn on the env's privileged_state, or turn relative_positions off.",
        )
    rows = [[names.index(f"{o}.pos.{a}") for a in axes] for o in objects]
    return torch.tensor([[names.index(f"eef_pos.{a}") for a in axes], *rows], dtype=torch.long)


class Encoder(nn.Module):
    """Features from states and/or images, plus a task embedding when the policy is task-conditioned."""

    def __init__(
        self,
        obs_spec: ObservationSpec,
        use_images: bool,
        cnn_channels: Sequence[int] = (16, 32, 32),
        num_tasks: int = 0,
        task_embedding_dim: int = 0,
        relative_positions: bool = False,
    ) -> None:
        super().__init__()
        self.use_states = obs_spec.states is not None
        self.image = ImageEncoder(cnn_channels) if use_images else None
        self.task = nn.Embedding(num_tasks, task_embedding_dim) if task_embedding_dim > 0 else None
        if self.use_states:
            dim = int(np.prod(obs_spec.states))
            self.register_buffer("state_mean", torch.zeros(dim))
            self.register_buffer("state_std", torch.ones(dim))
        # Row 0: eef position; rows 1..K: object positions (a buffer, not saved: derived from the spec).
        self.relative = relative_position_index(obs_spec) if relative_positions else None
        if use_images and obs_spec.images is None:
            raise ConfigError(
                "policy.use_images=true but the env returns no images.",
                "Set policy.use_images=false or enable the env's images.",
            )
        if not self.use_states and self.image is None:
            raise ConfigError(
                "The env returns no states and policy.use_images=false: nothing to encode.",
                "Set policy.use_images=true.",
            )
        self.out_dim = (
            (int(np.prod(obs_spec.states)) if self.use_states else 0)
            + (self.image.out_dim if self.image else 0)
            + task_embedding_dim
            + (3 * (len(self.relative) - 1) if self.relative is not None else 0)
        )

    def forward(self, replay: Replay) -> torch.Tensor:
        parts = []
        if self.use_states:
            parts.append((replay["states"] - self.state_mean) / self.state_std)
        if self.relative is not None:
            pos = replay["states"][:, self.relative.to(replay["states"].device)]  # [N, K + 1, 3]
            parts.append(((pos[:, 1:] - pos[:, :1]) * RELATIVE_SCALE).flatten(1))
        if self.image is not None:
            parts.append(self.image(replay["images"]))
        if self.task is not None:
            parts.append(self.task(replay["task_ids"]))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)


class MLPPolicy(ChunkedPolicy):
    logprob_type = "action"

    def __init__(self, cfg: MLPPolicyConfig, observation_spec: ObservationSpec, action_spec: ActionSpec) -> None:
        super().__init__()
        if cfg.value_type not in ("chunk", "action"):
            raise ConfigError(f"policy.value_type={cfg.value_type!r} is invalid.", "Use 'chunk' or 'action'.")
        if cfg.activation not in ACTIVATIONS:
            raise ConfigError(f"policy.activation={cfg.activation!r} is invalid.", f"Use one of {sorted(ACTIVATIONS)}.")
        self.cfg = cfg
        self.observation_spec = observation_spec
        self.action_spec = action_spec
        self.action_chunk = cfg.num_action_chunks
        self.action_dim = action_spec.dim
        self.has_critic = cfg.critic
        self.value_type = cfg.value_type  # type: ignore[misc]
        discrete = all(d.kind == "discrete" for d in action_spec.dims)
        head = cfg.action_head if cfg.action_head != "auto" else ("categorical" if discrete else "gaussian")
        if head not in ("gaussian", "categorical"):
            raise ConfigError(
                f"policy.action_head={cfg.action_head!r} is invalid.", "Use auto, gaussian or categorical."
            )
        if head == "categorical" and not discrete:
            raise ConfigError("policy.action_head=categorical needs discrete action dims.", "Use action_head=gaussian.")
        if not cfg.cnn_channels or any(not isinstance(c, int) or c < 1 for c in cfg.cnn_channels):
            raise ConfigError(
                f"policy.cnn_channels={cfg.cnn_channels!r} is invalid.", "Give a non-empty list of positive ints."
            )
        if cfg.sft_loss not in ("nll", "mse"):
            raise ConfigError(f"policy.sft_loss={cfg.sft_loss!r} is invalid.", "Use 'nll' or 'mse'.")
        self.head = head
        act = ACTIVATIONS[cfg.activation]
        c, a = self.action_chunk, self.action_dim
        self.tasks = self._task_vocabulary(cfg, observation_spec)
        self._task_index = {t: i for i, t in enumerate(self.tasks)}
        enc = (
            observation_spec, cfg.use_images, cfg.cnn_channels, len(self.tasks), cfg.task_embedding_dim,
            cfg.relative_positions,
        )  # fmt: skip
        self.actor_encoder = Encoder(*enc)
        low = torch.as_tensor(action_spec.low)
        high = torch.as_tensor(action_spec.high)
        if head == "categorical":
            self.register_buffer("n_classes", (high - low + 1).long())
            self.register_buffer("class_offset", low.long())
            self.max_classes = int(self.n_classes.max())
            # Dims with fewer classes than the widest get their surplus logits masked; skip it when none has.
            self._mask_classes = bool((self.n_classes != self.max_classes).any())
            self.actor = _mlp([self.actor_encoder.out_dim, *cfg.hidden_sizes, c * a * self.max_classes], act)
        else:
            self.actor = _mlp([self.actor_encoder.out_dim, *cfg.hidden_sizes, c * a], act)
            self.log_std = nn.Parameter(self._initial_log_std(cfg.init_log_std, c, a))
            finite = torch.isfinite(low) & torch.isfinite(high)
            self.register_buffer("action_center", torch.where(finite, (high + low) / 2, torch.zeros_like(low)))
            self.register_buffer("action_scale", torch.where(finite, (high - low) / 2, torch.ones_like(low)))
        if cfg.critic:
            # A separate encoder and trunk: sharing them with the actor hurts PPO on small tasks.
            self.critic_encoder = Encoder(*enc)
            self.value_head = _mlp(
                [self.critic_encoder.out_dim, *cfg.hidden_sizes, c if cfg.value_type == "action" else 1], act
            )
        if cfg.ortho_init:
            self._ortho_init()

    @staticmethod
    def _initial_log_std(value: Any, chunk: int, dim: int) -> torch.Tensor:
        values = [value] if isinstance(value, (int, float)) else list(value)
        if len(values) not in (1, dim) or not all(isinstance(v, (int, float)) for v in values):
            raise ConfigError(
                f"policy.init_log_std={value!r} does not fit {dim} action dims.",
                f"Give one number or a list of {dim} numbers.",
            )
        return torch.tensor(values, dtype=torch.float32).expand(chunk, dim).clone()

    @staticmethod
    def _task_vocabulary(cfg: MLPPolicyConfig, spec: ObservationSpec) -> tuple[str, ...]:
        if cfg.task_embedding_dim <= 0:
            return ()
        tasks = tuple(sorted(set(cfg.tasks))) or tuple(spec.tasks or ())
        if not tasks:
            raise ConfigError(
                "policy.task_embedding_dim > 0 but no task descriptions are known.",
                "List them in policy.tasks, or use an env that declares observation_spec.tasks (libero does).",
            )
        return tasks

    def _ortho_init(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.orthogonal_(module.weight, math.sqrt(2))
                nn.init.zeros_(module.bias)
        nn.init.orthogonal_(self.actor[-1].weight, 0.01)
        if self.has_critic:
            nn.init.orthogonal_(self.value_head[-1].weight, 1.0)

    # ----------------------------------------------------------------- inputs
    def _inputs(self, obs: ObsBatch) -> Replay:
        dev = self.actor[0].weight.device  # not self.device: walking the module tree costs more than the MLP here
        replay: Replay = {}
        if self.observation_spec.states is not None:
            states = torch.as_tensor(
                np.array(obs["states"]) if not isinstance(obs["states"], torch.Tensor) else obs["states"]
            )
            if states.ndim != 2 or states.shape[1] != self.observation_spec.states[0]:
                raise ContractError(
                    f"states must be [N, {self.observation_spec.states[0]}], got {tuple(states.shape)}.",
                    "Use this policy with the env it was built for.",
                )
            replay["states"] = states.to(dev, torch.float32)
        if self.cfg.use_images:
            images = obs["images"]
            if not isinstance(images, torch.Tensor):
                # Arrays Ray hands over are read-only; torch needs its own writable copy of those.
                array = np.asarray(images)
                images = torch.from_numpy(array if array.flags.writeable else array.copy())
            if images.dtype != torch.uint8:
                raise ContractError(f"images must be uint8, got {images.dtype}.", "Fix the env's image dtype.")
            replay["images"] = images.to(dev)
        if self.tasks:
            try:
                ids = [self._task_index[t] for t in obs["task_descriptions"]]
            except KeyError as exc:
                raise ContractError(
                    f"Task {exc.args[0]!r} is not one of the {len(self.tasks)} tasks this policy embeds.",
                    "Build the policy with that task in policy.tasks (or the env's task list).",
                ) from exc
            replay["task_ids"] = torch.tensor(ids, dtype=torch.long, device=dev)
        return replay

    # ----------------------------------------------------------- distribution
    def _dist(self, replay: Replay) -> Normal | Categorical:
        n = next(iter(replay.values())).shape[0]
        out = self.actor(self.actor_encoder(replay))
        if self.head == "categorical":
            logits = out.view(n, self.action_chunk, self.action_dim, self.max_classes)
            if self._mask_classes:
                valid = torch.arange(self.max_classes, device=logits.device) < self.n_classes[:, None]
                logits = logits.masked_fill(~valid, -1e9)
            # Argument and sample validation re-checks, on every call, what construction already guarantees.
            return Categorical(logits=logits, validate_args=False)
        mean = out.view(n, self.action_chunk, self.action_dim)
        return Normal(mean, self.log_std.exp().expand_as(mean), validate_args=False)

    def _values(self, replay: Replay) -> torch.Tensor | None:
        if not self.has_critic:
            return None
        v = self.value_head(self.critic_encoder(replay))
        return v.squeeze(-1) if self.value_type == "chunk" else v

    def _to_env_units(self, raw: torch.Tensor) -> torch.Tensor:
        if self.head == "categorical":
            return (raw + self.class_offset).float()
        return self.action_center + self.action_scale * raw

    # --------------------------------------------------------------- contract
    @torch.no_grad()
    def act(self, obs: ObsBatch, deterministic: bool = False) -> ActOutput:
        replay = self._inputs(obs)
        dist = self._dist(replay)
        if deterministic:
            raw = dist.probs.argmax(-1) if isinstance(dist, Categorical) else dist.mean
        else:
            raw = dist.sample()
        log_probs = dist.log_prob(raw).sum(-1)
        replay["raw_actions"] = raw
        return ActOutput(self._to_env_units(raw), log_probs, self._values(replay), replay)

    def evaluate(self, replay: Replay) -> EvalOutput:
        dist = self._dist(replay)
        log_probs = dist.log_prob(replay["raw_actions"]).sum(-1)
        entropy = dist.entropy().sum(-1)
        return EvalOutput(log_probs, entropy, self._values(replay))

    @torch.no_grad()
    def predict_values(self, obs: ObsBatch) -> torch.Tensor | None:
        return self._values(self._inputs(obs))

    @torch.no_grad()
    def fit_normalization(self, stats: DemoStatistics) -> None:
        if not self.cfg.normalize_states or stats.state_mean is None or self.observation_spec.states is None:
            return
        mean = torch.as_tensor(stats.state_mean, dtype=torch.float32)
        std = torch.as_tensor(stats.state_std, dtype=torch.float32).clamp_min(self.cfg.min_state_std)
        encoders = [self.actor_encoder] + ([self.critic_encoder] if self.has_critic else [])
        for enc in encoders:
            enc.state_mean.copy_(mean.to(enc.state_mean.device))
            enc.state_std.copy_(std.to(enc.state_std.device))

    def supervised_loss(self, batch: DemoBatch) -> SupervisedOutput:
        """Behaviour cloning: the masked negative log-likelihood of the demonstrated chunk (``nll``),
        or the masked squared error of the Gaussian mean in the policy's [-1, 1] units (``mse``)."""
        replay = self._inputs(batch.observations)
        dev = self.actor[0].weight.device
        target = torch.as_tensor(np.asarray(batch.actions, dtype=np.float32), device=dev)
        mask = torch.as_tensor(np.asarray(batch.action_mask, dtype=bool), device=dev).float()
        if tuple(target.shape[1:]) != (self.action_chunk, self.action_dim):
            raise ContractError(
                f"Demonstration chunks are {tuple(target.shape[1:])}, the policy acts in ({self.action_chunk}, {self.action_dim}).",
                "Read the dataset with the policy's chunk length and the env's action dims.",
            )
        dist = self._dist(replay)
        weight = mask.sum().clamp_min(1.0)
        if self.head == "categorical":
            raw = (target - self.class_offset).round().long().clamp_min(0)
            nll = -(dist.log_prob(raw).sum(-1) * mask).sum() / weight
            return SupervisedOutput(nll, {"sft/nll": float(nll.detach())})
        raw = (target - self.action_center) / self.action_scale
        nll = -(dist.log_prob(raw).sum(-1) * mask).sum() / weight
        mse = (((dist.mean - raw) ** 2).mean(-1) * mask).sum() / weight
        loss = nll if self.cfg.sft_loss == "nll" else mse
        metrics = {"sft/nll": float(nll.detach()), "sft/mse": float(mse.detach())}
        metrics["sft/std"] = float(self.log_std.detach().exp().mean())
        return SupervisedOutput(loss, metrics)


def make_policy(cfg: MLPPolicyConfig, observation_spec: ObservationSpec, action_spec: ActionSpec) -> MLPPolicy:
    return MLPPolicy(cfg, observation_spec, action_spec)
