"""``cluster.backend: ray``: env, rollout (inference) and actor (training) as Ray actors.

* Placement: each component runs in its own Ray actor, restricted to the devices
  ``cluster.component_placement`` gives it: ``CUDA_VISIBLE_DEVICES`` on GPU
  clusters, CPU affinity on CPU-only machines.
* Pipelining: with ``rollout.pipeline_stage_num = S`` the envs are split into S
  env actors, each driving its own chunks against the rollout actor; while one
  stage simulates its chunk, the rollout actor infers the next chunk of another.
* Weights flow actor -> rollout after every update.
* Envs persist across iterations and reset where the local backend resets them
  (first iteration, algorithm request, checkpoint boundaries), and each chunk's
  sampling is seeded from (seed, iteration, stage, chunk), so a resumed run is
  identical to an unbroken one.
* Faults (each counted in ``cluster/actor_restarts``): a dead env or rollout
  actor is recreated and the rollout redone; a dead training actor is recreated
  from the last checkpoint and the run goes on from that checkpoint's iteration.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
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
from vlarl.runner.interrupt import pause_point
from vlarl.runner.logger import MetricLogger
from vlarl.runner.loop import Rewind, TrainLoop, iteration_metrics, resume_report, warn
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

    def run_stage(
        self, rollout: Any, obs: ObsBatch, seeds: list[int], policy_gripper: str, with_values: bool
    ) -> tuple[list[Any], list[Any], Any]:
        """Run this stage's rollout of ``len(seeds)`` chunks, asking the rollout actor for each chunk's actions.

        The env worker calls the rollout actor itself, so a chunk costs one round trip between the two
        and none through the driver. Returns refs to each chunk's ActOutput (left with the rollout
        actor until the driver fetches them), the ChunkSteps, and a ref to the critic values of the
        observations after the last chunk (None without a critic).
        """
        import ray

        cpu_env = getattr(self.env, "device", None) is None
        act = rollout.act.options(num_returns=2)
        outputs, steps = [], []
        for seed in seeds:
            actions, output = act.remote(obs, seed)
            step = self.env.chunk_step(
                convert_actions(ray.get(actions), policy_gripper, self.env.action_spec, cpu_env)
            )
            outputs.append(output)
            steps.append(step)
            obs = step.observations
        return outputs, steps, rollout.predict_values.remote(obs) if with_values else None

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
    def act(self, obs: ObsBatch, seed: int) -> tuple[torch.Tensor, Any]:
        """Two returns (``num_returns=2``): the actions alone, which are all the env worker needs,
        and the whole ActOutput (replay records included), which only the driver reads.

        Sampling is seeded per call: stages reach this actor in any order, and a chunk's actions
        must not depend on that order (nor on the run's history, for exact resume).
        """
        torch.manual_seed(seed)
        out = self.policy.act(obs)
        out.actions, out.log_probs = out.actions.cpu(), out.log_probs.cpu()
        out.values = None if out.values is None else out.values.cpu()
        out.replay = {k: v.cpu() for k, v in out.replay.items()}
        return out.actions, out

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

    def ping(self) -> bool:
        return True

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

    def resume(self, resume: str | None, root: str) -> dict[str, Any] | None:
        """Load what ``runner.resume`` names (``auto``: the newest checkpoint that reads, past damaged ones).

        Returns None when there is nothing to resume, else the path, meta, the damaged checkpoints skipped
        and the algorithm's notes on changed settings; the driver prints them.
        """
        loaded, warnings = ckpt.read_for_resume(resume, Path(root))
        if loaded is None:
            return None if not warnings else {"path": None, "warnings": warnings}
        ckpt.restore(loaded, self.policy)
        self.algo.load_state_dict(loaded.trainer_state["algorithm"])
        loaded.weights, loaded.trainer_state = {}, {}  # the driver needs the path and meta only
        return {"loaded": loaded, "warnings": warnings, "notes": list(getattr(self.algo, "resume_notes", []))}


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
        self.owns_cluster = not ray.is_initialized()
        if self.owns_cluster:
            ray.init(address=c.address, num_cpus=c.num_cpus if c.address is None else None, include_dashboard=False,
                     log_to_driver=True, configure_logging=False)  # fmt: skip
        try:
            self._start()
        except BaseException:
            if self.owns_cluster:  # a run that never started leaves no cluster behind
                ray.shutdown()
            raise

    def _start(self) -> None:
        """Placement, actors, resume and logger: everything after the cluster is up."""
        ray, spec, c = self.ray, self.spec, self.spec.cluster
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
        self.actor = self._make_actor()
        self.rollout = self._make_rollout_worker()
        self.ckpt_root = self.dir / "checkpoints"
        for note in ckpt.clean_incomplete(self.ckpt_root):
            print(f"checkpoints: {note}", flush=True)
        self.start, self.env_steps = 0, 0
        config = OmegaConf.to_container(spec.raw, resolve=True)
        loaded = self._resume(spec.runner.resume)
        if loaded is not None:
            print("\n".join(resume_report(loaded["loaded"], config, loaded["notes"])), flush=True)
        self._push_weights()
        self.gripper, self.has_critic = ray.get(self.rollout.info.remote())
        r = spec.runner
        self.logger = MetricLogger(self.dir, r.logger.logger_backends, r.logger.project_name, r.logger.experiment_name,
                                   config, resume_step=self.start if loaded is not None else None)  # fmt: skip
        self.algo_reset_options = self.ray.get(self.actor.reset_options.remote())
        self.stage_obs: list[ObsBatch] | None = None
        """Each stage's observations after the last rollout; None forces a reset."""

    def _resume(self, resume: str | None) -> dict[str, Any] | None:
        """Resume the training actor from ``resume``; sets start, env_steps and last_checkpoint."""
        out = self.ray.get(self.actor.resume.remote(resume, str(self.ckpt_root)))
        for w in (out or {}).get("warnings", []):
            warn(w)
        if out is None or out.get("loaded") is None:
            return None
        meta = out["loaded"].meta
        self.start, self.env_steps = int(meta["iteration"]), int(meta.get("env_steps", 0))
        self.last_checkpoint = out["loaded"].path
        return out

    def _make_actor(self) -> Any:
        # Devices are set per process by _restrict, not by Ray's scheduler.
        return (
            self.ray.remote(ActorWorker)
            .options(num_cpus=0, num_gpus=0)
            .remote(self.spec, self.specs, self.placement["actor"], self.gpu, self.spec.runner.seed)
        )

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

    def _initial_obs(self, it: int) -> list[ObsBatch]:
        reset_options = self.algo_reset_options
        if self.stage_obs is not None and not self.needs_reset(it, reset_options is not None):
            return self.stage_obs
        seed = self.spec.runner.seed + it
        return self.ray.get([w.reset.remote(seed + 1000 * s, reset_options) for s, w in enumerate(self.env_workers)])

    def collect(self, it: int) -> tuple[RolloutBuffer, EpisodeLog]:
        """One rollout over all stages, each driven by its env actor.

        Every env actor runs its chunks against the one rollout actor, which serves their requests as
        they arrive: while stage 0 simulates chunk k, the rollout actor infers stage 1's next chunk.
        The driver only starts the stages and collects their results.
        """
        ray, s_num, n = self.ray, self.stages, self.spec.rollout.n_chunks
        obs = self._initial_obs(it)
        # Sampling seeds per (run seed, iteration, stage, chunk): independent of arrival order and history.
        seeds = [q.generate_state(n).tolist() for q in np.random.SeedSequence([self.spec.runner.seed, it]).spawn(s_num)]
        runs = [
            w.run_stage.remote(self.rollout, o, seeds[s], self.gripper, self.has_critic)
            for s, (w, o) in enumerate(zip(self.env_workers, obs))
        ]
        episodes = EpisodeLog()
        buffers, last_obs = [], []
        video = self.video_recorder(it)
        for s, run in enumerate(runs):
            output_refs, steps, values_ref = ray.get(run)
            recorder = RolloutRecorder(self._value_fn())
            prev = obs[s]
            for out, step in zip(ray.get(output_refs), steps):
                recorder.add(out, step, prev)
                if video is not None and s == 0:
                    video.add_chunk(step)
                prev = step.observations
            buffer, log = recorder.finish(prev, None if values_ref is None else ray.get(values_ref))
            buffers.append(buffer)
            last_obs.append(prev)
            episodes.merge(log)
        self.stage_obs = last_obs
        self.write_video(video, it)
        return RolloutBuffer.concat_envs(buffers), episodes

    def _collect_with_restarts(self, it: int) -> tuple[RolloutBuffer, EpisodeLog]:
        for _attempt in range(3):
            try:
                return self.collect(it)
            except self.ray.exceptions.RayActorError:
                self.restarts += 1
                self.env_workers = [self._make_env_worker() for _ in range(self.stages)]
                self.rollout = self._make_rollout_worker()
                self.stage_obs = None
                self._push_weights()
        raise RuntimeError("env or rollout actors died three times in a row; see the Ray logs above.")

    def _alive(self, handle: Any) -> bool:
        try:
            return self.ray.get(handle.ping.remote(), timeout=60)
        except (self.ray.exceptions.RayActorError, self.ray.exceptions.GetTimeoutError):
            return False

    def _train(self, buffer: RolloutBuffer) -> dict[str, float]:
        """Update on the actor, then send its weights to the rollout actor; recovers a dead training actor."""
        try:
            metrics = self.ray.get(self.actor.train.remote(buffer))
        except self.ray.exceptions.RayActorError:
            self._restart_actor()  # raises Rewind
        try:
            self._push_weights()
        except self.ray.exceptions.RayActorError:
            if not self._alive(self.actor):
                self._restart_actor()
            # Otherwise the rollout actor died taking the weights: the next collect recreates it with them.
        return metrics

    def _restart_actor(self) -> NoReturn:
        self.restarts += 1
        self.actor = self._make_actor()
        self.start, self.env_steps = 0, 0
        loaded = self._resume("auto")
        path = None if loaded is None else loaded["loaded"].path
        it = self.start
        # Envs restart where a resumed run would restart them, so the run goes on exactly as one.
        self.start, self.stage_obs = it, None
        with contextlib.suppress(self.ray.exceptions.RayActorError):  # a dead rollout actor is the next collect's job
            self._push_weights()
        raise Rewind(it, f"The training actor died; it was restarted from {path or 'its initial weights'}")

    def save(self, iteration: int, metrics: dict[str, float] | None = None) -> Path:
        meta = {"env_steps": self.env_steps, "metrics": metrics or {},
                "config": OmegaConf.to_container(self.spec.raw, resolve=True)}  # fmt: skip
        self.last_checkpoint = Path(self.ray.get(self.actor.save.remote(str(self.ckpt_root), iteration, meta)))
        return self.last_checkpoint

    def iteration(self, it: int) -> dict[str, float]:
        t0 = time.perf_counter()
        buffer, episodes = self._collect_with_restarts(it)
        t1 = time.perf_counter()
        steps = int(buffer.valid.sum())
        self.env_steps += steps
        metrics = self._train(buffer)
        pause_point("after_update", it)
        t2 = time.perf_counter()
        metrics.update(iteration_metrics(episodes, steps, self.env_steps, t0, t1, t2))
        metrics["cluster/actor_restarts"] = float(self.restarts)
        return metrics

    def close(self) -> None:
        for w in self.env_workers:
            with contextlib.suppress(Exception):  # a dead worker has nothing left to close
                self.ray.get(w.close.remote(), timeout=30)
        # Actors end with the run, not whenever their handles are garbage-collected.
        for handle in (*self.env_workers, self.rollout, self.actor):
            with contextlib.suppress(Exception):
                self.ray.kill(handle)
        if self.owns_cluster:  # a local cluster this run started; a joined or caller's cluster stays up
            self.ray.shutdown()
