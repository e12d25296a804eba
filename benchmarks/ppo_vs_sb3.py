"""vlarl PPO (gymnasium env plugin + mlp policy plugin) against stable-baselines3 PPO.

Same env ids, same number of env steps, matched hyperparameters (rl-zoo style),
3 seeds each. Each run is its own subprocess on one torch thread; both sides are
evaluated by the same greedy gymnasium loop. Prints a table and writes JSON.

    pip install -e 'plugins/algos/ppo[bench]' -e plugins/envs/gymnasium -e plugins/policies/mlp
    (HalfCheetah-v5 needs gymnasium[mujoco]; it is skipped with a note when MuJoCo is missing.)
    python benchmarks/ppo_vs_sb3.py                      # CartPole-v1, Pendulum-v1, HalfCheetah-v5; seeds 0 1 2
    python benchmarks/ppo_vs_sb3.py --envs CartPole-v1 --seeds 0 --scale 0.5
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing as mp
import statistics
import time
from typing import Any

# Hyperparameters shared by both implementations (n_steps per env, batch = minibatch size).
TASKS: dict[str, dict[str, Any]] = {
    "CartPole-v1": dict(
        steps=50_000, n_envs=8, n_steps=32, batch=256, epochs=20, gamma=0.98, lam=0.8, lr=1e-3, anneal=True,
        clip=0.2, ent=0.0, vf=0.5, max_grad=0.5,
    ),
    "Pendulum-v1": dict(
        steps=100_000, n_envs=4, n_steps=1024, batch=256, epochs=10, gamma=0.9, lam=0.95, lr=1e-3, anneal=False,
        clip=0.2, ent=0.0, vf=0.5, max_grad=0.5,
    ),
    # MuJoCo: the common PPO defaults (no observation or reward normalisation on either side).
    "HalfCheetah-v5": dict(
        steps=100_000, n_envs=4, n_steps=512, batch=64, epochs=10, gamma=0.99, lam=0.95, lr=3e-4, anneal=False,
        clip=0.2, ent=0.0, vf=0.5, max_grad=0.5,
    ),
}  # fmt: skip
NEEDS_MUJOCO = {"HalfCheetah-v5"}
EVAL_EPISODES = 10


def evaluate(env_id: str, act: Any, seed: int) -> float:
    """Mean return of greedy episodes on plain gymnasium, for either implementation."""
    import gymnasium as gym
    import numpy as np

    env = gym.make(env_id)
    returns = []
    for ep in range(EVAL_EPISODES):
        obs, _ = env.reset(seed=10_000 + 100 * seed + ep)
        done, total = False, 0.0
        while not done:
            obs, r, term, trunc, _ = env.step(act(np.asarray(obs, np.float32)))
            total += float(r)
            done = term or trunc
        returns.append(total)
    env.close()
    return float(np.mean(returns))


def run_vlarl(env_id: str, seed: int, h: dict[str, Any]) -> dict[str, float]:
    import numpy as np
    import torch

    from vlarl.plugins.build import build_algo, build_env, build_policy
    from vlarl.runner.rollout import collect_rollout

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    np.random.seed(seed)
    env = build_env("gymnasium", {"env_id": env_id, "num_envs": h["n_envs"]})
    policy = build_policy("mlp", {"init_log_std": 0.0}, env.observation_spec, env.action_spec)
    iterations = h["steps"] // (h["n_envs"] * h["n_steps"])
    algo = build_algo(
        "ppo",
        {
            "gamma": h["gamma"], "gae_lambda": h["lam"], "lr": h["lr"], "update_epochs": h["epochs"],
            "num_minibatches": h["n_envs"] * h["n_steps"] // h["batch"], "clip_ratio_low": h["clip"],
            "clip_ratio_high": h["clip"], "value_clip": None, "entropy_coef": h["ent"], "value_loss_coef": h["vf"],
            "max_grad_norm": h["max_grad"], "lr_anneal_updates": iterations if h["anneal"] else None, "seed": seed,
        },
    )  # fmt: skip
    algo.setup(policy)
    start = time.perf_counter()
    obs, _ = env.reset(seed=seed)
    for _ in range(iterations):
        buf, obs, _ = collect_rollout(env, policy, obs, h["n_steps"])
        algo.compute_advantages(buf)
        algo.update(policy, buf)
    wall = time.perf_counter() - start
    env.close()

    def act(o: Any) -> Any:
        with torch.no_grad():
            a = policy.act({"states": o[None], "task_descriptions": [env_id]}, deterministic=True).actions
        a = a[0, 0].numpy()
        return round(float(a[0])) if env_id == "CartPole-v1" else a

    return {"return": evaluate(env_id, act, seed), "wall_s": wall}


def run_sb3(env_id: str, seed: int, h: dict[str, Any]) -> dict[str, float]:
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    env = make_vec_env(env_id, n_envs=h["n_envs"], seed=seed)
    lr = (lambda p: p * h["lr"]) if h["anneal"] else h["lr"]
    model = PPO(
        "MlpPolicy", env, n_steps=h["n_steps"], batch_size=h["batch"], n_epochs=h["epochs"], gamma=h["gamma"],
        gae_lambda=h["lam"], learning_rate=lr, clip_range=h["clip"], ent_coef=h["ent"], vf_coef=h["vf"],
        max_grad_norm=h["max_grad"], seed=seed, device="cpu", verbose=0,
    )  # fmt: skip
    start = time.perf_counter()
    model.learn(total_timesteps=h["steps"])
    wall = time.perf_counter() - start
    env.close()
    return {"return": evaluate(env_id, lambda o: model.predict(o, deterministic=True)[0], seed), "wall_s": wall}


def _worker(which: str, env_id: str, seed: int, h: dict[str, Any], queue: Any) -> None:
    queue.put((run_vlarl if which == "vlarl" else run_sb3)(env_id, seed, h))


def run_isolated(which: str, env_id: str, seed: int, h: dict[str, Any]) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_worker, args=(which, env_id, seed, h, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=list(TASKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every task's env-step budget")
    parser.add_argument("--out", default="ppo_vs_sb3.json")
    args = parser.parse_args()
    rows = []
    if any(e in NEEDS_MUJOCO for e in args.envs) and importlib.util.find_spec("mujoco") is None:
        print(f"skipping {sorted(NEEDS_MUJOCO)}: pip install 'gymnasium[mujoco]'")
        args.envs = [e for e in args.envs if e not in NEEDS_MUJOCO]
    for env_id in args.envs:
        h = dict(TASKS[env_id])
        # Whole rollouts only, so both sides take exactly the same number of env steps
        # (SB3 rounds its budget up to whole rollouts; vlarl runs whole rollouts).
        per_rollout = h["n_envs"] * h["n_steps"]
        h["steps"] = max(1, round(h["steps"] * args.scale / per_rollout)) * per_rollout
        for seed in args.seeds:
            # Alternate the order so slow drifts of machine load hit both sides alike.
            order = ("vlarl", "sb3") if seed % 2 == 0 else ("sb3", "vlarl")
            res = {which: run_isolated(which, env_id, seed, h) for which in order}
            rows.append({"env": env_id, "seed": seed, "steps": h["steps"], **{k: res[k] for k in ("vlarl", "sb3")}})
            r = rows[-1]
            print(
                f"{env_id:12s} seed {seed}: vlarl {r['vlarl']['return']:8.1f} ({r['vlarl']['wall_s']:6.1f}s)  "
                f"sb3 {r['sb3']['return']:8.1f} ({r['sb3']['wall_s']:6.1f}s)",
                flush=True,
            )
    print("\n| env | steps | vlarl return | sb3 return | wall-clock vlarl/sb3 |\n|---|---|---|---|---|")
    for env_id in args.envs:
        rs = [r for r in rows if r["env"] == env_id]

        def fmt(which: str, rs: list = rs) -> str:
            vals = [r[which]["return"] for r in rs]
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            return f"{statistics.mean(vals):.1f} ± {sd:.1f}"

        ratio = sum(r["vlarl"]["wall_s"] for r in rs) / sum(r["sb3"]["wall_s"] for r in rs)
        print(f"| {env_id} | {rs[0]['steps']} | {fmt('vlarl')} | {fmt('sb3')} | {ratio:.2f} |")
    with open(args.out, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
