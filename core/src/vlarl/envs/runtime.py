"""``env.runtime``: where an env's workers run — here, in another Python environment, or behind a server.

```yaml
env:
  name: libero
  num_envs: 8
  runtime:
    python: /opt/libero-venv/bin/python   # workers started with that interpreter
    # address: 10.0.0.5:7000              # or: a `vlarl env-server` (token in VLARL_ENV_TOKEN)
    # workers: 2                          # split num_envs over 2 worker processes
```

The host side is an ordinary ChunkedVectorEnv (:class:`~vlarl.envs.remote.RemoteVectorEnv`). The
env plugin need not be installed in the host's environment: its settings are validated where it runs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from vlarl.envs.client import TOKEN_ENV, TcpLink, parse_address, read_token
from vlarl.errors import ConfigError

RUNTIME_KEY = "runtime"


@dataclass
class RuntimeConfig:
    """The ``env.runtime`` section."""

    python: str | None = None
    """Interpreter of another environment holding vlarl and the env plugin (its bin/python)."""
    address: str | None = None
    """``host:port`` of a ``vlarl env-server`` (several: comma-separated, each serving a block of sub-envs)."""
    workers: int = 1
    """Worker processes sharing ``num_envs`` (local or ``python`` runtimes)."""
    token_env: str = TOKEN_ENV
    startup_timeout_s: float = 600.0
    step_timeout_s: float = 300.0
    connect_timeout_s: float = 60.0
    """How long a lost server is retried before the run stops."""
    max_restarts: int = 10
    shared_memory: bool = True
    """Large arrays from local workers through shared memory (TCP always carries them in the frame)."""
    max_message_mb: int = 512


@dataclass
class RuntimeEnvConfig:
    """What the host keeps of an env section with a runtime: the plugin's name and raw settings."""

    name: str
    section: dict[str, Any]
    runtime: RuntimeConfig
    num_envs: int | None = None


def where(rt: RuntimeConfig) -> str:
    if rt.address:
        return f"env.runtime.address={rt.address}"
    return f"env.runtime.python={rt.python}" if rt.python else f"env.runtime.workers={rt.workers}"


def parse_runtime(raw: Any) -> RuntimeConfig:
    from vlarl.config import validate_section

    rt: RuntimeConfig = validate_section(RuntimeConfig, raw, "env.runtime")
    if rt.python and rt.address:
        raise ConfigError(
            "env.runtime sets both python and address.",
            "Use python for workers on this machine, address for a `vlarl env-server` elsewhere.",
        )
    if rt.workers < 1:
        raise ConfigError(f"env.runtime.workers={rt.workers}: it must be >= 1.", "Set env.runtime.workers=1 or more.")
    for addr in addresses(rt):
        parse_address(addr)
    return rt


def addresses(rt: RuntimeConfig) -> list[str]:
    return [a.strip() for a in (rt.address or "").split(",") if a.strip()]


def runtime_provided(name: str, section: dict[str, Any], rt: RuntimeConfig) -> tuple[Any, RuntimeEnvConfig]:
    """A registry entry for an env reached through ``rt``: building it starts the workers or connects."""
    from vlarl.plugins.registry import Provided
    from vlarl.plugins.spec import PluginSpec

    num = section.get("num_envs")
    cfg = RuntimeEnvConfig(name, section, rt, int(num) if isinstance(num, int) and not isinstance(num, bool) else None)
    spec = PluginSpec(
        kind="env", name=name, factory="vlarl.envs.runtime:make_runtime_env", description=f"'{name}' via {where(rt)}"
    )
    return Provided(spec, f"runtime ({where(rt)})", "-", "vlarl.envs.runtime"), cfg


def split(num_envs: int, workers: int) -> list[int]:
    base, extra = divmod(num_envs, workers)
    return [base + (1 if w < extra else 0) for w in range(workers)]


def make_runtime_env(cfg: RuntimeEnvConfig) -> Any:
    """Factory of an env with a runtime: worker processes (this or another interpreter) or server links."""
    import sys

    from vlarl.envs.pool import ProcessWorker, WorkerFailure, WorkerSpec
    from vlarl.envs.remote import RemoteVectorEnv
    from vlarl.errors import VlarlError

    rt = cfg.runtime
    max_bytes = rt.max_message_mb * 2**20
    links: list[Any]
    if rt.address:
        token = read_token(rt.token_env)
        links = [TcpLink(i, a, token, cfg.name, rt.connect_timeout_s, max_bytes) for i, a in enumerate(addresses(rt))]
    else:
        sizes = [cfg.num_envs] if rt.workers == 1 else None
        if sizes is None:
            if cfg.num_envs is None or cfg.num_envs < rt.workers:
                raise ConfigError(
                    f"env.runtime.workers={rt.workers} needs env.num_envs >= {rt.workers}.",
                    "Set env.num_envs, or fewer workers.",
                )
            sizes = split(cfg.num_envs, rt.workers)
        links = []
        for i, n in enumerate(sizes):
            section = dict(cfg.section) if n is None else {**cfg.section, "num_envs": n}
            spec = WorkerSpec(
                "vlarl.envs.service:EnvService", {"name": cfg.name, "section": section},
                python=rt.python, shared_memory=rt.shared_memory, max_bytes=max_bytes,
            )  # fmt: skip
            links.append(ProcessWorker(i, spec, label=f"env '{cfg.name}'"))
    try:
        return RemoteVectorEnv(links, rt.startup_timeout_s, rt.step_timeout_s, rt.max_restarts, f"env '{cfg.name}'")
    except WorkerFailure as exc:
        if rt.address:
            fix = (
                f"Start `vlarl env-server CONFIG --listen {rt.address}` there (same {rt.token_env}), or fix "
                "env.runtime.address."
            )
        else:
            python = rt.python or sys.executable
            fix = (
                f"Check the worker's output above; {python} needs vlarl and the plugin of env '{cfg.name}' "
                f"installed (e.g. {python} -m pip install -e <vlarl checkout>/core -e <plugin dir>)."
            )
        raise VlarlError(f"The env '{cfg.name}' ({where(rt)}) failed to start: {exc}", fix) from exc


