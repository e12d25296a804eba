"""OmniGibson (a BEHAVIOR-1K checkout) against the fake omnigibson and vlarl_behavior, in the API it has."""

from __future__ import annotations

import ast
import re
import tempfile
from pathlib import Path

from scripts.sim_api_check.common import REPO, Result, ast_signature, compare, run_probe, sig_text

FAKE = REPO / "plugins/envs/behavior/tests/fake_omnigibson"


def package_dir(src: Path) -> Path | None:
    """The ``omnigibson`` package in a checkout, its OmniGibson/ folder, or the package itself."""
    for cand in (src / "OmniGibson/omnigibson", src / "omnigibson", src):
        if (cand / "envs/env_base.py").exists():
            return cand
    return None


class Index:
    """Every def of the real package by ``Class.method`` / ``function``, with its file and source."""

    def __init__(self, pkg: Path) -> None:
        self.pkg = pkg
        self.defs: dict[str, list[tuple[Path, ast.AST, str]]] = {}
        for path in sorted(pkg.rglob("*.py")):
            text = path.read_text(encoding="utf-8", errors="replace")
            try:
                tree = ast.parse(text)
            except SyntaxError:
                continue
            self._walk(tree, "", path, text)

    def _walk(self, node: ast.AST, prefix: str, path: Path, text: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                self.defs.setdefault(name, []).append((path, child, text))
                self._walk(child, f"{name}." if isinstance(child, ast.ClassDef) else prefix, path, text)
            else:
                self._walk(child, prefix, path, text)

    def first(self, dotted: str, under: str = "") -> tuple[Path, ast.AST, str] | None:
        hits = [h for h in self.defs.get(dotted, []) if under in str(h[0].relative_to(self.pkg))]
        return hits[0] if hits else None

    def sig(self, dotted: str, under: str = "") -> list | None:
        hit = self.first(dotted, under)
        return [list(p) for p in ast_signature(hit[1])] if hit and isinstance(hit[1], ast.FunctionDef) else None

    def source(self, dotted: str, under: str = "") -> str:
        hit = self.first(dotted, under)
        return (ast.get_source_segment(hit[2], hit[1]) or "") if hit else ""

    def text(self, rel: str) -> str:
        path = self.pkg / rel
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def simulator_methods(idx: Index, names: set[str]) -> tuple[list[str], list[str], str] | None:
    """Which of ``names`` og.sim has: ``(present, inherited, bases)``, None without a ``Simulator`` class.

    ``Simulator`` subclasses Isaac Sim's ``SimulationContext``, whose source is not in the tree, so methods such as
    ``get_physics_dt`` / ``is_playing`` have no def there. The class shows that it inherits them by calling them
    on ``self`` (or ``super()``) without defining them; those count, when a base lies outside the tree.
    """
    hit = idx.first("Simulator")
    if hit is None or not isinstance(hit[1], ast.ClassDef):
        return None
    cls = hit[1]
    defined, outside = _methods(cls), []
    for base in cls.bases:
        inner = idx.first(base.id) if isinstance(base, ast.Name) else None
        if inner is not None and isinstance(inner[1], ast.ClassDef):
            defined |= _methods(inner[1])
        else:
            outside.append(ast.unparse(base))
    called = set()
    for node in ast.walk(cls):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            on_self = isinstance(owner, ast.Name) and owner.id == "self"
            on_super = isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super"
            if on_self or on_super:
                called.add(node.func.attr)
    inherited = sorted((called & names) - defined) if outside else []
    return sorted((defined & names) | set(inherited)), inherited, ", ".join(outside)


def _methods(cls: ast.ClassDef) -> set[str]:
    return {n.name for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _absent(area: str, item: str, what: str) -> Result:
    """A tree assembled file by file may lack the file a check reads: say so rather than report a mismatch."""
    return Result(area, item, "SKIP", f"{what} not in the source tree (partial checkout?)")


def _camera_names(pkg: Path, eval_utils: str) -> dict | None:
    """R1Pro camera names: ``ROBOT_CAMERA_NAMES`` (3.7, early main) or, on later main, ``get_robot_camera_names``
    over the ``eval.camera_sensor_names`` of ``eval/r1pro.yaml`` ("<robot name>::<sensor name>")."""
    cams = _dict_literal(eval_utils, "ROBOT_CAMERA_NAMES", "R1Pro")
    cfg_path = pkg / "eval/r1pro.yaml"
    if cams is None and "def get_robot_camera_names" in eval_utils and cfg_path.exists():
        import yaml

        cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8")) or {}
        sensors = (cfg.get("eval") or {}).get("camera_sensor_names") or {}
        cams = {role: f"{cfg.get('name')}::{sensor}" for role, sensor in sensors.items()} or None
    return cams


def _names(sig: list | None) -> list[str] | None:
    return None if sig is None else [p[0] for p in sig]


def _dict_literal(text: str, name: str, key: str) -> object:
    """``NAME[key]`` of a module-level dict literal, tensors / arrays read as lists; None when not literal."""

    class _Lists(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.AST:
            self.generic_visit(node)
            return node.args[0] if node.args else node

    for node in ast.parse(text).body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(t, ast.Name) and t.id == name for t in targets) and node.value is not None:
            try:
                value = ast.literal_eval(_Lists().visit(node.value))
            except (ValueError, SyntaxError):
                return None
            return value.get(key) if isinstance(value, dict) else None
    return None


def _task_keys() -> set[str]:
    from vlarl_behavior import omni_config, robot

    cfg = omni_config.build(
        activity="a", definition_id=0, instance_id=0, scene_model="s", proprio_obs=list(robot.DEFAULT_PROPRIO_OBS),
        max_steps=1, physics_frequency=120.0, action_frequency=30.0, rendering_frequency=30.0,
    )  # fmt: skip
    return set(cfg["task"]) - {"type"}


def check(src: Path | None) -> list[Result]:
    if src is None:
        return [Result("behavior", "source", "SKIP", "no OmniGibson source: pass --omnigibson-src (a BEHAVIOR-1K "
                       "checkout) or --omnigibson-ref (needs github.com)")]  # fmt: skip
    pkg = package_dir(src)
    if pkg is None:
        return [Result("behavior", "source", "SKIP", f"{src} holds no omnigibson/envs/env_base.py")]
    from vlarl_behavior import robot
    from vlarl_behavior.worker import MACROS, to_torch

    idx = Index(pkg)
    version = re.search(r'__version__ = "([^"]+)"', idx.text("__init__.py"))
    init_sig = idx.sig("Environment.__init__", "envs/env_base.py")
    api = "3.7" if init_sig and "in_vec_env" in _names(init_sig) else "main"
    area = f"omnigibson {version.group(1) if version else '?'} ({api} API)"
    with tempfile.TemporaryDirectory() as data:
        fake = run_probe("probe_omnigibson", [], [FAKE], {"FAKE_OG_API": api, "OMNIGIBSON_DATA_PATH": data})
    out: list[Result] = []
    for name in ("__init__", "step", "reset"):
        real = idx.sig(f"Environment.{name}", "envs/env_base.py")
        out.append(
            compare(area, f"signature Environment.{name}", sig_text(real), sig_text(fake[f"sig.Environment.{name}"]))
        )
    env_src = idx.text("envs/env_base.py")
    nested = "return [s.robots for s in self._scenes]" in env_src
    out.append(compare(area, "env.robots is one list per scene", nested, fake["robots_nested"], api == "main"))
    vec_text = idx.text("envs/vec_env_base.py")  # on main a leftover one still building Environment(in_vec_env=True)
    vec_usable = bool(vec_text) and ("in_vec_env" in vec_text) == (api == "3.7")
    out.append(compare(area, "og.envs.VectorEnvironment usable", vec_usable, fake["VectorEnvironment"], api == "3.7"))
    task_src = idx.source("BehaviorTask", "tasks/behavior_task.py")
    scope = "object_scopes" if re.search(r"self\.object_scopes\s*=", task_src) else "object_scope"
    out.append(compare(area, "task's BDDL object scope attribute", scope, fake["scope_attr"],
                       "object_scopes" if api == "main" else "object_scope"))  # fmt: skip
    accepted = set(_names(idx.sig("BehaviorTask.__init__", "tasks/behavior_task.py")) or [])
    unknown = sorted(_task_keys() - accepted)
    out.append(Result(area, "task config keys BehaviorTask ignores", "NOTE" if unknown else "MATCH",
                      f"{unknown} (dropped by create_class_from_registry_and_config)" if unknown else "none"))  # fmt: skip
    reset_src = idx.source("BehaviorTask.reset", "tasks/behavior_task.py")
    scene_frame = 'frame="scene"' in reset_src
    out.append(compare(area, "task reset places presampled robot pose in the scene frame", scene_frame,
                       fake["presampled_pose_in_scene_frame"],
                       note="vlarl sets use_presampled_robot_pose=False on 3.7 and places the robot itself"))  # fmt: skip
    spo = [n for k, hits in idx.defs.items() if k == "set_position_orientation" or k.endswith(".set_position_orientation")
           for _p, n, _t in hits if isinstance(n, ast.FunctionDef)]  # fmt: skip
    frame = any("frame" in (_names(ast_signature(n)) or []) for n in spo)
    item = "set_position_orientation(..., frame=)"
    if frame or (idx.pkg / "prims/xform_prim.py").exists():
        out.append(compare(area, item, frame, fake["set_position_orientation.frame"]))
    else:  # without the prims a scene-level def (no frame) is all there is
        out.append(_absent(area, item, "prims/xform_prim.py"))
    for name in (
        "write_task_metadata",
        "get_task_metadata",
        "update_initial_file",
        "reset",
        "dump_state",
        "load_state",
    ):
        real = (
            idx.sig(f"Scene.{name}", "scenes/")
            or idx.sig(f"Serializable.{name}")
            or idx.sig(f"SerializableNonInstance.{name}")
        )
        item = f"scene.{name} parameters"
        if real is None and idx.first("Serializable") is None:  # inherited from utils/python_utils.py
            out.append(_absent(area, item, f"Scene.{name} / Serializable.{name}"))
            continue
        out.append(compare(area, item, _names(real), _names(fake[f"sig.Scene.{name}"])))
    scene_reset = idx.source("Scene.reset", "scenes/")
    real_steps = int("og.sim.step_physics()" in scene_reset)
    env_reset = idx.source("Environment.reset", "envs/env_base.py")
    sim_step = "og.sim.step()" in env_reset
    out.append(compare(area, "a reset runs physics for every scene (scene.reset step_physics, env.reset og.sim.step)",
                       (real_steps, sim_step), (min(1, fake["reset_physics_steps"]), fake["reset_physics_steps"] > 1),
                       note="why vlarl saves and restores the other envs of a worker around a reset"))  # fmt: skip
    sim = simulator_methods(idx, {"step", "step_physics", "get_physics_dt", "update_handles", "is_playing"})
    if sim is not None:
        real_sim, inherited, bases = sim
        via = f"; {inherited} inherited from {bases} (called on self, not defined)" if inherited else ""
        out.append(compare(area, "og.sim methods", real_sim, fake["simulator"],
                           note=f"vlarl calls update_handles only where it exists{via}"))  # fmt: skip
    else:
        out.append(_absent(area, "og.sim methods", "a Simulator class (simulator.py)"))
    macros = idx.text("macros.py")
    out.append(compare(area, "gm refuses a change once read", "it has already been used" in macros,
                       fake["macros_lock_after_read"]))  # fmt: skip
    real_macros = sorted(m for m in MACROS if re.search(rf"\bgm\.{m}\s*=", macros))
    out.append(compare(area, "gm macros vlarl sets", real_macros, sorted(m for m in MACROS if m in fake["macros"]),
                       sorted(MACROS)))  # fmt: skip
    conv = idx.source("recursively_convert_to_torch")
    rule = "one float32 tensor per list, else left" if "th.tensor(value, dtype=th.float32)" in conv else "?"
    sample = to_torch({"a": [[1, 2], [3, 4]], "b": [{"c": [1]}]})
    ours = (
        "one float32 tensor per list, else left" if sample["a"].shape == (2, 2) and sample["b"] == [{"c": [1]}] else "?"
    )
    if conv:
        out.append(compare(area, "instance JSON -> torch (recursively_convert_to_torch)", rule, ours))
    else:
        out.append(_absent(area, "instance JSON -> torch", "recursively_convert_to_torch"))
    task_base = idx.text("tasks/task_base.py")
    keys = sorted(k for k in ("success", "termination_conditions") if f'["{k}"]' in task_base)
    out.append(compare(area, "info['done'] keys", keys, fake["done_keys"]))
    conds = sorted(
        set(re.findall(r'terminations\["(\w+)"\]', idx.source("BehaviorTask._create_termination_conditions")))
    )
    out.append(compare(area, "BehaviorTask termination conditions", conds, fake["termination_conditions"]))
    step_src = idx.source("Environment.step", "envs/env_base.py") + idx.source(
        "Environment._post_step", "envs/env_base.py"
    )
    both = bool(re.search(r"truncated\w*(\[env_idx\])? = True", step_src)) and bool(
        re.search(r"terminated\w*(\[env_idx\])? = True", step_src)
    )
    out.append(compare(area, "terminated and truncated set independently", both, fake["terminated_and_truncated"]))
    out.append(compare(area, "reset returns obs info", "obs_info" in env_reset, fake["reset_second"] == ["obs_info"]))
    out.append(compare(area, "reset checks images against observation_space",
                       "Observation space does not match" in env_src, fake["reset_checks_obs_space"]))  # fmt: skip
    eval_utils = idx.text("eval/utils/eval_utils.py") or idx.text("learning/utils/eval_utils.py")
    cams = _camera_names(pkg, eval_utils)
    out.append(compare(area, "R1Pro camera names", cams, dict(robot.CAMERAS) if cams is not None else None,
                       dict(robot.CAMERAS), note="eval_utils.ROBOT_CAMERA_NAMES or eval/r1pro.yaml"))  # fmt: skip
    return out
