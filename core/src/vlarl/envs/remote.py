"""The host's view of an env that runs elsewhere: worker processes or env servers, as one ChunkedVectorEnv.

Each link (a :class:`~vlarl.envs.pool.ProcessWorker` running :class:`~vlarl.envs.service.EnvService`,
or a :class:`~vlarl.envs.client.TcpLink`) holds a consecutive block of sub-envs. A link that dies
or hangs is restarted and reset; the episodes it held end in that chunk as truncated after one
sub-step without reward or success, and are flagged in ``infos["env_failed"]`` with the reason in
``infos["worker_errors"]`` (the names LIBERO's pool used), so the run goes on and counts them failed.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import numpy as np

from vlarl.contracts import observation as ob
from vlarl.contracts.env import GROUP_SIZE_OPTION, ChunkedVectorEnv, ChunkStep
from vlarl.contracts.observation import ObsBatch
from vlarl.envs.pool import WorkerFailure
from vlarl.envs.service import specs_from_wire
from vlarl.envs.substep import chunk_actions
from vlarl.errors import ConfigError, ContractError, VlarlError

log = logging.getLogger(__name__)


def _merge(parts: list[Any], sizes: list[int]) -> Any:
    """Per-link values -> one: row arrays/lists are concatenated, maps merged key by key, scalars from link 0."""
    first = parts[0]
    if len(parts) == 1:
        return first
    if isinstance(first, dict):
        keys = [k for k in first if all(isinstance(p, dict) and k in p for p in parts)]
        return {k: _merge([p[k] for p in parts], sizes) for k in keys}
    if isinstance(first, np.ndarray) and all(
        isinstance(p, np.ndarray) and p.ndim and len(p) == n for p, n in zip(parts, sizes)
    ):
        return np.concatenate(parts, axis=0)
    if isinstance(first, list):
        return [x for p in parts for x in p]
    return first


def _blank_like(value: Any, n: int) -> Any:
    """A row block of ``n`` rows shaped like ``value`` (a previous reply), all zero/False/empty."""
    if isinstance(value, dict):
        return {k: _blank_like(v, n) for k, v in value.items()}
    if isinstance(value, np.ndarray) and value.ndim:
        return np.zeros((n, *value.shape[1:]), dtype=value.dtype)
    if isinstance(value, list):
        return []
    return value


class RemoteVectorEnv(ChunkedVectorEnv):
    """Sub-envs of one env plugin served by ``links``; restarts a failed link up to ``max_restarts`` times."""

    def __init__(
        self,
        links: list[Any],
        startup_timeout: float,
        step_timeout: float,
        max_restarts: int = 10,
        label: str = "env",
    ) -> None:
        self.links = links
        self.startup_timeout = startup_timeout
        self.step_timeout = step_timeout
        self.max_restarts = max_restarts
        self.label = label
        self.restarts = 0
        self._closed = False
        try:
            for link in links:
                link.start()
            infos = [link.wait_ready(startup_timeout) for link in links]
        except BaseException:
            self.close()
            raise
        self.infos = [self._info(i) for i in infos]
        first = self.infos[0]
        self.env_info: dict[str, Any] = first.get("env", {})
        self.observation_spec, self.action_spec = specs_from_wire(first["specs"])
        self.max_episode_steps = int(first["specs"]["max_episode_steps"])
        for w, info in enumerate(self.infos[1:], 1):
            if specs_from_wire(info["specs"]) != (self.observation_spec, self.action_spec):
                self.close()
                raise ContractError(
                    f"{label} link {w} serves an env with other specs than link 0.", "Serve one config."
                )
        self.sizes = [int(i["specs"]["num_envs"]) for i in self.infos]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self.num_envs = int(self.offsets[-1])
        self._ret = np.zeros(self.num_envs, dtype=np.float64)
        self._len = np.zeros(self.num_envs, dtype=np.int64)
        self._obs: ObsBatch | None = None
        self._templates: list[dict[str, Any] | None] = [None] * len(links)
        self._errors: list[str] = []

    @staticmethod
    def _info(info: Any) -> dict[str, Any]:
        # A local worker wraps its object's info; an env server sends it as the hello reply.
        return info if isinstance(info, dict) and "specs" in info else dict(info or {})

    def _rows(self, w: int) -> slice:
        return slice(int(self.offsets[w]), int(self.offsets[w + 1]))

    # ------------------------------------------------------------------ failures
    def _restart(self, w: int, reason: str) -> None:
        self.restarts += 1
        self._errors.append(f"worker {w}: {reason}")
        log.warning("%s link %d failed (%s); restarting it (restart %d)", self.label, w, reason, self.restarts)
        if self.restarts > self.max_restarts:
            raise VlarlError(
                f"{self.label} workers failed {self.restarts} times (last: worker {w}: {reason}).",
                "Look at the errors above; raise env.runtime.max_restarts or env.runtime.step_timeout_s if they "
                "are transient.",
            )
        link = self.links[w]
        link.kill()
        try:
            link.start()
            info = self._info(link.wait_ready(self.startup_timeout))
        except WorkerFailure as exc:
            raise VlarlError(
                f"{self.label} worker {w} could not be restarted: {exc.reason}",
                "Check the error above (for a server: that it runs again on its address, with the same token).",
            ) from exc
        if int(info["specs"]["num_envs"]) != self.sizes[w]:
            raise ContractError(f"{self.label} worker {w} came back with another num_envs.", "Serve one config.")

    def _gather(self, requests: dict[int, tuple[str, tuple[Any, ...]]]) -> tuple[dict[int, Any], dict[int, str]]:
        """Send to every link first (they work in parallel), then collect; failures are returned, not raised."""
        replies: dict[int, Any] = {}
        failed: dict[int, str] = {}
        for w, (method, args) in requests.items():
            try:
                self.links[w].send(method, *args)
            except WorkerFailure as exc:
                failed[w] = exc.reason
        for w in requests:
            if w in failed:
                continue
            try:
                replies[w] = self.links[w].recv(self.step_timeout)
            except WorkerFailure as exc:
                failed[w] = exc.reason
        return replies, failed

    # ------------------------------------------------------------------ contract
    def _link_seeds(self, seed: int | None, group: int | None) -> list[int | None]:
        if seed is None:
            return [None] * len(self.links)
        if group and group > 1:
            bad = [n for n in self.sizes if n % group]
            if bad:
                raise ConfigError(
                    f"group_size={group} does not divide the {self.sizes} sub-envs of the env's workers.",
                    "Give each worker a multiple of algorithm.group_size sub-envs.",
                )
            return [seed + int(o) // group for o in self.offsets[:-1]]
        return [seed + int(o) for o in self.offsets[:-1]]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[ObsBatch, dict[str, Any]]:
        if self._closed:
            raise ContractError(f"The {self.label} env is closed.", "Create a new env.")
        seeds = self._link_seeds(seed, (options or {}).get(GROUP_SIZE_OPTION))
        requests = {w: ("reset", (s, options)) for w, s in enumerate(seeds)}
        replies, failed = self._gather(requests)
        for w, reason in failed.items():  # one retry, in a fresh worker
            self._restart(w, reason)
            try:
                replies[w] = self.links[w].call("reset", seeds[w], options, timeout=self.step_timeout)
            except WorkerFailure as exc:
                raise VlarlError(
                    f"{self.label} worker {w} failed twice while resetting: {exc.reason}",
                    "Check the error above; the env cannot reset in a fresh worker either.",
                ) from exc
        parts = [replies[w] for w in range(len(self.links))]
        obs = _merge([p[0] for p in parts], self.sizes)
        infos = _merge([p[1] for p in parts], self.sizes)
        self._obs = ob.copy(obs)
        self._ret[:] = 0.0
        self._len[:] = 0
        return obs, infos

    def chunk_step(self, actions: Any) -> ChunkStep:
        if self._closed:
            raise ContractError(f"The {self.label} env is closed.", "Create a new env.")
        if self._obs is None:
            raise ContractError("chunk_step() called before reset().", "Call env.reset() first.")
        actions = chunk_actions(actions, self.num_envs, self.action_spec.dim)
        n = self.num_envs
        self._errors = []
        replies, failed = self._gather({w: ("chunk_step", (actions[self._rows(w)],)) for w in range(len(self.links))})
        for w, reason in failed.items():
            self._restart(w, reason)
            replies[w] = self._lost_chunk(w, actions.shape[1])
        for w, r in replies.items():
            if w not in failed:
                self._templates[w] = r["infos"]
        parts = [replies[w] for w in range(len(self.links))]
        step = {k: _merge([p[k] for p in parts], self.sizes) for k in parts[0]}
        infos = step["infos"]
        env_failed = np.zeros(n, dtype=bool)
        for w in failed:
            env_failed[self._rows(w)] = True
        if "env_failed" in infos:
            env_failed |= np.asarray(infos["env_failed"], dtype=bool)
        infos["env_failed"] = env_failed
        if self._errors:
            infos["worker_errors"] = list(infos.get("worker_errors", [])) + list(self._errors)
        self._track(step)
        self._obs = step["observations"]
        return ChunkStep(
            step["observations"], step["rewards"], step["terminations"], step["truncations"], step["valid"], infos
        )

    def _track(self, step: dict[str, Any]) -> None:
        """Running return and length per sub-env: a lost episode's metrics are what the host saw of it."""
        valid = np.asarray(step["valid"], dtype=bool)
        self._ret += np.where(valid, np.asarray(step["rewards"], dtype=np.float64), 0.0).sum(axis=1)
        self._len += valid.sum(axis=1)
        done = np.asarray(step["infos"]["done"], dtype=bool)
        self._ret[done] = 0.0
        self._len[done] = 0

    def _lost_chunk(self, w: int, c: int) -> dict[str, Any]:
        """The chunk of a link that failed: its episodes end at sub-step 0, truncated, failed; then a fresh start."""
        rows = self._rows(w)
        k = self.sizes[w]
        try:
            obs, _ = self.links[w].call("reset", None, None, timeout=self.step_timeout)
        except WorkerFailure as exc:
            raise VlarlError(
                f"{self.label} worker {w} failed again right after its restart: {exc.reason}",
                "Check the error above; the env cannot reset in a fresh worker.",
            ) from exc
        assert self._obs is not None
        final = ob.take(self._obs, np.arange(rows.start, rows.stop))
        first = np.zeros((k, c), dtype=bool)
        first[:, 0] = True
        template = self._templates[w]
        infos = _blank_like(template, k) if template is not None else {}
        infos.update(
            done=np.ones(k, dtype=bool),
            final_observation=final,
            episode={
                "success_once": np.zeros(k, dtype=bool),
                "success_at_end": np.zeros(k, dtype=bool),
                "return": self._ret[rows].astype(np.float32),
                "episode_len": self._len[rows] + 1,
            },
        )
        return {
            "observations": obs,
            "rewards": np.zeros((k, c), dtype=np.float32),
            "terminations": np.zeros((k, c), dtype=bool),
            "truncations": first,
            "valid": first.copy(),
            "infos": infos,
        }

    def render_frames(self) -> np.ndarray | None:
        replies, failed = self._gather({w: ("render_frames", ()) for w in range(len(self.links))})
        if failed or any(replies[w] is None for w in replies):
            return None
        return np.concatenate([replies[w] for w in range(len(self.links))], axis=0)

    @property
    def worker_pids(self) -> list[int | None]:
        return [link.pid for link in self.links]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for link in self.links:
            with contextlib.suppress(Exception):
                link.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()
