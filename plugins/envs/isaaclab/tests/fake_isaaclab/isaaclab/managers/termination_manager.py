"""Fake termination manager: terms are functions of the env; ``get_term(name)`` -> bool [N]."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


class TerminationTermCfg:
    def __init__(self, func: Callable[..., torch.Tensor], params: dict | None = None, time_out: bool = False) -> None:
        self.func = func
        self.params = dict(params or {})
        self.time_out = time_out


class TerminationManager:
    def __init__(self, cfg: Any, env: Any) -> None:
        self._env = env
        self._cfgs = {k: v for k, v in vars(cfg).items() if isinstance(v, TerminationTermCfg)}
        n = env.num_envs
        self._term_dones = {k: torch.zeros(n, dtype=torch.bool, device=env.device) for k in self._cfgs}
        self._terminated = torch.zeros(n, dtype=torch.bool, device=env.device)
        self._time_outs = torch.zeros_like(self._terminated)

    @property
    def active_terms(self) -> list[str]:
        return list(self._cfgs)

    @property
    def terminated(self) -> torch.Tensor:
        return self._terminated

    @property
    def time_outs(self) -> torch.Tensor:
        return self._time_outs

    def compute(self) -> torch.Tensor:
        self._terminated[:] = False
        self._time_outs[:] = False
        for name, cfg in self._cfgs.items():
            value = cfg.func(self._env, **cfg.params).bool()
            self._term_dones[name][:] = value
            if cfg.time_out:
                self._time_outs |= value
            else:
                self._terminated |= value
        return self._terminated | self._time_outs

    def get_term(self, name: str) -> torch.Tensor:
        return self._term_dones[name]

    def reset(self, env_ids: Any) -> dict[str, Any]:
        # like the real one: log counts, do not clear the term values
        return {f"Episode_Termination/{k}": int(v[env_ids].sum()) for k, v in self._term_dones.items()}
