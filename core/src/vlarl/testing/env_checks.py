"""Conformance checks for chunked vectorized envs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from vlarl.contracts.env import EPISODE_METRICS, GROUP_SIZE_OPTION, ChunkedVectorEnv
from vlarl.contracts.observation import ObsBatch
from vlarl.contracts.spaces import ActionSpec, ObservationSpec
from vlarl.runner.rollout import random_actions
from vlarl.testing.report import Report, SkipCheck, expect


def _np(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def check_obs(obs: ObsBatch, spec: ObservationSpec, n: int, what: str = "observation") -> None:
    expect(isinstance(obs, dict), f"{what} must be a dict, got {type(obs).__name__}")
    descs = obs.get("task_descriptions")
    expect(isinstance(descs, list) and len(descs) == n, f"{what}['task_descriptions'] must be a list of {n} strings")
    expect(all(isinstance(d, str) and d for d in descs), f"{what}['task_descriptions'] must be non-empty strings")
    for key in ("images", "wrist_images", "states", *spec.extra):
        shape = spec.shape(key)
        if shape is None:
            expect(key not in obs, f"{what} has '{key}' that the observation_spec does not declare")
            continue
        expect(key in obs, f"{what} lacks '{key}' declared by the observation_spec")
        arr = _np(obs[key])
        expect(arr.shape == (n, *shape), f"{what}['{key}'] shape {arr.shape} != {(n, *shape)}")
        if key in ("images", "wrist_images"):
            expect(arr.dtype == np.uint8, f"{what}['{key}'] dtype {arr.dtype} != uint8")
            expect(shape[-3] == 3, f"{what}['{key}'] must be channels-first [.., 3, H, W], got per-env shape {shape}")
        else:
            expect(arr.dtype == np.float32, f"{what}['{key}'] dtype {arr.dtype} != float32")
            expect(np.isfinite(arr).all(), f"{what}['{key}'] has NaN or inf")


def _check_specs(env: ChunkedVectorEnv) -> str:
    expect(isinstance(env.num_envs, int) and env.num_envs > 0, f"num_envs must be a positive int, got {env.num_envs!r}")
    expect(isinstance(env.observation_spec, ObservationSpec), "observation_spec must be a vlarl ObservationSpec")
    expect(isinstance(env.action_spec, ActionSpec), "action_spec must be a vlarl ActionSpec")
    expect(env.action_spec.dim > 0, "action_spec has no dims")
    expect(bool(np.all(env.action_spec.low <= env.action_spec.high)), "action_spec has low > high")
    names = env.action_spec.names
    expect(len(set(names)) == len(names), f"action dim names are not unique: {names}")
    if env.action_spec.gripper != "none":
        expect(bool(env.action_spec.gripper_indices), "a gripper convention is declared but no dim has kind='gripper'")
    expect(
        isinstance(env.max_episode_steps, int) and env.max_episode_steps > 0, "max_episode_steps must be a positive int"
    )
    return f"N={env.num_envs}, A={env.action_spec.dim}, obs={env.observation_spec.keys}"


def _check_chunk(step: Any, n: int, c: int, spec: ObservationSpec) -> None:
    rewards, terms, truncs, valid = (_np(step.rewards), _np(step.terminations), _np(step.truncations), _np(step.valid))
    for name, arr in (("rewards", rewards), ("terminations", terms), ("truncations", truncs), ("valid", valid)):
        expect(arr.shape == (n, c), f"{name} shape {arr.shape} != {(n, c)}")
    expect(rewards.dtype == np.float32, f"rewards dtype {rewards.dtype} != float32")
    for name, arr in (("terminations", terms), ("truncations", truncs), ("valid", valid)):
        expect(arr.dtype == np.bool_, f"{name} dtype {arr.dtype} != bool")
    expect(np.isfinite(rewards).all(), "rewards have NaN or inf")
    expect(valid[:, 0].all(), "valid[:, 0] must be True: every sub-env executes the first sub-step of a chunk")
    ended = terms | truncs
    for i in range(n):
        ends = np.flatnonzero(ended[i])
        last = ends[0] if ends.size else c - 1
        expect(
            ends.size <= 1,
            f"sub-env {i} ended twice in one chunk (sub-steps {ends.tolist()}); reset only at the chunk boundary",
        )
        expect(
            valid[i, : last + 1].all() and not valid[i, last + 1 :].any(),
            f"sub-env {i}: valid {valid[i].tolist()} must be True up to the end of its episode and False after",
        )
        expect((rewards[i, last + 1 :] == 0).all(), f"sub-env {i}: rewards after the episode ended must be 0")
    infos = step.infos
    for key in ("done", "episode", "final_observation"):
        expect(key in infos, f"infos lacks '{key}'")
    done = _np(infos["done"])
    expect(done.shape == (n,) and done.dtype == np.bool_, f"infos['done'] must be bool [{n}]")
    expect((done == ended.any(axis=1)).all(), "infos['done'] must equal (terminations | truncations).any(axis=1)")
    for key in EPISODE_METRICS:
        expect(key in infos["episode"], f"infos['episode'] lacks '{key}'")
        expect(_np(infos["episode"][key]).shape == (n,), f"infos['episode']['{key}'] must have shape [{n}]")
    check_obs(infos["final_observation"], spec, n, "infos['final_observation']")
    check_obs(step.observations, spec, n)


def _episode_bookkeeping(make_env: Callable[[], ChunkedVectorEnv], chunk_len: int, max_chunks: int, seed: int) -> str:
    env = make_env()
    try:
        n = env.num_envs
        rng = np.random.default_rng(seed)
        env.reset(seed=seed)
        steps = np.zeros(n, dtype=np.int64)
        returns = np.zeros(n, dtype=np.float64)
        episodes = 0
        for _ in range(max_chunks):
            step = env.chunk_step(random_actions(env, chunk_len, rng))
            _check_chunk(step, n, chunk_len, env.observation_spec)
            valid, rewards = _np(step.valid), _np(step.rewards)
            steps += valid.sum(axis=1)
            returns += (rewards * valid).sum(axis=1)
            done = _np(step.infos["done"])
            ep = step.infos["episode"]
            for i in np.flatnonzero(done):
                expect(
                    int(_np(ep["episode_len"])[i]) == steps[i],
                    f"sub-env {i}: episode_len {_np(ep['episode_len'])[i]} != {steps[i]} valid sub-steps counted since its reset",
                )
                expect(
                    np.isclose(float(_np(ep["return"])[i]), returns[i], atol=1e-4),
                    f"sub-env {i}: return {_np(ep['return'])[i]} != sum of its rewards {returns[i]}",
                )
                expect(
                    steps[i] <= env.max_episode_steps,
                    f"sub-env {i}: episode of {steps[i]} steps exceeds max_episode_steps={env.max_episode_steps}",
                )
                if bool(_np(ep["success_at_end"])[i]):
                    expect(bool(_np(ep["success_once"])[i]), f"sub-env {i}: success_at_end without success_once")
            steps[done] = 0
            returns[done] = 0.0
            episodes += int(done.sum())
            if episodes >= 2:
                break
        if episodes == 0:
            raise SkipCheck(f"no episode ended within {max_chunks} chunks of {chunk_len} random actions")
        return f"{episodes} episode(s) ended; lengths and returns match the step counts"
    finally:
        env.close()


def _same_obs(a: ObsBatch, b: ObsBatch, rows_a: Any = slice(None), rows_b: Any = slice(None)) -> bool:
    for key in ("states", "images", "wrist_images"):
        if key in a and not np.array_equal(_np(a[key])[rows_a], _np(b[key])[rows_b]):
            return False
    return True


def _determinism(make_env: Callable[[], ChunkedVectorEnv], chunk_len: int, seed: int) -> str:
    runs = []
    for _ in range(2):
        env = make_env()
        try:
            rng = np.random.default_rng(seed)
            obs, _ = env.reset(seed=seed)
            traj = [obs]
            for _ in range(2):
                step = env.chunk_step(random_actions(env, chunk_len, rng))
                traj.append(step.observations)
                traj.append({"states": _np(step.rewards)})
            runs.append(traj)
        finally:
            env.close()
    for i, (a, b) in enumerate(zip(*runs)):
        expect(_same_obs(a, b), f"two envs reset with seed={seed} and fed the same actions diverge at record {i}")
    return f"identical observations and rewards over 2 chunks at seed={seed}"


def _group_reset(env: ChunkedVectorEnv, seed: int) -> str:
    n = env.num_envs
    if n < 2 or n % 2:
        raise SkipCheck("needs an even num_envs >= 2")
    obs, _ = env.reset(seed=seed, options={GROUP_SIZE_OPTION: 2})
    for g in range(n // 2):
        expect(
            _same_obs(obs, obs, 2 * g, 2 * g + 1),
            f"group {g}: sub-envs {2 * g} and {2 * g + 1} do not share an initial state under group_size=2",
        )
    return "members of each group of 2 share their initial observation"


def _gym_view(env: ChunkedVectorEnv, seed: int) -> str:
    from vlarl.envs.gym_view import GymVectorEnvView

    view = GymVectorEnvView(env)
    obs, _ = view.reset(seed=seed)
    expect(set(obs) == set(view.single_observation_space.spaces), "VectorEnv view reset keys differ from its space")
    _, rewards, terms, _truncs, _ = view.step(view.action_space.sample())
    expect(rewards.shape == (env.num_envs,) and terms.shape == (env.num_envs,), "VectorEnv view step shapes are wrong")
    return "reset and one step through gymnasium's VectorEnv API"


def _bad_action(env: ChunkedVectorEnv, chunk_len: int) -> str:
    env.reset(seed=0)
    bad = np.zeros((env.num_envs, chunk_len, env.action_spec.dim + 1), dtype=np.float32)
    try:
        env.chunk_step(bad)
    except Exception as exc:  # any clear error is fine; silently accepting is not
        return f"rejected with {type(exc).__name__}"
    raise AssertionError(f"an action of width {env.action_spec.dim + 1} (spec: {env.action_spec.dim}) was accepted")


def check_env(
    make_env: Callable[[], ChunkedVectorEnv],
    chunk_len: int = 4,
    seed: int = 0,
    max_chunks: int = 200,
    determinism: bool = True,
    name: str = "env",
) -> Report:
    """Check an env against the chunked vectorized env contract.

    ``make_env`` builds a fresh env each call (the determinism check needs two).
    """
    report = Report(f"env '{name}'")
    env = make_env()
    try:
        report.run("specs", lambda: _check_specs(env))

        def reset_obs() -> str:
            obs, infos = env.reset(seed=seed)
            expect(isinstance(infos, dict), "reset must return (observations, infos dict)")
            check_obs(obs, env.observation_spec, env.num_envs)
            return ""

        report.run("reset observations", reset_obs)

        def one_chunk() -> str:
            env.reset(seed=seed)
            step = env.chunk_step(random_actions(env, chunk_len, np.random.default_rng(seed)))
            _check_chunk(step, env.num_envs, chunk_len, env.observation_spec)
            return f"chunk of {chunk_len}"

        report.run("chunk_step shapes, dtypes, masks", one_chunk)
        report.run("group reset shares initial state", lambda: _group_reset(env, seed))
        report.run("gymnasium VectorEnv view", lambda: _gym_view(env, seed))
        report.run("rejects wrong action width", lambda: _bad_action(env, chunk_len))
    finally:
        env.close()
    report.run("autoreset and episode metrics", lambda: _episode_bookkeeping(make_env, chunk_len, max_chunks, seed))
    if determinism:
        report.run("seeded determinism", lambda: _determinism(make_env, chunk_len, seed))
    return report
