"""LIBERO throughput on the CPU: vlarl's LiberoEnv against the stock OffScreenRenderEnv, plus a render profile.

    MUJOCO_GL=egl python benchmarks/libero_throughput.py                 # everything (several minutes)
    python benchmarks/libero_throughput.py --sizes 128 --envs 1 2 --steps 10 --skip-profile

Reports env steps/s (both cameras) for the stock env in a plain loop and for LiberoEnv with 1, 2, 4
sub-envs (one worker each), the overhead at 1 sub-env, the 2-worker scaling, where a frame's time goes
(scene update / draw / read-back), which render settings change pixels, and whether LiberoEnv's reset
observation is pixel-identical to the stock env's.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

SUITE, TASK, STATE = "libero_spatial", 0, 0
SETTLE = 10
DUMMY = np.array([0.0] * 6 + [-1.0])


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) a process used so far, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stock_env(size: int):
    from libero.libero import benchmark, get_libero_path
    from libero.libero.envs import OffScreenRenderEnv

    bench = benchmark.get_benchmark_dict()[SUITE]()
    task = bench.get_task(TASK)
    bddl = os.path.join(get_libero_path("bddl_files"), task.problem_folder, task.bddl_file)
    env = OffScreenRenderEnv(bddl_file_name=bddl, camera_heights=size, camera_widths=size)
    env.seed(0)
    env.reset()
    obs = env.set_init_state(bench.get_task_init_states(TASK)[STATE])
    for _ in range(SETTLE):
        obs, *_ = env.step(DUMMY)
    return env, obs


def bench_stock(size: int, steps: int) -> tuple[float, float]:
    """(env-steps/s, CPU ms per env-step)."""
    env, _ = stock_env(size)
    rng = np.random.default_rng(0)
    env.step(DUMMY)
    t, cpu = time.perf_counter(), proc_cpu(os.getpid())
    for _ in range(steps):
        env.step(np.concatenate([rng.uniform(-0.3, 0.3, 6), [-1.0]]))
    rate = steps / (time.perf_counter() - t)
    cpu_ms = (proc_cpu(os.getpid()) - cpu) / steps * 1e3
    env.close()
    return rate, cpu_ms


def bench_vlarl(size: int, num_envs: int, steps: int, chunk: int = 5, fast: bool = False) -> tuple[float, float, float]:
    """(env-steps/s, CPU ms per env-step over the main process and all workers, start-up seconds)."""
    from vlarl_libero.env import LiberoEnv
    from vlarl_libero.register import LiberoConfig

    t0 = time.perf_counter()
    env = LiberoEnv(
        LiberoConfig(
            suite=SUITE, task_ids=[TASK], num_envs=num_envs, image_size=size, max_episode_steps=10_000, fast_render=fast
        )
    )
    env.reset(seed=0)
    startup = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    actions = rng.uniform(-0.3, 0.3, (num_envs, chunk, 7)).astype(np.float32)
    actions[..., 6] = -1.0
    env.chunk_step(actions[:, :1])  # warm-up
    n_chunks = max(1, steps // chunk)
    pids = [os.getpid(), *env.worker_pids]
    t, cpu, main_cpu = time.perf_counter(), sum(proc_cpu(p) for p in pids), proc_cpu(os.getpid())
    for _ in range(n_chunks):
        env.chunk_step(actions)
    total = num_envs * chunk * n_chunks
    rate = total / (time.perf_counter() - t)
    cpu_ms = (sum(proc_cpu(p) for p in pids) - cpu) / total * 1e3
    main_ms = (proc_cpu(os.getpid()) - main_cpu) / total * 1e3
    env.close()
    print(f"    (main process, i.e. vlarl's dispatch and bookkeeping: {main_ms:.1f} CPU ms per env-step)")
    return rate, cpu_ms, startup


def fidelity(hard_reset: bool) -> str:
    """LiberoEnv's reset observation vs the stock env's after seed(0), reset, set_init_state and settle steps."""
    from vlarl_libero.env import LiberoEnv
    from vlarl_libero.register import LiberoConfig
    from vlarl_libero.sim import convert_obs

    env = LiberoEnv(
        LiberoConfig(
            suite=SUITE,
            task_ids=[TASK],
            num_envs=1,
            num_settle_steps=SETTLE,
            shuffle_reset_states=False,
            hard_reset=hard_reset,
        )
    )
    ours, _ = env.reset(seed=STATE)
    env.close()
    stock, raw = stock_env(128)
    stock.close()
    ref = convert_obs(raw, cameras=("agentview", "robot0_eye_in_hand"))
    diffs = {
        k: float(np.abs(ours[k][0].astype(np.float64) - ref[k]).max()) for k in ("images", "wrist_images", "states")
    }
    return "identical" if not any(diffs.values()) else f"max abs differences {diffs}"


def profile(size: int, frames: int = 5) -> None:
    """Where one agentview frame's time goes, and which render settings change the pixels."""
    import mujoco

    env, _ = stock_env(size)
    sim = env.sim
    ctx = sim._render_context_offscreen
    model = sim.model._model
    cam = sim.model.camera_name2id("agentview")
    vis_verts = sum(
        int(model.mesh_vertnum[model.geom_dataid[g]])
        for g in range(model.ngeom)
        if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH and ctx.vopt.geomgroup[model.geom_group[g]]
    )
    print(
        f"  scene: {model.ngeom} geoms, {model.nmeshvert} mesh vertices ({vis_verts} in visible groups), "
        f"offsamples={model.vis.quality.offsamples}, reflective materials={(model.mat_reflectance > 0).sum()}"
    )

    def frame() -> tuple[np.ndarray, dict[str, float]]:
        times = {}
        t = time.perf_counter()
        ctx.cam.type, ctx.cam.fixedcamid = mujoco.mjtCamera.mjCAMERA_FIXED, cam
        mujoco.mjv_updateScene(model, sim.data._data, ctx.vopt, ctx.pert, ctx.cam, mujoco.mjtCatBit.mjCAT_ALL, ctx.scn)
        times["update"] = time.perf_counter() - t
        t = time.perf_counter()
        mujoco.mjr_render(mujoco.MjrRect(0, 0, size, size), ctx.scn, ctx.con)
        times["draw"] = time.perf_counter() - t
        t = time.perf_counter()
        img = np.empty((size, size, 3), dtype=np.uint8)
        mujoco.mjr_readPixels(img, None, mujoco.MjrRect(0, 0, size, size), ctx.con)
        times["read"] = time.perf_counter() - t
        return img, times

    def measure(label: str, ref: np.ndarray | None) -> np.ndarray:
        frame()
        acc = {"update": 0.0, "draw": 0.0, "read": 0.0}
        for _ in range(frames):
            img, times = frame()
            for k in acc:
                acc[k] += times[k] / frames
        same = (
            ""
            if ref is None
            else (
                "identical pixels"
                if np.array_equal(img, ref)
                else f"pixels differ: mean {np.abs(img.astype(int) - ref).mean():.2f}/255, "
                f"{(img != ref).any(-1).mean() * 100:.1f}% of pixels"
            )
        )
        print(
            f"  {size}x{size} {label:<28} update {acc['update'] * 1e3:6.1f} ms  draw {acc['draw'] * 1e3:6.1f} ms  "
            f"read {acc['read'] * 1e3:5.1f} ms  {same}"
        )
        return img

    flags = ctx.scn.flags
    ref = measure("default", None)
    flags[mujoco.mjtRndFlag.mjRND_SKYBOX] = 0
    measure("no skybox", ref)
    flags[mujoco.mjtRndFlag.mjRND_SKYBOX] = 1
    flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
    measure("no shadows", ref)
    flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 1
    flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
    measure("no reflection", ref)
    model.vis.quality.offsamples = 0
    ctx.gl_ctx.make_current()
    ctx.con.free()
    ctx._set_mujoco_context_and_buffers()
    measure("no reflection, no MSAA", ref)
    flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 1
    measure("no MSAA", ref)
    env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 224])
    parser.add_argument("--envs", type=int, nargs="*", default=[1, 2, 4], help="sub-env counts (none: skip throughput)")
    parser.add_argument("--steps", type=int, default=20, help="timed env steps per sub-env")
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument("--fast", action="store_true", help="also time 1 sub-env with fast_render=True")
    parser.add_argument("--skip-fidelity", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
    print(
        f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}, MUJOCO_GL={os.environ['MUJOCO_GL']}"
    )
    for size in args.sizes if args.envs else []:
        stock, stock_cpu = bench_stock(size, args.steps)
        print(
            f"[{size}x{size}, 2 cameras] stock OffScreenRenderEnv, plain loop: {stock:6.2f} env-steps/s, "
            f"{stock_cpu:6.1f} CPU ms/step"
        )
        base = None
        for n in args.envs:
            rate, cpu_ms, startup = bench_vlarl(size, n, args.steps)
            base = rate if n == 1 else base
            extra = ""
            if n == 1:
                extra = f"  overhead vs stock: wall {100 * (stock / rate - 1):+.1f}%, CPU {100 * (cpu_ms / stock_cpu - 1):+.1f}%"
            elif base:
                extra = f"  scaling vs 1 worker {rate / base:.2f}x"
            print(
                f"[{size}x{size}, 2 cameras] vlarl LiberoEnv, {n} sub-env(s): {rate:6.2f} env-steps/s, "
                f"{cpu_ms:6.1f} CPU ms/step (start+reset {startup:.0f} s){extra}"
            )
        if args.fast:
            rate, cpu_ms, _ = bench_vlarl(size, 1, args.steps, fast=True)
            print(
                f"[{size}x{size}, 2 cameras] vlarl LiberoEnv, 1 sub-env, fast_render: {rate:6.2f} env-steps/s, "
                f"{cpu_ms:6.1f} CPU ms/step"
            )
    if not args.skip_fidelity:
        for hard in (False, True):
            print(
                f"fidelity: LiberoEnv reset (hard_reset={hard}) vs stock env (state {STATE}, {SETTLE} settle steps): "
                f"{fidelity(hard)}"
            )
    if not args.skip_profile:
        print("render profile (agentview only):")
        for size in args.sizes:
            profile(size)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
