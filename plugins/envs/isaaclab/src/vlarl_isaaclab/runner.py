"""Chunked stepping of one batched IsaacLab env (runs inside the worker, on the env's device).

How IsaacLab's in-step resets meet the host's chunk-boundary autoreset:

* ``ManagerBasedRLEnv.step`` resets every sub-env whose termination terms fired
  *inside* that step and returns the new episode's first observation for it.
  Their observation before the reset is recovered, so ``final_observation`` is
  the real last one: on IsaacLab 3.x from ``extras["final_obs"]``
  (``cfg.compute_final_obs``), on 2.x by a recorder term (IsaacLab's public
  ``RecorderTerm.record_pre_reset`` hook, called just before ``_reset_idx``).
* A sub-env that ends at sub-step c is marked done: ``valid[i, c+1:]`` False,
  rewards/terminations/truncations 0 there, its episode metrics frozen. The
  batch must still step together, so for the rest of the chunk it receives
  the task's hold action (zeros by default: no relative motion, gripper
  open) and everything it does is ignored. If every sub-env is done, the
  remaining sub-steps are not simulated at all.
* At the chunk boundary every done sub-env is reset again with
  ``env.reset(env_ids=...)``: its new episode starts exactly there, with no
  leftover hold steps. Truncation at ``max_episode_steps`` is counted here
  (IsaacLab's own ``time_out`` is pushed out of reach by the worker), so
  truncated sub-envs, which IsaacLab did not reset, get the same treatment.
"""

from __future__ import annotations

from typing import Any

import torch

from vlarl.errors import ConfigError, ContractError
from vlarl_isaaclab.mapping import clone_obs, map_observation, put_rows, take_rows
from vlarl_isaaclab.taskdecl import TaskDecl


class FinalObsStore:
    """Filled by the recorder term with pre-reset observation rows; drained after each step."""

    def __init__(self) -> None:
        self.ids: list[torch.Tensor] = []
        self.rows: list[dict[str, torch.Tensor]] = []

    def add(self, ids: torch.Tensor, rows: dict[str, torch.Tensor]) -> None:
        self.ids.append(ids)
        self.rows.append(rows)

    def drain(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]] | None:
        if not self.ids:
            return None
        ids, rows = self.ids[-1], self.rows[-1]  # one step resets once; keep the latest
        self.ids.clear()
        self.rows.clear()
        return ids, rows


def install_final_obs_recorder(env_cfg: Any, obs_group: str, store: FinalObsStore) -> None:
    """Add a recorder term to ``env_cfg.recorders`` that captures ``obs_group`` before each reset.

    Must run after the app launcher (it imports isaaclab.managers).
    """
    from isaaclab.managers.recorder_manager import (
        DatasetExportMode,
        RecorderManagerBaseCfg,
        RecorderTerm,
        RecorderTermCfg,
    )

    class _FinalObsRecorder(RecorderTerm):
        def record_pre_reset(self, env_ids: Any) -> tuple[None, None]:
            env = self._env
            if env_ids is None or isinstance(env_ids, slice):
                env_ids = list(range(env.num_envs))[env_ids or slice(None)]
            ids = torch.as_tensor(env_ids, dtype=torch.long, device=env.device)
            group = env.observation_manager.compute_group(obs_group)
            store.add(ids, {k: v[ids].clone() for k, v in group.items()})
            return None, None  # nothing goes into IsaacLab's episode datasets

    recorders = getattr(env_cfg, "recorders", None)
    own = recorders is None or not any(isinstance(v, RecorderTermCfg) for v in vars(recorders).values())
    if own:
        recorders = RecorderManagerBaseCfg()
        recorders.dataset_export_mode = DatasetExportMode.EXPORT_NONE
    recorders.vlarl_final_obs = RecorderTermCfg(class_type=_FinalObsRecorder)
    env_cfg.recorders = recorders


