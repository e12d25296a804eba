"""IsaacLab: an unpacked PyPI wheel (2.3.x or 3.0.x) against the fake isaaclab and vlarl_isaaclab."""

from __future__ import annotations

import ast
import email
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import SpecifierSet

from scripts.sim_api_check.common import (
    REPO,
    Result,
    body_source,
    compare,
    find_def,
    has,
    parse,
    real_signature,
    run_probe,
    sig_text,
)

FAKE = REPO / "plugins/envs/isaaclab/tests/fake_isaaclab"
PYTHONS = ((3, 10), (3, 11), (3, 12))


@dataclass(frozen=True)
class Wheel:
    root: Path
    version: str
    requires_python: str

    @property
    def v2_layout(self) -> bool:
        """2.3: the framework and isaaclab_tasks live under isaaclab/source/ (Kit extensions)."""
        return not (self.root / "isaaclab_tasks").is_dir()

    @property
    def core(self) -> Path:
        return self.root / "isaaclab/source/isaaclab/isaaclab" if self.v2_layout else self.root / "isaaclab"

    @property
    def tasks(self) -> Path:
        return (
            self.root / "isaaclab/source/isaaclab_tasks/isaaclab_tasks"
            if self.v2_layout
            else self.root / "isaaclab_tasks"
        )

    @property
    def stack(self) -> Path:
        for rel in ("manager_based/manipulation/stack", "contrib/stack"):
            if (self.tasks / rel).is_dir():
                return self.tasks / rel
        return self.tasks / "contrib/stack"


def unpack(wheel: Path, into: Path) -> Wheel:
    target = into / wheel.stem
    with zipfile.ZipFile(wheel) as z:
        z.extractall(target)
    meta = next(target.glob("isaaclab-*.dist-info/METADATA"))
    msg = email.message_from_string(meta.read_text(encoding="utf-8"))
    return Wheel(target, msg["Version"], msg.get("Requires-Python", ""))


# ---------------------------------------------------------------------- real facts
def _class_fields(path: Path, cls: str) -> list[str]:
    node = find_def(parse(path), cls) if path.exists() else None
    if not isinstance(node, ast.ClassDef):
        return []
    names = []
    for stmt in node.body:
        targets = (
            stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
        )
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def _class_value(path: Path, cls: str, field: str) -> ast.expr | None:
    node = find_def(parse(path), cls) if path.exists() else None
    for stmt in node.body if isinstance(node, ast.ClassDef) else []:
        target = (
            stmt.target
            if isinstance(stmt, ast.AnnAssign)
            else stmt.targets[0]
            if isinstance(stmt, ast.Assign)
            else None
        )
        if isinstance(target, ast.Name) and target.id == field:
            return stmt.value
    return None


def _alias(path: Path, name: str) -> str:
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.ImportFrom):
            for a in node.names:
                if a.asname == name:
                    return a.name
    return name


def _cameras(path: Path) -> dict[str, list[int]]:
    """Last ``self.scene.<cam> = CameraCfg(height=..., width=...)`` per camera in a cfg file."""
    out: dict[str, list[int]] = {}
    for node in ast.walk(parse(path)) if path.exists() else []:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Attribute):
            name = node.targets[0].attr
            if name in ("table_cam", "wrist_cam") and isinstance(node.value, ast.Call):
                kw = {k.arg: k.value for k in node.value.keywords}
                if "height" in kw and "width" in kw:
                    out[name] = [ast.literal_eval(kw["height"]), ast.literal_eval(kw["width"])]
    return out


def _state_keys(path: Path) -> list[str]:
    return sorted(set(re.findall(r'(?<!\w)state\["(\w+)"\] = ', body_source(path, "InteractiveScene.get_state"))))


def _returns(path: Path, dotted: str) -> str:
    node = find_def(parse(path), dotted)
    rets = [n for n in ast.walk(node) if isinstance(n, ast.Return) and n.value is not None] if node else []
    if not rets:
        return "None"
    value = rets[-1].value
    return f"tuple[{len(value.elts)}]" if isinstance(value, ast.Tuple) else type(value).__name__


def _pythons(spec: str) -> set[tuple[int, int]]:
    s = SpecifierSet(spec)
    return {p for p in PYTHONS if s.contains(f"{p[0]}.{p[1]}.0")}


def _sig(wheel: Wheel, rel: str, dotted: str, *more: tuple[str, str]) -> list | None:
    for path_rel, name in ((rel, dotted), *more):
        sig = real_signature(
            wheel.core / path_rel if not path_rel.startswith("tasks:") else wheel.tasks / path_rel[6:], name
        )
        if sig is not None:
            return [list(p) for p in sig]
    return None


