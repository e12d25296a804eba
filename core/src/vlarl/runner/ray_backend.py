"""``cluster.backend: ray``: env, rollout (inference) and actor (training) as Ray actors.

* Placement: each component runs in its own Ray actor, restricted to the devices
  ``cluster.component_placement`` gives it: ``CUDA_VISIBLE_DEVICES`` on GPU
  clusters, CPU affinity on CPU-only machines.
* Pipelining: with ``rollout.pipeline_stage_num = S`` the envs are split into S
  env actors; while one stage simulates its chunk, the rollout actor infers the
  next chunk of another stage.
* Weights flow actor -> rollout after every update.
* A dead env or rollout actor is recreated (counted in ``cluster/actor_restarts``)
  and the rollout is redone; a dead training actor stops the run with the
  last checkpoint intact (resume with ``runner.resume=auto``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from vlarl.contracts.buffer import RolloutBuffer
from vlarl.contracts.observation import ObsBatch
from vlarl.errors import ConfigError
from vlarl.runner import checkpoint as ckpt
from vlarl.runner.context import (
    build_algorithm,
    build_env,
    build_policy,
    pick_device,
    run_dir,
    save_resolved_config,
    seed_everything,
)
from vlarl.runner.logger import MetricLogger
from vlarl.runner.loop import TrainLoop, iteration_metrics
from vlarl.runner.placement import parse_placement
from vlarl.runner.rollout import EpisodeLog, RolloutRecorder, convert_actions
from vlarl.runner.setup import RunSpec


def _restrict(devices: list[int], gpu: bool) -> None:
    """Run this process on its placed devices."""
    if gpu:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, devices))
    elif hasattr(os, "sched_setaffinity"):
        cores = os.cpu_count() or 1
        os.sched_setaffinity(0, {d % cores for d in devices})


class EnvWorker:
    """One pipeline stage's envs."""

    def __init__(self, spec: RunSpec, num_envs: int, devices: list[int], gpu: bool) -> None:
        _restrict(devices, gpu)
        provided, config, raw = spec.plugins["env"]
        if hasattr(config, "num_envs"):
            config = dataclasses.replace(config, num_envs=num_envs)
        spec.plugins["env"] = (provided, config, raw)
        self.env = build_env(spec)

    def specs(self) -> tuple[Any, Any, int]:
        return self.env.observation_spec, self.env.action_spec, self.env.max_episode_steps

    def reset(self, seed: int, options: dict[str, Any] | None) -> ObsBatch:
        return self.env.reset(seed=seed, options=options)[0]

    def step_with(self, act: Any, policy_gripper: str) -> Any:
        """Execute a rollout worker's ActOutput (passed by reference, resolved by Ray)."""
        cpu_env = getattr(self.env, "device", None) is None
        return self.env.chunk_step(convert_actions(act.actions, policy_gripper, self.env.action_spec, cpu_env))

    def close(self) -> None:
        self.env.close()


class _SpecEnv:
    """Specs only: lets build_policy run where the env lives elsewhere."""

    def __init__(self, observation_spec: Any, action_spec: Any) -> None:
        self.observation_spec, self.action_spec = observation_spec, action_spec


class RolloutWorker:
    def __init__(self, spec: RunSpec, specs: tuple[Any, Any], devices: list[int], gpu: bool, seed: int) -> None:
        _restrict(devices, gpu)
        seed_everything(seed)
        if spec.runner.torch_threads > 0:
            torch.set_num_threads(spec.runner.torch_threads)
        self.policy = build_policy(spec, _SpecEnv(*specs), pick_device(spec.runner.device)).eval()

    def info(self) -> tuple[str, bool]:
        return self.policy.gripper_convention, self.policy.has_critic

    @torch.no_grad()
    def act(self, obs: ObsBatch) -> Any:
        out = self.policy.act(obs)
        out.actions, out.log_probs = out.actions.cpu(), out.log_probs.cpu()
        out.values = None if out.values is None else out.values.cpu()
        out.replay = {k: v.cpu() for k, v in out.replay.items()}
        return out

    def act_after(self, step: Any) -> Any:
        """Act on the observations of a ChunkStep (passed by reference, resolved by Ray)."""
        return self.act(step.observations)

    def predict_values(self, obs: ObsBatch) -> torch.Tensor | None:
        values = self.policy.predict_values(obs)
        return None if values is None else values.cpu()

    def set_weights(self, state: dict[str, torch.Tensor]) -> None:
        self.policy.load_state_dict(state)


