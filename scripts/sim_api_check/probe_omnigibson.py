"""Facts about the fake omnigibson, printed as JSON (FAKE_OG_API and OMNIGIBSON_DATA_PATH set by the caller)."""

from __future__ import annotations

import json

import torch

from scripts.sim_api_check.common import runtime_signature
from vlarl_behavior import omni_config, robot

SCENE = "house_double_floor_lower"


def _config(max_steps: int) -> dict:
    return omni_config.build(
        activity="turning_on_radio", definition_id=0, instance_id=0, scene_model=SCENE,
        proprio_obs=robot.DEFAULT_PROPRIO_OBS, max_steps=max_steps, physics_frequency=120.0,
        action_frequency=30.0, rendering_frequency=30.0,
    )  # fmt: skip


def main() -> None:
    import omnigibson as og
    from omnigibson.envs import objects
    from omnigibson.macros import gm

    facts: dict = {"api": og.API, "version": og.__version__}
    facts["sig.Environment.__init__"] = runtime_signature(og.Environment.__init__)
    facts["sig.Environment.step"] = runtime_signature(og.Environment.step)
    facts["sig.Environment.reset"] = runtime_signature(og.Environment.reset)
    facts["VectorEnvironment"] = hasattr(og.envs, "VectorEnvironment")
    for name in (
        "write_task_metadata",
        "get_task_metadata",
        "update_initial_file",
        "reset",
        "dump_state",
        "load_state",
    ):
        facts[f"sig.Scene.{name}"] = runtime_signature(getattr(objects.Scene, name))
    facts["set_position_orientation.frame"] = "frame" in dict(
        (p[0], p) for p in runtime_signature(objects.Robot.set_position_orientation)
    )
    facts["macros"] = sorted(k for k in gm if k != "_read")
    gm.ENABLE_TRANSITION_RULES  # noqa: B018 - a read locks it
    try:
        gm.ENABLE_TRANSITION_RULES = False
        facts["macros_lock_after_read"] = False
    except AttributeError:
        facts["macros_lock_after_read"] = True
    cfg = _config(max_steps=2)
    if og.API == "3.7":
        vec = og.envs.VectorEnvironment(2, cfg)
        env, envs = vec.envs[0], vec.envs
        facts["robots_nested"] = isinstance(env.robots[0], list)
        facts["scope_attr"] = (
            "object_scopes"
            if hasattr(env.task, "object_scopes") and not hasattr(env.task, "object_scope")
            else "object_scope"
        )
        scene1, robot1 = envs[1].scene, envs[1].robots[0]
    else:
        cfg["env"]["num_envs"] = 2
        env = og.Environment(configs=cfg)
        facts["robots_nested"] = isinstance(env.robots[0], list)
        facts["scope_attr"] = "object_scopes"
        scene1, robot1 = env.scenes[1], env.robots[1][0]
    facts["simulator"] = sorted(
        n for n in ("step", "step_physics", "get_physics_dt", "update_handles", "is_playing") if hasattr(og.sim, n)
    )
    pose = {"R1Pro": [{"position": [1.0, 2.0, 0.0], "orientation": [0.0, 0.0, 0.0, 1.0]}]}
    scene1.write_task_metadata(key="robot_poses", data=pose)
    calls: list[int] = []
    step_physics = og.sim.step_physics
    og.sim.step_physics = lambda: (calls.append(1), step_physics())[1]
    reset = envs[1].reset() if og.API == "3.7" else env.reset(env_indices=torch.tensor([1]))
    og.sim.step_physics = step_physics
    facts["reset_second"] = sorted(reset[1]) if isinstance(reset[1], dict) else type(reset[1]).__name__
    facts["reset_physics_steps"] = len(calls)  # scene.reset() (1) + og.sim.step() (sim_step_dt / physics_dt)
    facts["presampled_pose_in_scene_frame"] = torch.allclose(
        robot1.position - scene1.origin, torch.tensor([1.0, 2.0, 0.0])
    )
    action = torch.zeros(23)
    action[22] = 1.0
    if og.API == "3.7":
        for _ in range(2):
            _obs, _r, term, trunc, info = envs[0].step(action)
    else:
        for _ in range(2):
            _obs, _r, terms, truncs, infos = env.step(torch.stack([action, action]))
        term, trunc, info = bool(terms[0]), bool(truncs[0]), infos[0]
    facts["done_keys"] = sorted(info["done"])
    facts["termination_conditions"] = sorted(info["done"]["termination_conditions"])
    facts["terminated_and_truncated"] = bool(term) and bool(trunc)  # goal 2.0 and timeout both at step 2
    facts["proprio_dims"] = objects.R1PRO_PROPRIO_DIMS
    sensor = next(iter(robot1.sensors.values()))
    sensor.image_height = sensor.image_width = 17  # resized without refreshing observation_space
    try:
        envs[1].reset() if og.API == "3.7" else env.reset(env_indices=torch.tensor([1]))
        facts["reset_checks_obs_space"] = False
    except ValueError:
        facts["reset_checks_obs_space"] = True
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