def use_final_obs_extras(env_cfg: Any, generation: int) -> bool:
    """IsaacLab 3.x: ask the env for ``extras["final_obs"]`` (no recorder, no extra observation pass per step)."""
    if generation < 3 or not hasattr(env_cfg, "compute_final_obs"):
        return False
    env_cfg.compute_final_obs = True
    return True


def take_state_rows(tree: Any, rows: torch.Tensor) -> Any:
    """``scene.get_state()`` cut to ``rows``: ``reset_to(state, env_ids)`` expects ``len(env_ids)`` rows."""
    if isinstance(tree, dict):
        return {k: take_state_rows(v, rows) for k, v in tree.items()}
    if isinstance(tree, torch.Tensor) and tree.ndim >= 1:
        return tree[rows].clone()
    return tree


class ChunkRunner:
    """Owns the episode bookkeeping of one batched IsaacLab env."""

    def __init__(
        self,
        env: Any,
        decl: TaskDecl,
        description: str,
        max_episode_steps: int,
        store: FinalObsStore,
        quat_order: str = "wxyz",
        final_obs_from_extras: bool = False,
    ) -> None:
        self.env = env
        self.decl = decl
        self.description = description
        self.max_episode_steps = max_episode_steps
        self.store = store
        self.quat_order = quat_order
        """The installed IsaacLab's quaternion order (``wxyz`` 2.x, ``xyzw`` 3.x)."""
        self.final_obs_from_extras = final_obs_from_extras
        """Pre-reset rows come from ``extras["final_obs"]`` (3.x) instead of the recorder term (2.x)."""
        self.device = torch.device(str(env.device))
        self.n = int(env.num_envs)
        self.action_dim = len(decl.action_names)
        hold = decl.hold_action or (0.0,) * self.action_dim
        self.hold = torch.tensor(hold, dtype=torch.float32, device=self.device)
        z = torch.zeros(self.n, device=self.device)
        self.ep_return, self.ep_len = z.clone(), z.clone().long()
        self.success_once, self.success_last = z.clone().bool(), z.clone().bool()
        self.obs: dict[str, Any] | None = None

    # ------------------------------------------------------------------ helpers
    def _map(self, raw: dict[str, Any]) -> dict[str, Any]:
        return map_observation(raw, self.decl, self.description, self.quat_order)

    def _success(self) -> torch.Tensor:
        if self.decl.success_term is None:
            return torch.zeros(self.n, dtype=torch.bool, device=self.device)
        tm = self.env.termination_manager
        if self.decl.success_term not in tm.active_terms:
            raise ContractError(
                f"Task {self.decl.id} has no termination term '{self.decl.success_term}' (terms: {tm.active_terms}).",
                "Set success_term in the task declaration to the term that signals success (or None).",
            )
        return tm.get_term(self.decl.success_term).to(self.device).bool().reshape(self.n)

    def _clear(self, ids: torch.Tensor) -> None:
        self.ep_return[ids] = 0.0
        self.ep_len[ids] = 0
        self.success_once[ids] = False
        self.success_last[ids] = False

    # ------------------------------------------------------------------ contract
    def reset(self, seed: int | None, group_size: int | None) -> dict[str, Any]:
        raw, _ = self.env.reset(seed=seed)
        if group_size and group_size > 1:
            raw = self._share_group_states(group_size)
        self.store.drain()
        self.obs = self._map(raw)
        self._clear(torch.arange(self.n, device=self.device))
        return clone_obs(self.obs)

    def _share_group_states(self, g: int) -> dict[str, Any]:
        """Copy each group leader's physical state to its members (IsaacLab seeds all sub-envs from one RNG)."""
        if self.n % g:
            raise ConfigError(
                f"group_size={g} does not divide num_envs={self.n}.",
                "Set env.num_envs to a multiple of the group size.",
            )
        idx = torch.arange(self.n, device=self.device)
        leaders = idx - idx % g
        members = idx[leaders != idx]
        state = take_state_rows(self.env.scene.get_state(is_relative=True), leaders[members])
        raw, _extras = self.env.reset_to(state, env_ids=members, is_relative=True)
        return raw

    def _capture_from_extras(self, extras: dict[str, Any], reset: torch.Tensor) -> None:
        """3.x: the rows IsaacLab reset inside ``step`` come with their pre-reset observation in extras."""
        ids = reset.nonzero().squeeze(-1)
        if not len(ids):
            return
        final = extras.get("final_obs")
        if not isinstance(final, dict) or self.decl.obs_group not in final:
            got = sorted(final) if isinstance(final, dict) else type(final).__name__
            raise ContractError(
                f"IsaacLab reset sub-envs {ids.tolist()} inside step() but extras has no 'final_obs' group "
                f"'{self.decl.obs_group}' (got {got}).",
                "The env cfg must keep compute_final_obs=True (vlarl sets it on IsaacLab 3.x); check that the "
                "task's cfg class does not reset it in __post_init__.",
            )
        self.store.add(ids, {k: v[ids].clone() for k, v in final[self.decl.obs_group].items()})

    def chunk(self, actions: torch.Tensor) -> dict[str, Any]:
        if self.obs is None:
            raise ContractError("chunk_step() called before reset().", "Call env.reset() first.")
        actions = actions.to(self.device, torch.float32)
        n, c = self.n, actions.shape[1]
        rewards = torch.zeros(n, c, dtype=torch.float32, device=self.device)
        terms = torch.zeros(n, c, dtype=torch.bool, device=self.device)
        truncs, valid = terms.clone(), terms.clone()
        active = torch.ones(n, dtype=torch.bool, device=self.device)
        cur = self.obs
        for k in range(c):
            if not bool(active.any()):
                break  # every episode ended: the rest of the chunk would be ignored anyway
            step_actions = torch.where(active[:, None], actions[:, k], self.hold)
            raw, env_reward, env_term, env_trunc, extras = self.env.step(step_actions)
            if self.final_obs_from_extras:
                self._capture_from_extras(extras, (env_term | env_trunc).to(self.device).bool())
            success = self._success()
            mapped = self._map(raw)
            captured = self.store.drain()
            if captured is not None:  # rows IsaacLab reset inside step: use their pre-reset observation
                ids, rows = captured
                put_rows(mapped, ids, take_rows(self._map({self.decl.obs_group: rows}), torch.arange(len(ids))))
            reward = success.float() if self.decl.reward == "success" else env_reward.to(self.device).float()
            self.ep_len[active] += 1
            term = env_term.to(self.device).bool() & active
            trunc = (env_trunc.to(self.device).bool() | (self.ep_len >= self.max_episode_steps)) & active & ~term
            rewards[active, k] = reward[active]
            terms[:, k], truncs[:, k], valid[:, k] = term, trunc, active
            self.ep_return += torch.where(active, reward, torch.zeros_like(reward))
            self.success_once |= success & active
            self.success_last = torch.where(active, success, self.success_last)
            live = active.nonzero().squeeze(-1)
            put_rows(cur, live, take_rows(mapped, live))
            active = active & ~(term | trunc)
        done = ~active
        final = clone_obs(cur)
        episode = {
            "success_once": self.success_once.clone(),
            "success_at_end": self.success_last.clone(),
            "return": self.ep_return.clone(),
            "episode_len": self.ep_len.clone(),
        }
        if bool(done.any()):
            ids = done.nonzero().squeeze(-1)
            raw, _ = self.env.reset(env_ids=ids)
            self.store.drain()
            put_rows(cur, ids, take_rows(self._map(raw), ids))
            self._clear(ids)
        self.obs = cur
        return {
            "observations": clone_obs(cur),
            "rewards": rewards,
            "terminations": terms,
            "truncations": truncs,
            "valid": valid,
            "infos": {"done": done, "episode": episode, "final_observation": final},
        }
