"""``cluster.backend: ray``: env, rollout (inference) and actor (training) worker groups as Ray actors.

* Placement means what it says: ``cluster.component_placement`` names devices (GPUs, or CPU slots without
  GPUs); each device is one bundle of a Ray placement group (PACK), and each worker takes its share of its
  device's bundle, so Ray schedules it on the node that holds the device. Env workers: one per env device,
  times ``cluster.workers_per_device``, times ``rollout.pipeline_stage_num``, splitting ``num_envs``.
  Rollout replicas: one per rollout device (times ``workers_per_device``), each serving the env workers
  ``w % replicas``. Actor ranks: one per actor device, one torch.distributed group (Gloo on CPUs, NCCL on
  GPUs) training with FSDP2 or DDP (``cluster.actor_strategy``), each rank on its shard of the rollout's envs.
  ``placement.json`` in the run directory records node, device and rank of every worker.
* Pipelining: while one env worker simulates its chunk, its replica infers another's next chunk.
* Weights flow actor -> rollout after every update: gathered whole on rank 0 (only the trainable tensors
  when part of the policy is frozen, e.g. LoRA), put into the object store once, fetched by each replica;
  ``cluster/weight_sync_s`` and ``cluster/weight_sync_bytes`` measure it.
* Envs persist across iterations and reset where the local backend resets them (first iteration, algorithm
  request, checkpoint boundaries), and each chunk's sampling is seeded from (seed, iteration, worker, chunk),
  so a resumed run is identical to an unbroken one.
* Faults (each counted in ``cluster/actor_restarts``): a dead env worker or rollout replica is replaced
  alone and the rollout redone; a dead actor rank tears the group down, and the group is rebuilt from the
  last checkpoint and goes on from that checkpoint's iteration.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch
from omegaconf import OmegaConf

from vlarl.contracts.buffer import RolloutBuffer
from vlarl.contracts.observation import ObsBatch
from vlarl.distributed.parallel import MIXED_PRECISION, STRATEGIES, free_port, resolve_strategy
from vlarl.distributed.rank import TrainerRank, _SpecEnv, shard_envs
from vlarl.errors import ConfigError
from vlarl.plugins.build import call_factory
from vlarl.runner import checkpoint as ckpt
from vlarl.runner.context import build_env, build_policy, pick_device, run_dir, save_resolved_config, seed_everything
from vlarl.runner.interrupt import pause_point
from vlarl.runner.logger import MetricLogger
from vlarl.runner.loop import Rewind, TrainLoop, iteration_metrics, resume_report, warn
from vlarl.runner.placement import parse_placement, plan_layout
from vlarl.runner.rollout import EpisodeLog, RolloutRecorder, convert_actions
from vlarl.runner.setup import RunSpec


def _restrict(devices: list[int], gpu: bool) -> None:
    """Run this process on its placed devices.

    GPUs: Ray set CUDA_VISIBLE_DEVICES to the GPU of the worker's bundle (on whichever node holds it).
    CPU slots: pinned to a core of its node, so workers on one node do not spin against each other.
    """
    if gpu:
        return
    if hasattr(os, "sched_setaffinity"):
        cores = os.cpu_count() or 1
        os.sched_setaffinity(0, {d % cores for d in devices})


class EnvWorker:
    """A share of the envs: one pipeline stage of one env device."""

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
            step = self.env.chunk_step(convert_actions(ray.get(actions), policy_gripper, self.env.action_spec, cpu_env))
            outputs.append(output)
            steps.append(step)
            obs = step.observations
        return outputs, steps, rollout.predict_values.remote(obs) if with_values else None

    def ping(self) -> bool:
        return True

    def where(self) -> dict[str, Any]:
        return _where()

    def close(self) -> None:
        self.env.close()


class RolloutWorker:
    """One policy replica serving the env workers assigned to it."""

    def __init__(self, spec: RunSpec, specs: tuple[Any, Any], devices: list[int], gpu: bool, seed: int) -> None:
        _restrict(devices, gpu)
        seed_everything(seed)
        if spec.runner.torch_threads > 0:
            torch.set_num_threads(spec.runner.torch_threads)
        self.policy = build_policy(spec, _SpecEnv(*specs), pick_device(spec.runner.device)).eval()

    def info(self) -> tuple[str, bool]:
        return self.policy.gripper_convention, self.policy.has_critic

    def ping(self) -> bool:
        return True

    def where(self) -> dict[str, Any]:
        return _where()

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

    def set_weights(self, state: dict[str, torch.Tensor]) -> int:
        """Load the actor's weights (all, or only the trainable ones with LoRA); returns the bytes received."""
        own = self.policy.state_dict()
        unknown = [k for k in state if k not in own]
        if unknown:
            raise RuntimeError(f"weights from the actor name tensors this replica lacks: {unknown[:5]}")
        self.policy.load_state_dict(state, strict=len(state) == len(own))
        return sum(v.numel() * v.element_size() for v in state.values())


