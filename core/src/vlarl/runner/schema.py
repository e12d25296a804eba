"""Schemas of the host-owned config sections: runner, rollout, cluster, video_cfg.

The ``env``, ``policy`` and ``algorithm`` sections hold ``name`` (the plugin)
plus that plugin's own keys, validated against the plugin's schema.
Key names follow the framework users come from (``runner.logger.log_path``,
``rollout.pipeline_stage_num``, ``cluster.component_placement``, ``video_cfg``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class LoggerConfig:
    log_path: str = "runs"
    project_name: str = "vlarl"
    experiment_name: str = "default"
    logger_backends: list[str] = field(default_factory=lambda: ["tensorboard"])
    """Any of ``tensorboard``, ``wandb`` (``WANDB_MODE=offline`` works without network)."""


@dataclass
class RunnerConfig:
    max_epochs: int = 100
    """Training iterations (one rollout + one update each)."""
    max_minutes: float | None = None
    """Time budget: stop (and checkpoint) after the first iteration that ends past it; None: no limit."""
    seed: int = 0
    save_interval: int = 10
    """Checkpoint every this many iterations (and at the end, at runner.max_minutes, and when Ctrl-C
    stops the run after an iteration). The env is reset at these boundaries so a resumed run
    continues exactly as an unbroken one."""
    keep_checkpoints: int | None = 3
    """Retention: keep the newest this many checkpoints (plus the best by ``keep_best``); older ones are
    removed after each save. null keeps every checkpoint."""
    keep_best: str | None = None
    """A metric of metrics.jsonl (e.g. ``env/success_once``): the checkpoint whose iteration scored best on
    it is kept as well."""
    keep_best_mode: str = "max"
    """``max`` or ``min``: which end of ``keep_best`` is best."""
    resume: str | None = None
    """``auto`` (latest checkpoint of this experiment), a checkpoint path, or null."""
    device: str = "auto"
    """Policy device: ``auto`` (cuda if available), ``cpu``, ``cuda``, ``cuda:1``."""
    log_interval: int = 1
    eval_episodes: int | None = None
    """``vlarl eval``: exactly this many episodes per task. null: the env's protocol, every reset state once
    where the env declares them (LIBERO: each init state of each selected task), else 10 per task. On LIBERO,
    N scores init states 0..N-1 of each task (cycling when N exceeds their count)."""
    deterministic_eval: bool = True
    torch_threads: int = 0
    """0: leave torch's default. With simulators in worker processes, 1-2 avoids starving them."""
    logger: LoggerConfig = field(default_factory=LoggerConfig)


@dataclass
class RolloutConfig:
    n_chunks: int = 16
    """Chunks per sub-env per rollout (rollout length = n_chunks x chunk length sub-steps)."""
    pipeline_stage_num: int = 1
    """>1 splits the envs into stages so simulating one overlaps inference on another (Ray backend)."""
    buffer_device: str = "cpu"


@dataclass
class ClusterConfig:
    backend: str = "local"
    """``local`` (one process plus the env's own workers) or ``ray``."""
    num_nodes: int = 1
    component_placement: dict[str, Any] = field(default_factory=dict)
    """Empty: every component shares every device (as ``"env,rollout,actor": all``)."""
    address: str | None = None
    """Join an existing Ray cluster (``auto`` or ``host:port``); null starts a local one."""
    num_cpus: int | None = None
    actor_strategy: str = "auto"
    """How the actor ranks (one per ``component_placement.actor`` device) train together: ``fsdp`` (FSDP2),
    ``ddp`` or ``none`` (one rank only); ``auto``: ``fsdp`` with several ranks."""
    fsdp_mixed_precision: str | None = None
    """FSDP2 compute dtype (``bf16`` or ``fp16``; gradients reduced in float32); null: the policy's dtype."""
    fsdp_cpu_offload: bool = False
    """FSDP2: keep sharded parameters, gradients and optimizer states in CPU memory."""
    workers_per_device: int = 1
    """Env workers and rollout replicas per placed device (e.g. 2 simulator processes per GPU)."""


@dataclass
class VideoConfig:
    save_video: bool = False
    info_on_video: bool = True
    video_base_dir: str | None = None
    """Defaults to ``<run dir>/video/train``."""
    interval: int = 10
    """Record the rollout of every this many iterations."""
    fps: int = 10
    max_frames: int = 600


HOST_SECTIONS = {"runner": RunnerConfig, "rollout": RolloutConfig, "cluster": ClusterConfig, "video_cfg": VideoConfig}
PLUGIN_SECTIONS = {"env": "env", "policy": "policy", "algorithm": "algo"}