def with_num_envs(cfg: RuntimeEnvConfig, num_envs: int) -> RuntimeEnvConfig:
    return dataclasses.replace(cfg, num_envs=num_envs, section={**cfg.section, "num_envs": num_envs})


# ---------------------------------------------------------------------- listing (vlarl plugins / doctor)
@dataclass
class RuntimeListing:
    """The env plugins one runtime offers, or why it cannot be reached."""

    where: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    detail: str = ""


def list_runtime(rt: RuntimeConfig, timeout: float = 120.0) -> RuntimeListing:
    """Ask the runtime which env plugins it has: the other interpreter lists its registry; a server its env."""
    from vlarl.envs.pool import ProcessWorker, WorkerFailure, WorkerSpec
    from vlarl.errors import VlarlError

    out = RuntimeListing(where(rt))
    try:
        if rt.address:
            token = read_token(rt.token_env)
            for i, a in enumerate(addresses(rt)):
                link = TcpLink(i, a, token, None, min(rt.connect_timeout_s, 10.0))
                link.start()
                try:
                    info = link.wait_ready(timeout)
                finally:
                    link.close()
                env = info["env"]
                out.rows.append(
                    {"kind": "env", "name": env["name"], "distribution": env["distribution"], "version": env["version"],
                     "description": f"served by {a} (num_envs={info['specs']['num_envs']})", "ok": True, "missing": []}
                )  # fmt: skip
        else:
            worker = ProcessWorker(
                0, WorkerSpec("vlarl.envs.service:PluginLister", python=rt.python, shared_memory=False)
            )
            worker.start()
            try:
                info = worker.wait_ready(timeout)
            finally:
                worker.close()
            out.rows = info["plugins"]
            out.detail = f"Python {info['python']}, numpy {info['numpy']}, vlarl {info['vlarl']}"
    except (VlarlError, WorkerFailure, OSError) as exc:
        out.error = str(exc).replace("\nFix: ", "; fix: ")
    for row in out.rows:
        row["runtime"] = out.where
    return out


def resolve_runtime(name: str, section: Any) -> tuple[tuple[Any, RuntimeEnvConfig] | None, Any]:
    """``((provided, config), body)`` when the env section sets ``runtime``; else ``(None, section)`` with a
    ``runtime: null`` removed (the env runs in-process)."""
    if section is None or RUNTIME_KEY not in section:
        return None, section
    from omegaconf import DictConfig, OmegaConf

    body = OmegaConf.to_container(section, resolve=True) if isinstance(section, DictConfig) else dict(section)
    raw = body.pop(RUNTIME_KEY)
    if raw is None:
        return None, body
    return runtime_provided(name, body, parse_runtime(raw)), body


def listings_for(runtimes: list[str], config_path: str | None) -> list[RuntimeListing]:
    """Runtimes named on the command line (a python path or host:port) and by a config's env.runtime."""
    found: list[RuntimeConfig] = []
    for text in runtimes:
        is_address = ":" in text and "/" not in text and text.rsplit(":", 1)[1].isdigit()
        found.append(RuntimeConfig(address=text) if is_address else RuntimeConfig(python=text))
    if config_path:
        from vlarl.config import load_config

        env = load_config(config_path).get("env")
        raw = None if env is None else env.get(RUNTIME_KEY)
        if raw is None:
            raise ConfigError(f"{config_path} sets no env.runtime.", "Add env.runtime.python or env.runtime.address.")
        found.append(parse_runtime(raw))
    return [list_runtime(rt) for rt in found]


def listing_lines(listings: list[RuntimeListing]) -> list[tuple[str, bool]]:
    """``vlarl doctor`` lines: each runtime reached, and each env plugin it offers."""
    lines: list[tuple[str, bool]] = []
    for listing in listings:
        if listing.error:
            lines.append((f"runtime {listing.where}: cannot be reached: {listing.error}", False))
            continue
        lines.append((f"runtime {listing.where}: reachable" + (f" ({listing.detail})" if listing.detail else ""), True))
        for r in listing.rows:
            head = f"env '{r['name']}' ({r['distribution']} {r['version']}) via {listing.where}"
            if r["ok"]:
                lines.append((f"{head}: requirements met", True))
            lines += [(f"{head}: {m['what']}; fix: {m['fix']}", False) for m in r["missing"]]
    return lines