def _where() -> dict[str, Any]:
    import ray

    ctx = ray.get_runtime_context()
    return {"node_id": ctx.get_node_id(), "node_ip": ray.util.get_node_ip_address(), "pid": os.getpid()}


class ActorWorker(TrainerRank):
    """One actor rank: policy + algorithm; the ranks of the group train together (torch.distributed)."""

    def __init__(self, spec: RunSpec, specs: tuple[Any, Any], devices: list[int], gpu: bool, seed: int,
                 rank: int = 0, world_size: int = 1, strategy: str = "none") -> None:  # fmt: skip
        _restrict(devices, gpu)
        super().__init__(spec, specs, rank, world_size, strategy, gpu, seed)

    def where(self) -> dict[str, Any]:
        return _where()

    def address(self) -> tuple[str, int]:
        """Where the group meets: this rank's node and a free port on it (asked of rank 0)."""
        import ray

        return ray.util.get_node_ip_address(), free_port()


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
        self.pg: Any = None
        self.env_workers: list[Any] = []
        self.rollouts: list[Any] = []
        self.actors: list[Any] = []
        if self.owns_cluster:
            # No address: a fresh local instance of num_cpus, never a cluster some other job left running here
            # (ray.init(address=None) would join that one, and refuse num_cpus). RAY_ADDRESS still selects a cluster.
            address = c.address or os.environ.get("RAY_ADDRESS") or "local"
            ray.init(address=address, num_cpus=c.num_cpus if address == "local" else None, include_dashboard=False,
                     log_to_driver=True, configure_logging=False)  # fmt: skip
        try:
            self._start()
        except BaseException:
            self._release()  # a run that never started leaves no actors, reservation or own cluster behind
            raise

    # ------------------------------------------------------------------ start
    def _plan(self) -> None:
        """Placement and worker groups, checked before any actor starts."""
        ray, spec, c = self.ray, self.spec, self.spec.cluster
        resources = ray.cluster_resources()
        self.gpu = resources.get("GPU", 0) > 0
        n_devices = int(resources.get("GPU", 0)) if self.gpu else int(resources.get("CPU", 1))
        kind = "GPUs" if self.gpu else "CPU slots"
        self.placement = parse_placement(dict(c.component_placement), n_devices, kind)
        self.stages = spec.rollout.pipeline_stage_num
        self.num_envs = getattr(spec.plugins["env"][1], "num_envs", None)
        if self.stages > 1 and self.num_envs is None:
            raise ConfigError(
                "rollout.pipeline_stage_num > 1 needs an env with a num_envs setting.",
                "Set rollout.pipeline_stage_num=1.",
            )
        group = getattr(spec.plugins["algorithm"][1], "group_size", None)
        self.layout = plan_layout(self.placement, self.stages, c.workers_per_device, self.num_envs, group)
        world = self.layout.world_size
        if c.actor_strategy not in STRATEGIES:
            raise ConfigError(f"cluster.actor_strategy={c.actor_strategy!r} is invalid.", f"Use one of {STRATEGIES}.")
        self.strategy = resolve_strategy(c.actor_strategy, world)
        if c.fsdp_mixed_precision is not None and c.fsdp_mixed_precision not in MIXED_PRECISION:
            raise ConfigError(  # here, before any actor starts, not when a rank wraps the policy
                f"cluster.fsdp_mixed_precision={c.fsdp_mixed_precision!r} is not a compute dtype.",
                f"Use one of {sorted(MIXED_PRECISION)}, or null for the policy's own dtype.",
            )
        if world > 1:
            if self.strategy == "none":
                raise ConfigError(
                    f"cluster.actor_strategy=none trains on one rank, but cluster.component_placement.actor places "
                    f"{world} ranks.", "Set cluster.actor_strategy=fsdp (or ddp), or place actor on one device.",
                )  # fmt: skip
            provided, config, _ = spec.plugins["algorithm"]
            if not getattr(call_factory(provided, config), "supports_distributed", False):
                raise ConfigError(
                    f"algorithm '{provided.spec.name}' does not keep its statistics global over actor ranks "
                    f"(supports_distributed is False), but cluster.component_placement.actor places {world} ranks.",
                    "Place actor on one device.",
                )
        self.device_kind, self.n_devices = kind, n_devices

    def _reserve(self) -> None:
        """One placement-group bundle per device; each worker takes its share of its device's bundle."""
        from ray.util.placement_group import placement_group

        used = sorted(self.layout.users())
        self.bundle_of = {d: i for i, d in enumerate(used)}
        unit = "GPU" if self.gpu else "CPU"
        self.pg = placement_group([{unit: 1.0} for _ in used], strategy="PACK")
        try:
            self.ray.get(self.pg.ready(), timeout=120)
        except self.ray.exceptions.GetTimeoutError:
            raise ConfigError(
                f"Ray could not reserve {len(used)} {self.device_kind} (one per device of "
                f"cluster.component_placement) within 120 s; the cluster has {self.ray.cluster_resources()}.",
                "Free the cluster (other jobs hold its resources) or place components on fewer devices.",
            ) from None

    def _options(self, device: int) -> dict[str, Any]:
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        share = 1.0 / self.layout.users()[device]
        strategy = PlacementGroupSchedulingStrategy(self.pg, placement_group_bundle_index=self.bundle_of[device])
        unit = {"num_gpus": share, "num_cpus": 0} if self.gpu else {"num_cpus": share}
        return {**unit, "scheduling_strategy": strategy, "max_restarts": 0}

    def _start(self) -> None:
        """Placement, worker groups, resume and logger: everything after the cluster is up."""
        ray, spec = self.ray, self.spec
        self._plan()
        self.dir = run_dir(spec)
        save_resolved_config(spec, self.dir)
        self._reserve()
        self.restarts = 0
        self.env_workers = [self._make_env_worker(w) for w in range(self.layout.n_env_workers)]
        obs_spec, act_spec, _ = ray.get(self.env_workers[0].specs.remote())
        self.specs = (obs_spec, act_spec)
        self.ckpt_root = self.dir / "checkpoints"
        for note in ckpt.clean_incomplete(self.ckpt_root):
            print(f"checkpoints: {note}", flush=True)
        self.start, self.env_steps = 0, 0
        config = OmegaConf.to_container(spec.raw, resolve=True)
        loaded = self._make_actor_group(spec.runner.resume)
        self.rollouts = [self._make_rollout_worker(i) for i in range(self.layout.n_rollout_workers)]
        if loaded is not None:
            print("\n".join(resume_report(loaded["loaded"], config, loaded["notes"])), flush=True)
        self.sync: dict[str, float] = {}
        self._push_weights()
        self.gripper, self.has_critic = ray.get(self.rollouts[0].info.remote())
        self._write_placement()
        r = spec.runner
        self.logger = MetricLogger(self.dir, r.logger.logger_backends, r.logger.project_name, r.logger.experiment_name,
                                   config, resume_step=self.start if loaded is not None else None)  # fmt: skip
        self.algo_reset_options = self.ray.get(self.actors[0].reset_options.remote())
        self.stage_obs: list[ObsBatch] | None = None
        """Each env worker's observations after the last rollout; None forces a reset."""

    def _write_placement(self) -> None:
        """``placement.json``: each group's workers with node, device and rank; one line of it on stdout."""
        ray, lay = self.ray, self.layout
        where = ray.get([h.where.remote() for h in (*self.env_workers, *self.rollouts, *self.actors)])
        env_w, roll_w, act_w = (where[: len(self.env_workers)],
                                where[len(self.env_workers): len(self.env_workers) + len(self.rollouts)],
                                where[len(self.env_workers) + len(self.rollouts):])  # fmt: skip
        n_env = lay.envs_per_worker
        data = {
            "device_kind": self.device_kind, "devices": self.n_devices,
            "env": [{"worker": w, "device": lay.env_device(w), "stage": w // (lay.n_env_workers // self.stages),
                     "envs": None if n_env is None else [w * n_env, (w + 1) * n_env], "rollout_worker":
                     w % lay.n_rollout_workers, **x} for w, x in enumerate(env_w)],
            "rollout": [{"worker": i, "device": lay.rollout_device(i), **x} for i, x in enumerate(roll_w)],
            "actor": [{"rank": r, "device": d, "strategy": self.strategy, **x}
                      for r, (d, x) in enumerate(zip(lay.actor_devices, act_w))],
        }  # fmt: skip
        (self.dir / "placement.json").write_text(json.dumps(data, indent=2))

        def part(name: str, what: str) -> str:
            nodes = len({x["node_id"] for x in data[name]})
            devices = sorted({x["device"] for x in data[name]})
            return f"{name} {len(data[name])} {what} on {nodes} node{'s' * (nodes > 1)} ({self.device_kind} {devices})"

        backend = "nccl" if self.gpu else "gloo"
        ranks = f"ranks, {self.strategy}" + (f"/{backend}" if lay.world_size > 1 else "")
        print(f"placement: {part('env', 'workers')}; {part('rollout', 'replicas')}; {part('actor', ranks)}; "
              f"{self.dir / 'placement.json'}", flush=True)  # fmt: skip

    def _make_actor_group(self, resume: str | None) -> dict[str, Any] | None:
        """Start the actor ranks, join them into one group and restore ``resume``; sets start and env_steps."""
        ray, lay = self.ray, self.layout
        self.actors = [
            ray.remote(ActorWorker).options(**self._options(d))
            .remote(self.spec, self.specs, [d], self.gpu, self.spec.runner.seed, r, lay.world_size, self.strategy)
            for r, d in enumerate(lay.actor_devices)
        ]  # fmt: skip
        if lay.world_size > 1:
            address, port = ray.get(self.actors[0].address.remote())
            ray.get([a.join.remote(address, port) for a in self.actors])
        outs = ray.get([a.prepare.remote(resume, str(self.ckpt_root)) for a in self.actors])
        out = outs[0]
        for w in (out or {}).get("warnings", []):
            warn(w)
        if out is None or out.get("loaded") is None:
            return None
        meta = out["loaded"].meta
        self.start, self.env_steps = int(meta["iteration"]), int(meta.get("env_steps", 0))
        self.last_checkpoint = out["loaded"].path
        return out

    def _make_env_worker(self, w: int) -> Any:
        d = self.layout.env_device(w)
        return (
            self.ray.remote(EnvWorker).options(**self._options(d))
            .remote(self.spec, self.layout.envs_per_worker, [d], self.gpu)
        )  # fmt: skip

    def _make_rollout_worker(self, i: int) -> Any:
        d = self.layout.rollout_device(i)
        return (
            self.ray.remote(RolloutWorker).options(**self._options(d))
            .remote(self.spec, self.specs, [d], self.gpu, self.spec.runner.seed + 1)
        )  # fmt: skip

    # ------------------------------------------------------------------ weights
    def _push_weights(self, targets: list[Any] | None = None) -> None:
        """Gather the actor group's weights (rank 0 gets them whole) and load them into the rollout replicas.

        The object goes into Ray's object store once; each replica fetches it. Time and bytes are logged as
        ``cluster/weight_sync_s`` and ``cluster/weight_sync_bytes`` (per replica).
        """
        t0 = time.perf_counter()
        refs = [a.weights.options(num_returns=2).remote() for a in self.actors]
        state_ref, gather_ref = refs[0]
        sizes = self.ray.get([r.set_weights.remote(state_ref) for r in (targets or self.rollouts)])
        self.ray.get([g for _, g in refs[1:]])
        self.sync = {"cluster/weight_sync_s": time.perf_counter() - t0,
                     "cluster/weight_gather_s": float(self.ray.get(gather_ref)),
                     "cluster/weight_sync_bytes": float(sizes[0])}  # fmt: skip

    def _value_fn(self, replica: Any) -> Any:
        if not self.has_critic:
            return None
        return lambda obs: self.ray.get(replica.predict_values.remote(obs))

    # ------------------------------------------------------------------ rollout
    def _initial_obs(self, it: int) -> list[ObsBatch]:
        reset_options = self.algo_reset_options
        if self.stage_obs is not None and not self.needs_reset(it, reset_options is not None):
            return self.stage_obs
        seed = self.spec.runner.seed + it
        return self.ray.get([w.reset.remote(seed + 1000 * s, reset_options) for s, w in enumerate(self.env_workers)])

    def collect(self, it: int) -> tuple[RolloutBuffer, EpisodeLog]:
        """One rollout over all env workers, each driving its chunks against its rollout replica.

        A replica serves its env workers' requests as they arrive: while one simulates chunk k, the replica
        infers another's next chunk. The driver only starts the workers and collects their results.
        """
        ray, n = self.ray, self.spec.rollout.n_chunks
        s_num, r_num = len(self.env_workers), len(self.rollouts)
        obs = self._initial_obs(it)
        # Sampling seeds per (run seed, iteration, worker, chunk): independent of arrival order and history.
        seeds = [q.generate_state(n).tolist() for q in np.random.SeedSequence([self.spec.runner.seed, it]).spawn(s_num)]
        runs = [
            w.run_stage.remote(self.rollouts[s % r_num], o, seeds[s], self.gripper, self.has_critic)
            for s, (w, o) in enumerate(zip(self.env_workers, obs))
        ]
        episodes = EpisodeLog()
        buffers, last_obs = [], []
        video = self.video_recorder(it)
        for s, run in enumerate(runs):
            output_refs, steps, values_ref = ray.get(run)
            recorder = RolloutRecorder(self._value_fn(self.rollouts[s % r_num]))
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

    def _alive(self, handle: Any) -> bool:
        try:
            return self.ray.get(handle.ping.remote(), timeout=60)
        except (self.ray.exceptions.RayActorError, self.ray.exceptions.GetTimeoutError):
            return False

    def _collect_with_restarts(self, it: int) -> tuple[RolloutBuffer, EpisodeLog]:
        for _attempt in range(3):
            try:
                return self.collect(it)
            except self.ray.exceptions.RayActorError:
                # Only the dead workers are replaced; every env restarts from a reset, as at a checkpoint.
                self.restarts += 1
                for w, h in enumerate(self.env_workers):
                    if not self._alive(h):
                        self.env_workers[w] = self._make_env_worker(w)
                dead = [i for i, h in enumerate(self.rollouts) if not self._alive(h)]
                for i in dead:
                    self.rollouts[i] = self._make_rollout_worker(i)
                if dead:
                    self._push_weights([self.rollouts[i] for i in dead])
                self.stage_obs = None
        raise RuntimeError("env or rollout workers died three times in a row; see the Ray logs above.")

    # ------------------------------------------------------------------ update
    def _on_all_ranks(self, method: str, *args: Any) -> list[Any]:
        """Call ``method`` on every rank; a dead rank raises RayActorError at once (the others may be blocked
        in a collective waiting for it, so waiting for them in order could hang)."""
        refs = [getattr(a, method).remote(*a_args) for a, a_args in zip(self.actors, args)]
        pending, done = list(refs), {}
        while pending:
            ready, pending = self.ray.wait(pending, num_returns=1)
            done[ready[0]] = self.ray.get(ready[0])  # raises for a dead rank
        return [done[r] for r in refs]

    def _train(self, buffer: RolloutBuffer) -> dict[str, float]:
        """Each rank trains on its shard of the envs; then the weights go to the rollout replicas."""
        world = self.layout.world_size
        shards = [(shard_envs(buffer, slice(r * buffer.num_envs // world, (r + 1) * buffer.num_envs // world)),)
                  for r in range(world)] if world > 1 else [(buffer,)]  # fmt: skip
        try:
            metrics = self._on_all_ranks("train", *shards)[0]
        except self.ray.exceptions.RayActorError:
            self._restart_actor()  # raises Rewind
        try:
            self._push_weights()
        except self.ray.exceptions.RayActorError:
            if not all(self._alive(a) for a in self.actors):
                self._restart_actor()
            # Otherwise a rollout replica died taking the weights: the next collect replaces it.
        return {**metrics, **self.sync}

    def _restart_actor(self) -> NoReturn:
        """A dead rank: the whole group is torn down and rebuilt from the last checkpoint."""
        self.restarts += 1
        for a in self.actors:
            with contextlib.suppress(Exception):
                self.ray.kill(a)
        self.start, self.env_steps = 0, 0
        loaded = self._make_actor_group("auto")
        path = None if loaded is None else loaded["loaded"].path
        self.stage_obs = None  # envs restart where a resumed run restarts them
        with contextlib.suppress(self.ray.exceptions.RayActorError):  # a dead replica is the next collect's job
            self._push_weights()
        raise Rewind(self.start, f"An actor rank died; the group was rebuilt from {path or 'its initial weights'}")

    def save(self, iteration: int, metrics: dict[str, float] | None = None) -> Path:
        meta = {"env_steps": self.env_steps, "metrics": metrics or {}, "world_size": self.layout.world_size,
                "actor_strategy": self.strategy, "config": OmegaConf.to_container(self.spec.raw, resolve=True)}  # fmt: skip
        args = [(str(self.ckpt_root), iteration, meta)] * len(self.actors)
        self.last_checkpoint = Path(self._on_all_ranks("save", *args)[0])
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

    def _release(self) -> None:
        # Actors end with the run, not whenever their handles are garbage-collected.
        for handle in (*self.env_workers, *self.rollouts, *self.actors):
            with contextlib.suppress(Exception):
                self.ray.kill(handle)
        if self.pg is not None:
            with contextlib.suppress(Exception):
                self.ray.util.remove_placement_group(self.pg)
        if self.owns_cluster:  # a local cluster this run started; a joined or caller's cluster stays up
            self.ray.shutdown()

    def close(self) -> None:
        for w in self.env_workers:
            with contextlib.suppress(Exception):  # a dead worker has nothing left to close
                self.ray.get(w.close.remote(), timeout=30)
        self._release()