class ActorWorker:
    """The trainer: policy + algorithm; owns checkpoints."""

    def __init__(self, spec: RunSpec, specs: tuple[Any, Any], devices: list[int], gpu: bool, seed: int) -> None:
        _restrict(devices, gpu)
        seed_everything(seed)
        if spec.runner.torch_threads > 0:
            torch.set_num_threads(spec.runner.torch_threads)
        self.spec = spec
        self.policy = build_policy(spec, _SpecEnv(*specs), pick_device(spec.runner.device))
        self.algo = build_algorithm(spec, self.policy)

    def reset_options(self) -> dict[str, Any] | None:
        return self.algo.reset_options()

    def weights(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu() for k, v in self.policy.state_dict().items()}

    def train(self, buffer: RolloutBuffer) -> dict[str, float]:
        metrics = dict(self.algo.compute_advantages(buffer))
        self.policy.train()
        metrics.update(self.algo.update(self.policy, buffer))
        return metrics

    def save(self, root: str, iteration: int, meta: dict[str, Any]) -> str:
        return str(
            ckpt.save_checkpoint(Path(root), iteration, self.policy, {"algorithm": self.algo.state_dict()}, meta)
        )

    def load(self, path: str) -> dict[str, Any]:
        trainer_state, meta = ckpt.load_checkpoint(Path(path), self.policy)
        self.algo.load_state_dict(trainer_state["algorithm"])
        return meta


