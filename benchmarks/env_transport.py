"""What env.runtime costs: chunk_step latency and env steps/s, in-process against worker transports.

    python benchmarks/env_transport.py                                   # CartPole 64x64 images, all transports
    python benchmarks/env_transport.py --env cartpole_states --chunks 300  # no rendering: the transport floor
    python benchmarks/env_transport.py --env libero --chunks 3           # LIBERO, two 128 px cameras
    python benchmarks/env_transport.py --other-python /path/venv/bin/python

Transports: ``inprocess`` (the plugin's env in this process), ``worker`` (env.runtime: one worker process, this
interpreter), ``other`` (env.runtime.python: another interpreter; default this venv's python started bare,
without this process's sys.path), ``tcp`` (`vlarl env-server` in a subprocess on 127.0.0.1). Each is timed
over the same seeded action sequence; the overhead is the difference to in-process per chunk (ms) and the
ratio of the times. Host CPU per chunk (this process) is reported too: on a loaded machine it is the steadier
figure of what the transport adds.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ENVS = {
    "cartpole": ("gymnasium", {"env_id": "CartPole-v1", "num_envs": 8, "render_images": True, "image_size": 64}, 8),
    # The transport floor: no rendering, so the chunk costs almost nothing but the transport itself.
    "cartpole_states": ("gymnasium", {"env_id": "CartPole-v1", "num_envs": 8}, 8),
    "libero": (
        "libero",
        {"suite": "libero_spatial", "task_ids": [0], "num_envs": 2, "num_settle_steps": 3, "image_size": 128},
        4,
    ),
}
TOKEN = "env-transport-benchmark"


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(name: str, section: dict, tmp: Path) -> tuple[subprocess.Popen, int]:
    import yaml

    config = tmp / "serve.yaml"
    config.write_text(yaml.safe_dump({"env": {"name": name, **section}}))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vlarl.cli", "env-server", str(config), "--listen", f"127.0.0.1:{port}"],
        env={**os.environ, "VLARL_ENV_TOKEN": TOKEN},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "serving" not in line:
        raise RuntimeError(f"env-server did not start: {line!r}")
    return proc, port


def measure(env, chunks: int, c: int, seed: int = 0) -> dict[str, float]:
    env.reset(seed=seed)
    rng = np.random.default_rng(0)
    a = env.action_spec
    make = (
        (lambda: rng.integers(0, 2, (env.num_envs, c, a.dim)).astype(np.float32))
        if a.dims[0].kind == "discrete"
        else (lambda: rng.uniform(-0.3, 0.3, (env.num_envs, c, a.dim)).astype(np.float32))
    )
    env.chunk_step(make())  # warm-up: the first reply also sizes the shared-memory arena
    times, steps = [], 0
    cpu0 = cpu_s()
    for _ in range(chunks):
        act = make()
        t = time.perf_counter()
        out = env.chunk_step(act)
        times.append(time.perf_counter() - t)
        steps += int(np.asarray(out.valid).sum())
    cpu = cpu_s() - cpu0
    return {
        "ms_per_chunk": 1e3 * float(np.median(times)),
        "steps_per_s": steps / sum(times),
        "host_cpu_ms_per_chunk": 1e3 * cpu / chunks,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", choices=list(ENVS), default="cartpole")
    p.add_argument("--chunks", type=int, default=40)
    p.add_argument("--other-python", default=None, help="interpreter of another venv (default: this one, bare)")
    p.add_argument("--transports", nargs="+", default=["inprocess", "worker", "other", "tcp"])
    args = p.parse_args()
    from vlarl.plugins.build import build_env

    name, section, c = ENVS[args.env]
    other = args.other_python or sys.executable
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for transport in args.transports:
            server = None
            if transport == "inprocess":
                sec = dict(section)
            elif transport == "worker":
                sec = {**section, "runtime": {}}
            elif transport == "other":
                sec = {**section, "runtime": {"python": other}}
            else:
                server, port = start_server(name, section, Path(tmp))
                os.environ["VLARL_ENV_TOKEN"] = TOKEN
                sec = {"runtime": {"address": f"127.0.0.1:{port}"}}
            env = build_env(name, sec)
            try:
                results[transport] = measure(env, args.chunks, c)
            finally:
                env.close()
                if server is not None:
                    server.kill()
                    server.wait()
            r = results[transport]
            print(
                f"{transport:<10} {r['ms_per_chunk']:9.2f} ms/chunk {r['steps_per_s']:9.1f} steps/s "
                f"host CPU {r['host_cpu_ms_per_chunk']:7.2f} ms/chunk",
                flush=True,
            )
    base = results.get("inprocess")
    load = os.getloadavg()[0]
    print(f"\n{args.env}: num_envs={section['num_envs']}, chunk={c}, {args.chunks} chunks; load average {load:.1f}")
    print("| transport | ms / chunk | env steps/s | overhead ms / chunk | time ratio | host CPU ms / chunk |")
    print("|---|---|---|---|---|---|")
    for t, r in results.items():
        over = "" if base is None else f"{r['ms_per_chunk'] - base['ms_per_chunk']:+.2f}"
        ratio = "" if base is None else f"{r['ms_per_chunk'] / base['ms_per_chunk']:.3f}"
        row = f"{r['ms_per_chunk']:.2f} | {r['steps_per_s']:.1f} | {over} | {ratio} | {r['host_cpu_ms_per_chunk']:.2f}"
        print(f"| {t} | {row} |")


if __name__ == "__main__":
    main()
