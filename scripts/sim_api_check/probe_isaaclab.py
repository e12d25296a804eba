"""Facts about the fake isaaclab, printed as JSON (run with the fake, and a release's dist-info, on PYTHONPATH)."""

from __future__ import annotations

import importlib.util
import json
import math

from scripts.sim_api_check.common import runtime_signature


def _sig(obj: object) -> list:
    return runtime_signature(obj)


def main() -> None:
    import isaaclab
    import isaaclab.app as app

    facts: dict = {"generation": isaaclab.GENERATION, "version": isaaclab.__version__}
    facts["tasks_importable_before_launch"] = importlib.util.find_spec("isaaclab_tasks") is not None
    facts["sig.AppLauncher.__init__"] = _sig(app.AppLauncher.__init__)
    facts["has.launch_simulation"] = hasattr(app, "launch_simulation")
    if hasattr(app, "launch_simulation"):
        facts["sig.launch_simulation"] = _sig(app.launch_simulation)
        app.launch_simulation(None, {"headless": True, "enable_cameras": True, "device": "cpu"}).__enter__()
    else:
        app.AppLauncher(headless=True, enable_cameras=True, device="cpu")
    import gymnasium as gym
    import isaaclab_tasks  # noqa: F401
    import torch
    from isaaclab.envs import ManagerBasedRLEnv, ManagerBasedRLEnvCfg
    from isaaclab.envs._scene import Scene
    from isaaclab.managers import recorder_manager as rm
    from isaaclab.managers import termination_manager as tm
    from isaaclab_tasks import utils

    facts["sig.parse_env_cfg"] = _sig(utils.parse_env_cfg)
    facts["sig.load_cfg_from_registry"] = _sig(utils.load_cfg_from_registry)
    for name in ("reset", "reset_to", "step"):
        facts[f"sig.ManagerBasedEnv.{name}"] = _sig(getattr(ManagerBasedRLEnv, name))
    facts["sig.InteractiveScene.get_state"] = _sig(Scene.get_state)
    facts["sig.InteractiveScene.reset_to"] = _sig(Scene.reset_to)
    from isaaclab.envs import _ObservationManager

    facts["sig.ObservationManager.compute_group"] = _sig(_ObservationManager.compute_group)
    facts["sig.ObservationManager.compute"] = _sig(_ObservationManager.compute)
    facts["sig.TerminationManager.get_term"] = _sig(tm.TerminationManager.get_term)
    facts["sig.RecorderTerm.__init__"] = _sig(rm.RecorderTerm.__init__)
    facts["sig.RecorderTerm.record_pre_reset"] = _sig(rm.RecorderTerm.record_pre_reset)
    facts["DatasetExportMode"] = {m.name: int(m) for m in rm.DatasetExportMode}
    facts["RecorderManagerBaseCfg.dataset_export_mode"] = rm.RecorderManagerBaseCfg().dataset_export_mode.name
    base_cfg = ManagerBasedRLEnvCfg()
    facts["cfg.recorders"] = type(base_cfg.recorders).__name__
    facts["cfg.has"] = sorted(a for a in ("compute_final_obs", "seed", "episode_length_s") if hasattr(base_cfg, a))
    ids = sorted(k for k in gym.registry if "Stack-Cube-Franka-IK-Rel-Visuomotor" in k)
    facts["stack_ids"] = ids
    cams = {}
    for task_id in ids:
        cfg = utils.parse_env_cfg(task_id, device="cpu", num_envs=4)
        cams[task_id] = {
            c: [getattr(cfg.scene, c).height, getattr(cfg.scene, c).width] for c in ("table_cam", "wrist_cam")
        }
    facts["cameras"] = cams
    cfg = utils.parse_env_cfg(ids[0], device="cpu", num_envs=4)
    facts["rewards_none"] = cfg.rewards is None
    cfg.scene.table_cam.height = cfg.scene.table_cam.width = 8
    cfg.scene.wrist_cam.height = cfg.scene.wrist_cam.width = 8
    if hasattr(cfg, "compute_final_obs"):
        cfg.compute_final_obs = True
    env = gym.make(ids[0], cfg=cfg).unwrapped
    facts["termination_terms"] = env.termination_manager.active_terms
    obs, _ = env.reset(seed=0)
    facts["policy_terms"] = sorted(obs["policy"])
    grip = obs["policy"]["gripper_pos"]
    facts["gripper_pos_second_is_minus_first"] = bool(torch.allclose(grip[:, 1], -grip[:, 0]))
    half = math.sqrt(0.5)
    env.eef_quat[:] = torch.tensor([half, half, 0.0, 0.0])  # 90 deg about x, stored wxyz
    quat = env.observation_manager.compute_group("policy")["eef_quat"][0]
    facts["quat_order"] = "wxyz" if abs(float(quat[0]) - half) < 1e-6 and abs(float(quat[3])) < 1e-6 else "xyzw"
    state = env.scene.get_state(is_relative=True)
    facts["get_state_keys"] = sorted(state)
    members = torch.tensor([1, 3])
    try:
        env.reset_to(state, env_ids=members, is_relative=True)
        facts["reset_to_accepts_full_state"] = True
    except (RuntimeError, IndexError):
        facts["reset_to_accepts_full_state"] = False
    cut = {k: {n: {f: t[members] for f, t in a.items()} for n, a in v.items()} for k, v in state.items()}
    out = env.reset_to(cut, env_ids=members, is_relative=True)
    facts["reset_to_returns"] = f"tuple[{len(out)}]" if isinstance(out, tuple) else type(out).__name__
    env.goal[0] = env.eef_pos[0]
    actions = torch.zeros(4, 7)
    actions[:, 6] = 1.0
    _obs, _r, term, _t, extras = env.step(actions)
    facts["final_obs_in_extras"] = bool(term[0]) and "final_obs" in extras
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