class RayTrainer(TrainLoop):
    def __init__(self, spec: RunSpec) -> None:
        super().__init__()
        try:
            import ray
        except ImportError as exc:
            raise ConfigError("cluster.backend=ray but Ray is not installed.", "pip install 'vlarl[ray]'") from exc
        self.ray = ray
        self.spec = spec
        if spec.runner.torch_threads > 0:  # the driver's own tensor work must not spin against the workers
            torch.set_num_threads(spec.runner.torch_threads)
        c = spec.cluster
        if not ray.is_initialized():
            ray.init(address=c.address, num_cpus=c.num_cpus if c.address is None else None, include_dashboard=False,
                     log_to_driver=True, configure_logging=False)  # fmt: skip
        resources = ray.cluster_resources()
        self.gpu = resources.get("GPU", 0) > 0
        n_devices = int(resources.get("GPU", 0)) if self.gpu else int(resources.get("CPU", 1))
        self.placement = parse_placement(dict(c.component_placement), n_devices, "GPUs" if self.gpu else "CPU slots")
        self.dir = run_dir(spec)
        save_resolved_config(spec, self.dir)
        self.stages = spec.rollout.pipeline_stage_num
        env_cfg = spec.plugins["env"][1]
        self.num_envs = getattr(env_cfg, "num_envs", None)
        if self.stages > 1 and self.num_envs is None:
            raise ConfigError(
                "rollout.pipeline_stage_num > 1 needs an env with a num_envs setting.",
                "Set rollout.pipeline_stage_num=1.",
            )
        self.restarts = 0
        self.env_workers = [self._make_env_worker() for _ in range(self.stages)]
        obs_spec, act_spec, _ = ray.get(self.env_workers[0].specs.remote())
        self.specs = (obs_spec, act_spec)
        seed = spec.runner.seed
        gpu_opts = {"num_gpus": 0}  # devices are set per process by _restrict, not by Ray's scheduler
        self.actor = (
            ray.remote(ActorWorker)
            .options(num_cpus=0, **gpu_opts)
            .remote(spec, self.specs, self.placement["actor"], self.gpu, seed)
        )
        self.rollout = self._make_rollout_worker()
        self.ckpt_root = self.dir / "checkpoints"
        self.start, self.env_steps = 0, 0
        resume = spec.runner.resume
        path = ckpt.latest_checkpoint(self.ckpt_root) if resume == "auto" else (Path(resume) if resume else None)
        if path is not None:
            meta = ray.get(self.actor.load.remote(str(path)))
            self.start, self.env_steps = int(meta["iteration"]), int(meta["env_steps"])
        self._push_weights()
        self.gripper, self.has_critic = ray.get(self.rollout.info.remote())
        r = spec.runner
        self.logger = MetricLogger(self.dir, r.logger.logger_backends, r.logger.project_name, r.logger.experiment_name,
                                   OmegaConf.to_container(spec.raw, resolve=True))  # fmt: skip
        self.algo_reset_options = self.ray.get(self.actor.reset_options.remote())

    def _make_env_worker(self) -> Any:
        n = None if self.num_envs is None else self.num_envs // self.stages
        return (
            self.ray.remote(EnvWorker)
            .options(num_cpus=0, max_restarts=0)
            .remote(self.spec, n, self.placement["env"], self.gpu)
        )

    def _make_rollout_worker(self) -> Any:
        return (
            self.ray.remote(RolloutWorker)
            .options(num_cpus=0, num_gpus=0)
            .remote(self.spec, self.specs, self.placement["rollout"], self.gpu, self.spec.runner.seed + 1)
        )

    def _push_weights(self) -> None:
        self.ray.get(self.rollout.set_weights.remote(self.actor.weights.remote()))

    def _value_fn(self) -> Any:
        if not self.has_critic:
            return None
        return lambda obs: self.ray.get(self.rollout.predict_values.remote(obs))

    def collect(self, it: int) -> tuple[RolloutBuffer, EpisodeLog]:
        """One pipelined rollout over all stages.

        The driver only chains object refs: each env actor takes its actions straight from the rollout
        actor's output and each inference takes its observations straight from the env actor's result,
        so no chunk waits on the driver. Actor calls run in submission order, which interleaves the
        stages: while stage 0 simulates chunk k, the rollout actor infers stage 1's next chunk.
        """
        ray, s_num, n = self.ray, self.stages, self.spec.rollout.n_chunks
        seed = self.spec.runner.seed + it
        obs = ray.get(
            [w.reset.remote(seed + 1000 * s, self.algo_reset_options) for s, w in enumerate(self.env_workers)]
        )
        acts = [[self.rollout.act.remote(o)] for o in obs]
        steps: list[list[Any]] = [[] for _ in range(s_num)]
        for k in range(n):
            for s in range(s_num):
                steps[s].append(self.env_workers[s].step_with.remote(acts[s][k], self.gripper))
            if k + 1 < n:
                for s in range(s_num):
                    acts[s].append(self.rollout.act_after.remote(steps[s][k]))
        episodes = EpisodeLog()
        buffers = []
        for s in range(s_num):
            recorder = RolloutRecorder(self._value_fn())
            prev = obs[s]
            for act, step in zip(ray.get(acts[s]), ray.get(steps[s])):
                recorder.add(act, step, prev)
                prev = step.observations
            buffer, log = recorder.finish(prev)
            buffers.append(buffer)
            episodes.merge(log)
        return RolloutBuffer.concat_envs(buffers), episodes

    def _collect_with_restarts(self, it: int) -> tuple[RolloutBuffer, EpisodeLog]:
        for _attempt in range(3):
            try:
                return self.collect(it)
            except self.ray.exceptions.RayActorError:
                self.restarts += 1
                self.env_workers = [self._make_env_worker() for _ in range(self.stages)]
                self.rollout = self._make_rollout_worker()
                self._push_weights()
        raise RuntimeError("env or rollout actors died three times in a row; see the Ray logs above.")

    def save(self, iteration: int) -> Path:
        meta = {"env_steps": self.env_steps, "config": OmegaConf.to_container(self.spec.raw, resolve=True)}
        self.last_checkpoint = Path(self.ray.get(self.actor.save.remote(str(self.ckpt_root), iteration, meta)))
        return self.last_checkpoint

    def iteration(self, it: int) -> dict[str, float]:
        t0 = time.perf_counter()
        buffer, episodes = self._collect_with_restarts(it)
        t1 = time.perf_counter()
        steps = int(buffer.valid.sum())
        self.env_steps += steps
        metrics = self.ray.get(self.actor.train.remote(buffer))
        self._push_weights()
        t2 = time.perf_counter()
        metrics.update(iteration_metrics(episodes, steps, self.env_steps, t0, t1, t2))
        metrics["cluster/actor_restarts"] = float(self.restarts)
        return metrics

    def close(self) -> None:
        for w in self.env_workers:
            with contextlib.suppress(Exception):  # a dead worker has nothing left to close
                self.ray.get(w.close.remote(), timeout=30)