SIGNATURES = (
    ("AppLauncher.__init__", "app/app_launcher.py", "AppLauncher.__init__", ()),
    ("parse_env_cfg", "tasks:utils/parse_cfg.py", "parse_env_cfg", ()),
    ("load_cfg_from_registry", "tasks:utils/parse_cfg.py", "load_cfg_from_registry", ()),
    ("ManagerBasedEnv.reset", "envs/manager_based_rl_env.py", "ManagerBasedRLEnv.reset",
     (("envs/manager_based_env.py", "ManagerBasedEnv.reset"),)),
    ("ManagerBasedEnv.reset_to", "envs/manager_based_rl_env.py", "ManagerBasedRLEnv.reset_to",
     (("envs/manager_based_env.py", "ManagerBasedEnv.reset_to"),)),
    ("ManagerBasedEnv.step", "envs/manager_based_rl_env.py", "ManagerBasedRLEnv.step", ()),
    ("InteractiveScene.get_state", "scene/interactive_scene.py", "InteractiveScene.get_state", ()),
    ("InteractiveScene.reset_to", "scene/interactive_scene.py", "InteractiveScene.reset_to", ()),
    ("ObservationManager.compute_group", "managers/observation_manager.py", "ObservationManager.compute_group", ()),
    ("ObservationManager.compute", "managers/observation_manager.py", "ObservationManager.compute", ()),
    ("TerminationManager.get_term", "managers/termination_manager.py", "TerminationManager.get_term", ()),
    ("RecorderTerm.__init__", "managers/recorder_manager.py", "RecorderTerm.__init__", ()),
    ("RecorderTerm.record_pre_reset", "managers/recorder_manager.py", "RecorderTerm.record_pre_reset", ()),
)  # fmt: skip


