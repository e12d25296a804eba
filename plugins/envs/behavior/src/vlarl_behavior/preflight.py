"""Checks run in the parent before any worker is spawned: packages, paths, the GPU and its driver."""

from __future__ import annotations

import re
import shutil
import subprocess

from vlarl.errors import PluginError
from vlarl_behavior.register import REQUIREMENTS

# Datacenter GPUs without RT cores: Isaac Sim runs on them but its RTX renderer gives garbage-quality images.
_NO_RT_CORES = re.compile(r"\b(A100|A800|A30|H100|H800|H200|H20|GH200|B100|B200|GB200|V100|P100)\b", re.I)
# Hopper and Blackwell need a newer driver than Isaac Sim 4.5's general minimum.
_NEEDS_570 = re.compile(r"\b(H100|H800|H200|H20|GH200|B100|B200|GB200|RTX 50\d0|RTX PRO)\b", re.I)
MIN_DRIVER = (535, 129)
MIN_DRIVER_NEW_GPUS = (570, 0)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def query_gpus() -> list[tuple[str, str]]:
    """(name, driver version) of every GPU nvidia-smi lists."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    rows = []
    for line in out.splitlines():
        if "," in line:
            name, driver = (p.strip() for p in line.rsplit(",", 1))
            rows.append((name, driver))
    return rows


def gpu_problems(gpu_id: int | None, allow_non_rtx: bool) -> list[str]:
    gpus = query_gpus()
    if not gpus:
        return ["no NVIDIA GPU listed by nvidia-smi; fix: run on a machine with an RTX-class NVIDIA GPU"]
    if gpu_id is not None and not 0 <= gpu_id < len(gpus):
        return [f"env.gpu_id={gpu_id} but nvidia-smi lists {len(gpus)} GPU(s); fix: set env.gpu_id below {len(gpus)}"]
    name, driver = gpus[gpu_id or 0]
    problems = []
    need = MIN_DRIVER_NEW_GPUS if _NEEDS_570.search(name) else MIN_DRIVER
    if _version(driver) < need:
        problems.append(
            f"NVIDIA driver {driver} on {name} is older than the {'.'.join(map(str, need))} Isaac Sim needs; "
            "fix: upgrade the NVIDIA driver"
        )
    if _NO_RT_CORES.search(name) and not allow_non_rtx:
        problems.append(
            f"{name} has no RT cores, so Isaac Sim's renderer produces blurred, blocky camera images; "
            "fix: use an RTX-class GPU (L40S, RTX 4090, RTX 6000 Ada...) or set env.allow_non_rtx_gpu=true"
        )
    return problems


def check(gpu_id: int | None, allow_non_rtx: bool) -> None:
    """Raise one PluginError naming everything missing, before anything is spawned."""
    lines = [f"{r.missing()}; fix: {r.fix}" for r in REQUIREMENTS if r.missing() is not None]
    if not any(r.kind == "command" and r.missing() for r in REQUIREMENTS):
        lines += gpu_problems(gpu_id, allow_non_rtx)
    if lines:
        raise PluginError(
            "The env 'behavior' (OmniGibson on Isaac Sim) cannot start; missing:\n"
            + "\n".join(f"- {x}" for x in lines),
            "Install or set what is listed above, then check with 'vlarl doctor'.",
        )
