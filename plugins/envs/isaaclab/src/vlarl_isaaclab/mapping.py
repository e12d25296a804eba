"""IsaacLab observation dicts -> vlarl observation batches (torch, on the env's device)."""

from __future__ import annotations

from typing import Any

import torch

from vlarl.errors import ContractError
from vlarl_isaaclab.taskdecl import TaskDecl


def axis_angle_from_wxyz(quat: torch.Tensor) -> torch.Tensor:
    """Unit quaternions [N, 4] in IsaacLab's (w, x, y, z) order -> axis-angle [N, 3] (angle in [0, pi]).

    q and -q are the same rotation, so the sign is normalised to w >= 0 first.
    """
    q = quat / quat.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    q = torch.where(q[..., :1] < 0, -q, q)
    w, xyz = q[..., :1].clamp(-1.0, 1.0), q[..., 1:]
    sin_half = xyz.norm(dim=-1, keepdim=True)
    angle = 2.0 * torch.atan2(sin_half, w)
    scale = torch.where(sin_half > 1e-8, angle / sin_half.clamp_min(1e-12), torch.full_like(sin_half, 2.0))
    return xyz * scale


def axis_angle(quat: torch.Tensor, order: str) -> torch.Tensor:
    """Quaternions [N, 4] in ``order`` (``wxyz`` or ``xyzw``) -> axis-angle [N, 3]."""
    if order == "xyzw":
        quat = quat[..., [3, 0, 1, 2]]
    elif order != "wxyz":
        raise ValueError(f"quaternion order must be 'wxyz' or 'xyzw', got {order!r}")
    return axis_angle_from_wxyz(quat)


def _quat_order(how: str, installed: str) -> str | None:
    """The order a state transform reads its quaternion in (None: not a quaternion transform)."""
    if how == "axis_angle":
        return installed
    return how.removeprefix("axis_angle_") if how.startswith("axis_angle_") else None


def _image(x: torch.Tensor, term: str) -> torch.Tensor:
    """[N, H, W, 3] (uint8, or float in [0, 255] / [0, 1]) -> uint8 [N, 3, H, W]."""
    if x.ndim != 4 or x.shape[-1] not in (3, 4):
        raise ContractError(
            f"Observation term '{term}' has shape {tuple(x.shape)}, expected [N, H, W, 3].", "Map an rgb camera term."
        )
    x = x[..., :3]
    if x.dtype != torch.uint8:
        x = x.float()
        if x.numel() and float(x.max()) <= 1.0:
            x = x * 255.0
        x = x.round().clamp(0, 255).to(torch.uint8)
    return x.permute(0, 3, 1, 2).contiguous()


def _term(group: dict[str, Any], name: str, decl: TaskDecl) -> torch.Tensor:
    if name not in group:
        raise ContractError(
            f"Task {decl.id}: observation group '{decl.obs_group}' has no term '{name}' (terms: {sorted(group)}).",
            "Fix the task declaration's observation mapping (image_term, wrist_image_term, state_terms).",
        )
    return group[name]


def map_observation(obs: dict[str, Any], decl: TaskDecl, description: str, quat_order: str = "wxyz") -> dict[str, Any]:
    """Build {images, wrist_images, states, task_descriptions} from ``obs[decl.obs_group]``.

    ``quat_order`` is the installed IsaacLab's quaternion order, read by the ``axis_angle`` transform.
    """
    if decl.obs_group not in obs:
        raise ContractError(
            f"Task {decl.id}: the env returned observation groups {sorted(obs)}, not '{decl.obs_group}'.",
            "Set obs_group in the task declaration.",
        )
    group = obs[decl.obs_group]
    out: dict[str, Any] = {}
    if decl.image_term:
        out["images"] = _image(_term(group, decl.image_term, decl), decl.image_term)
    if decl.wrist_image_term:
        out["wrist_images"] = _image(_term(group, decl.wrist_image_term, decl), decl.wrist_image_term)
    parts = []
    for name, how in decl.state_terms:
        x = _term(group, name, decl).float()
        x = x.reshape(x.shape[0], -1)
        order = _quat_order(how, quat_order)
        parts.append(x if order is None else axis_angle(x, order))
    if parts:
        out["states"] = torch.cat(parts, dim=1).to(torch.float32)
    n = next(iter(out.values())).shape[0] if out else 0
    out["task_descriptions"] = [description] * n
    return out


def take_rows(obs: dict[str, Any], ids: torch.Tensor) -> dict[str, Any]:
    idx = ids.tolist()
    return {k: ([v[i] for i in idx] if k == "task_descriptions" else v[ids]) for k, v in obs.items()}


def put_rows(target: dict[str, Any], ids: torch.Tensor, source: dict[str, Any]) -> None:
    for k, v in source.items():
        if k == "task_descriptions":
            for j, i in enumerate(ids.tolist()):
                target[k][i] = v[j]
        else:
            target[k][ids] = v


def clone_obs(obs: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if k == "task_descriptions" else v.clone()) for k, v in obs.items()}
