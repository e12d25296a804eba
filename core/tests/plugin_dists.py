"""Write fake installed distributions (dist-info + module) into a directory on sys.path."""

from __future__ import annotations

import textwrap
from pathlib import Path

REGISTER_TEMPLATE = """
import vlarl
from dataclasses import dataclass

@dataclass
class Cfg:
    size: int = 1

@vlarl.hookimpl
def vlarl_register():
    return [vlarl.PluginSpec(kind={kind!r}, name={name!r}, factory="toys:LineEnv", description="test plugin",
                             config=Cfg, requirements={requirements})]
"""


def write_dist(root: Path, dist: str, module: str, group: str, ep_name: str, body: str) -> None:
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{ep_name} = {module}\n")
    (root / f"{module}.py").write_text(textwrap.dedent(body))


def write_plugin(root: Path, dist: str, module: str, kind: str, name: str, requirements: str = "()") -> None:
    group = {"env": "vlarl.envs", "policy": "vlarl.policies", "algo": "vlarl.algos"}[kind]
    write_dist(
        root, dist, module, group, name, REGISTER_TEMPLATE.format(kind=kind, name=name, requirements=requirements)
    )
