"""Architecture config of GR00T N1.5, in the layout of the official ``config.json``.

The official file nests ``backbone_cfg`` and ``action_head_cfg``; keys it leaves out take the official
constructors' defaults (:mod:`vlarl_gr00t.official_defaults`), as ``GR00T_N1_5(config)`` would. The Eagle 2.5
vision/text sub-configs are not in official files (upstream always reads the vendored
``eagle2_hg_model/config.json``): a checkpoint may carry them under a top-level ``eagle_cfg``, which is
honoured (missing keys take ``Eagle2_5_VLConfig``'s defaults); without one the vendored N1.5 values are used.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from vlarl.errors import ConfigError
from vlarl_gr00t import official_defaults as od
from vlarl_gr00t.presets import PRESETS


def _required(section: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    missing = [k for k in keys if section.get(k) is None]
    if missing:
        raise ConfigError(
            f"{where} lacks {missing}; the official GR00T N1.5 constructors have no usable default for them.",
            "Use the config.json shipped with the checkpoint (it has every one of them).",
        )


def _eagle(raw: dict[str, Any] | None) -> dict[str, Any]:
    eagle = copy.deepcopy(raw) if raw is not None else copy.deepcopy(od.EAGLE_VENDORED)
    out = {**copy.deepcopy(od.EAGLE_CONFIG), **eagle}
    vision_type = out["vision_config"].get("model_type", "siglip_vision_model")
    if vision_type != "siglip_vision_model":
        raise ConfigError(
            f"eagle_cfg.vision_config.model_type={vision_type!r} is not supported.",
            "GR00T N1.5 uses SigLIP ('siglip_vision_model').",
        )
    if out["image_token_index"] is None:
        raise ConfigError("eagle_cfg has no image_token_index.", "Add the id of <IMG_CONTEXT> (151669 in N1.5).")
    return out


def resolve(raw: dict[str, Any], where: str = "config.json") -> dict[str, Any]:
    """Fill every key the official constructors would default; raise on keys they would fail without."""
    for key in ("backbone_cfg", "action_head_cfg"):
        if not isinstance(raw.get(key), dict):
            raise ConfigError(
                f"{where} has no '{key}' section; it is not a GR00T-N1.5 config.",
                "Use the config.json shipped with the checkpoint.",
            )
    cfg = copy.deepcopy(raw)
    backbone = {**od.BACKBONE, **cfg["backbone_cfg"]}
    if backbone["reproject_vision"]:
        raise ConfigError(
            f"{where}: backbone_cfg.reproject_vision is true; the official EagleBackbone asserts it is false.",
            "Set it to false.",
        )
    if backbone["select_layer"] is None or backbone["select_layer"] < 0:
        raise ConfigError(
            f"{where}: backbone_cfg.select_layer={backbone['select_layer']}; the official EagleBackbone keeps the "
            "first select_layer LLM layers and fails for a negative value (its default is -1).",
            "Set select_layer to the number of LLM layers to keep (12 in GR00T-N1.5-3B).",
        )
    head = {**od.ACTION_HEAD, **cfg["action_head_cfg"]}
    _required(head, od.REQUIRED["action_head_cfg"], f"{where}: action_head_cfg")
    head["diffusion_model_cfg"] = {**od.DIT, **head["diffusion_model_cfg"]}
    if head["use_vlln"]:
        _required(head, ("vl_self_attention_cfg",), f"{where}: action_head_cfg (use_vlln is true)")
        head["vl_self_attention_cfg"] = {**od.VL_SELF_ATTENTION, **head["vl_self_attention_cfg"]}
    cfg["backbone_cfg"], cfg["action_head_cfg"] = backbone, head
    cfg["eagle_cfg"] = _eagle(cfg.get("eagle_cfg"))
    cfg.setdefault("compute_dtype", "float32")
    return cfg


def preset(name: str) -> dict[str, Any]:
    if name not in PRESETS:
        raise ConfigError(
            f"Unknown GR00T preset '{name}'.", f"Use one of: {', '.join(PRESETS)}, or set checkpoint_path."
        )
    return resolve(PRESETS[name], f"preset '{name}'")


def read_config_json(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint's ``config.json`` and resolve it with the official defaults."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(
            f"GR00T checkpoint config {p} does not exist.",
            "Point checkpoint_path at a GR00T-N1.5 checkpoint directory.",
        )
    try:
        raw = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{p} is not valid JSON: {exc}", "Restore the checkpoint's config.json.") from exc
    return resolve(raw, str(p))


def head_cfg(cfg: dict[str, Any]) -> dict[str, Any]:
    return cfg["action_head_cfg"]