def check_wheel(wheel: Wheel, work: Path) -> list[Result]:
    from vlarl_isaaclab import versions
    from vlarl_isaaclab.register import vlarl_isaaclab_tasks

    area = f"isaaclab {wheel.version}"
    gen = 3 if int(wheel.version.split(".")[0]) >= 3 else 2
    meta = work / f"meta-{wheel.version}"
    info = meta / f"isaaclab-{wheel.version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: isaaclab\nVersion: {wheel.version}\n")
    extra = [] if wheel.v2_layout else [FAKE / "isaaclab/source/isaaclab_tasks"]  # 3.0: isaaclab_tasks top-level
    fake = run_probe("probe_isaaclab", [], [meta, FAKE, *extra])
    out: list[Result] = []
    core, stack = wheel.core, wheel.stack
    for label, rel, dotted, more in SIGNATURES:
        real = _sig(wheel, rel, dotted, *more)
        out.append(compare(area, f"signature {label}", sig_text(real), sig_text(fake.get(f"sig.{label}"))))
    real_ls = _sig(wheel, "app/sim_launcher.py", "launch_simulation")
    out.append(compare(area, "launch_simulation", sig_text(real_ls) if real_ls else "absent",
                       sig_text(fake["sig.launch_simulation"]) if fake["has.launch_simulation"] else "absent",
                       note="vlarl launches with it on 3.x, with AppLauncher on 2.x"))  # fmt: skip
    install = versions.IsaacLabInstall(version=wheel.version, location=wheel.root / "isaaclab")
    out.append(compare(area, "release line", gen, fake["generation"], install.generation))
    top_tasks = (wheel.root / "isaaclab_tasks/__init__.py").exists()
    out.append(compare(area, "isaaclab_tasks importable before launch", top_tasks,
                       fake["tasks_importable_before_launch"]))  # fmt: skip
    accepted = top_tasks or install.tasks_present()
    out.append(compare(area, "start-up check accepts the wheel's isaaclab_tasks", True, True, accepted,
                       note="Kit extension under isaaclab/source/" if not top_tasks else "top-level package"))  # fmt: skip
    allowed = set(versions.pythons_for(install))
    wheel_py = _pythons(wheel.requires_python)
    out.append(compare(area, "Python (wheel's Requires-Python within the plugin's)", True, True, wheel_py <= allowed,
                       note=f"wheel {wheel.requires_python!r}, plugin {sorted(allowed)}"))  # fmt: skip
    changelog = wheel.root / "isaaclab/source/isaaclab/docs/CHANGELOG.rst"
    quat = "xyzw" if has(changelog, r"quaternion ordering to match .*XYZW") else "wxyz"
    out.append(compare(area, "quaternion order of observations", quat, fake["quat_order"], install.quat_order))
    ids = sorted(i for i in re.findall(r'id="([^"]+)"', (stack / "config/franka/__init__.py").read_text())
                 if i.endswith(("Visuomotor", "Visuomotor-v0", "Visuomotor-Cosmos", "Visuomotor-Cosmos-v0")))  # fmt: skip
    declared = {n for d in vlarl_isaaclab_tasks() for n in (d.id, *d.aliases)}
    out.append(compare(area, "stack-cube visuomotor task ids", ids, fake["stack_ids"], sorted(set(ids) & declared)))
    cfgs = stack / "config/franka"
    for task_id, fname in zip(
        sorted(ids), ("stack_ik_rel_visuomotor_env_cfg.py", "stack_ik_rel_visuomotor_cosmos_env_cfg.py")
    ):
        real = {**_cameras(cfgs / "stack_ik_rel_visuomotor_env_cfg.py"), **_cameras(cfgs / fname)}
        out.append(compare(area, f"camera sizes {task_id}", real, fake["cameras"].get(task_id)))
    terms = set(_class_fields(cfgs / "stack_ik_rel_visuomotor_env_cfg.py", "PolicyCfg"))
    used = {"eef_pos", "eef_quat", "gripper_pos", "table_cam", "wrist_cam"}
    out.append(compare(area, "policy terms vlarl maps", sorted(used & terms), sorted(used & set(fake["policy_terms"])),
                       sorted(used)))  # fmt: skip
    real_terms = _class_fields(stack / "stack_env_cfg.py", "TerminationsCfg")
    out.append(compare(area, "termination terms", real_terms, fake["termination_terms"]))
    out.append(compare(area, "stack cfg has no reward terms", has(stack / "stack_env_cfg.py", r"\n\s+rewards = None"),
                       fake["rewards_none"]))  # fmt: skip
    grip = body_source(stack / "mdp/observations.py", "gripper_pos")
    out.append(compare(area, "gripper_pos is (j1, -j2)", "-1 * robot.data.joint_pos" in grip,
                       fake["gripper_pos_second_is_minus_first"]))  # fmt: skip
    rec = core / "managers/recorder_manager.py"
    members = {t.targets[0].id: ast.literal_eval(t.value) for t in find_def(parse(rec), "DatasetExportMode").body
               if isinstance(t, ast.Assign)}  # fmt: skip
    out.append(compare(area, "DatasetExportMode", members, fake["DatasetExportMode"]))
    mode = _class_value(rec, "RecorderManagerBaseCfg", "dataset_export_mode")
    out.append(compare(area, "RecorderManagerBaseCfg.dataset_export_mode default",
                       ast.unparse(mode).split(".")[-1] if mode else None, fake["RecorderManagerBaseCfg.dataset_export_mode"]))  # fmt: skip
    env_cfg = core / "envs/manager_based_env_cfg.py"
    rec_default = _class_value(env_cfg, "ManagerBasedEnvCfg", "recorders")
    real_rec = _alias(env_cfg, rec_default.func.id) if isinstance(rec_default, ast.Call) else None
    out.append(compare(area, "env cfg default recorders", real_rec, fake["cfg.recorders"]))
    fields = set(_class_fields(env_cfg, "ManagerBasedEnvCfg")) | set(
        _class_fields(core / "envs/manager_based_rl_env_cfg.py", "ManagerBasedRLEnvCfg")
    )
    wanted = {"compute_final_obs", "seed", "episode_length_s"}
    out.append(compare(area, "env cfg fields vlarl sets", sorted(wanted & fields), fake["cfg.has"]))
    out.append(compare(area, "step writes extras['final_obs']",
                       'self.extras["final_obs"]' in body_source(core / "envs/manager_based_rl_env.py", "ManagerBasedRLEnv.step"),
                       fake["final_obs_in_extras"]))  # fmt: skip
    out.append(compare(area, "reset_to returns", _returns(core / "envs/manager_based_env.py", "ManagerBasedEnv.reset_to"),
                       fake["reset_to_returns"]))  # fmt: skip
    scene_reset = body_source(core / "scene/interactive_scene.py", "InteractiveScene.reset_to")
    rows_cut = "self.env_origins[env_ids]" in scene_reset and not re.search(
        r"asset_state\[[^]]+\]\[env_ids\]", scene_reset
    )
    out.append(compare(area, "scene.reset_to wants the state cut to env_ids", rows_cut,
                       not fake["reset_to_accepts_full_state"]))  # fmt: skip
    real_keys = _state_keys(core / "scene/interactive_scene.py")
    out.append(compare(area, "get_state groups", real_keys, [k for k in real_keys if k in fake["get_state_keys"]],
                       note=f"fake has {fake['get_state_keys']}"))  # fmt: skip
    return out


def check(wheels: list[Path]) -> list[Result]:
    out: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in wheels:
            wheel = unpack(path, Path(tmp))
            out += check_wheel(wheel, Path(tmp))
    return out
