"""The ``vlarl`` command line: plugins, check, doctor, sft, train, eval, env-server.

Start-up stays light: subcommands import heavy modules only when they run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence

from vlarl.errors import VlarlError


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not >= 1 (a chunk holds at least one action)")
    return value


INDEX_NOTE = (
    "note: vlarl distributions are not on a public index; 'pip install vlarl-<name>' works with the wheels of a "
    "vlarl checkout: bash scripts/build_wheels.sh, then pip install vlarl-<name> --find-links <checkout>/dist "
    "(or pip install -e <checkout>/plugins/<kind>/<name>)."
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vlarl", description="RL fine-tuning of VLA policies: envs, policies and algorithms as plugins."
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.add_argument(
        "--plugins",
        metavar="A,B",
        help="load only these plugins (entry-point or distribution names); env VLARL_PLUGINS",
    )
    p.add_argument("--disable-plugins", metavar="A,B", help="do not load these plugins; env VLARL_DISABLE_PLUGINS")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sp = sub.add_parser("plugins", help="list installed plugins and whether their requirements are met")
    sp.add_argument("--json", action="store_true", help="print a JSON list")
    sp.add_argument("--kind", choices=["env", "policy", "algo", "dataset"])
    _runtime_args(sp)

    sc = sub.add_parser("check", help="run the conformance kit on one plugin")
    sc.add_argument("kind", choices=["env", "policy", "algo"])
    sc.add_argument("name")
    sc.add_argument("overrides", nargs="*", metavar="key=value", help="settings of the checked plugin")
    sc.add_argument("--chunk-len", type=_positive_int, default=4, help="chunk length for env checks (default 4)")
    sc.add_argument("--env", default="gymnasium", help="env used to check an algorithm (default: gymnasium)")
    sc.add_argument("--policy", default="mlp", help="policy used to check an algorithm (default: mlp)")

    _runtime_args(sub.add_parser("doctor", help="report Python, torch, GPU, MuJoCo GL and every plugin's requirements"))

    se = sub.add_parser("env-server", help="serve a config's env over TCP: vlarl env-server CONFIG --listen HOST:PORT")
    se.add_argument("config", help="YAML config whose env section is served")
    se.add_argument("overrides", nargs="*", metavar="key=value")
    se.add_argument("--listen", default="127.0.0.1:7000", help="address to bind (default 127.0.0.1:7000; port 0: any)")
    se.add_argument("--max-message-mb", type=_positive_int, default=512, help="largest frame accepted (default 512)")

    for name, helptext in (
        ("sft", "supervised fine-tuning on demonstrations: vlarl sft CONFIG [key=value ...]"),
        ("train", "train: vlarl train CONFIG [key=value ...]"),
        ("eval", "evaluate: vlarl eval CONFIG checkpoint=PATH [key=value ...]"),
    ):
        st = sub.add_parser(name, help=helptext)
        st.add_argument("config", help="YAML config (see examples/)")
        st.add_argument("overrides", nargs="*", metavar="key=value")
    return p


def _runtime_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--runtime",
        action="append",
        default=[],
        metavar="PYTHON|HOST:PORT",
        help="also list env plugins reachable through this runtime (another venv's python, or an env server)",
    )
    p.add_argument("--config", dest="runtime_config", metavar="CONFIG", help="also list the env runtime CONFIG sets")


def _runtime_listings(args: argparse.Namespace) -> list:  # -> list[RuntimeListing]
    """Env plugins reachable through the runtimes named by --runtime / --config (env.runtime)."""
    if not (args.runtime or args.runtime_config):
        return []
    from vlarl.envs.runtime import listings_for

    return listings_for(args.runtime, args.runtime_config)


def _registry(args: argparse.Namespace):  # -> Registry, typed lazily to keep imports light
    from vlarl.plugins.registry import Registry, _split, set_registry

    allow = _split(args.plugins) if args.plugins else None
    deny = _split(args.disable_plugins) if args.disable_plugins else None
    registry = Registry(allow=allow, deny=deny)
    set_registry(registry)
    return registry


def _print_registry_problems(registry, messages: list[str]) -> None:
    for msg in registry.warnings:
        print(f"warning: {msg}", file=sys.stderr)
    for msg in [f.message() for f in registry.failures] + messages:
        print(f"error: {msg}", file=sys.stderr)


def cmd_plugins(args: argparse.Namespace) -> int:
    registry = _registry(args)
    details, detail_errors = registry.details()
    rows = []
    for p in registry.list(args.kind):
        missing = p.spec.missing_requirements()
        rows.append(
            {
                "kind": p.spec.kind,
                "name": p.spec.name,
                "distribution": p.distribution,
                "version": p.version,
                "module": p.module,
                "description": p.spec.description,
                "ok": not missing,
                "missing": [{"what": r.missing(), "fix": r.fix} for r in missing],
                "aliases": list(p.spec.aliases),
                "details": details.get(f"{p.spec.kind}:{p.spec.name}", []),
                "clash": [d for d in registry.clashes(p.spec.kind, p.spec.name) if d != p.distribution],
            }
        )
    listings = _runtime_listings(args)
    for listing in listings:
        rows += [r for r in listing.rows if args.kind in (None, "env")]
    if args.json:
        print(json.dumps(rows, indent=2))
        for listing in listings:
            if listing.error:
                print(f"error: {listing.where}: {listing.error}", file=sys.stderr)
        _print_registry_problems(registry, detail_errors)
        return 0
    if not rows:
        print("No vlarl plugins installed. Install one, e.g. pip install -e plugins/envs/gymnasium")
    for r in rows:
        status = "ok" if r["ok"] else "MISSING"
        print(f"{r['kind']:<7} {r['name']:<16} {r['distribution']} {r['version']}  [{status}]  {r['description']}")
        if r.get("runtime"):
            print(f"         reachable through {r['runtime']} (not needed in this environment)")
        if r.get("clash"):
            print(
                f"         CLASH: '{r['name']}' is also provided by {', '.join(r['clash'])}; pick one with "
                f"{r['kind']}.name={r['distribution']}:{r['name']} or disable the others (--disable-plugins)."
            )
        for m in r["missing"]:
            print(f"         - {m['what']}; fix: {m['fix']}")
        for line in r.get("details", []):
            print(f"         {line}")
    if any("pip install vlarl-" in m["fix"] for r in rows for m in r["missing"]):
        print(INDEX_NOTE)
    for listing in listings:
        if listing.error:
            print(f"error: {listing.where}: {listing.error}", file=sys.stderr)
        elif listing.detail:
            print(f"runtime {listing.where}: {listing.detail}")
    _print_registry_problems(registry, detail_errors)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    _registry(args)
    from vlarl.checks import run_check

    report = run_check(
        args.kind, args.name, args.overrides, chunk_len=args.chunk_len, env_name=args.env, policy_name=args.policy
    )
    print(report.table())
    return 0 if report.ok else 1


def cmd_doctor(args: argparse.Namespace) -> int:
    registry = _registry(args)
    from vlarl.doctor import doctor_lines

    ok = True
    index_note = False
    for line, good in doctor_lines(registry):
        ok &= good
        index_note |= not good and "pip install vlarl-" in line
        print(f"[{'ok' if good else '!!'}] {line}")
    from vlarl.envs.runtime import listing_lines

    for line, good in listing_lines(_runtime_listings(args)):
        ok &= good
        print(f"[{'ok' if good else '!!'}] {line}")
    for msg in registry.warnings:
        print(f"[ok] warning: {msg}")
    if index_note:
        print(INDEX_NOTE)
    return 0 if ok else 1


def cmd_run(args: argparse.Namespace) -> int:
    _registry(args)
    from vlarl.config import load_config

    cfg = load_config(args.config, args.overrides)
    if args.command == "sft":
        from vlarl.runner.sft import sft

        sft(cfg)
    elif args.command == "train":
        from vlarl.runner.train import train

        train(cfg)
    else:
        from vlarl.runner.evaluate import evaluate

        evaluate(cfg)
    return 0


def cmd_env_server(args: argparse.Namespace) -> int:
    _registry(args)
    from vlarl.config import load_config
    from vlarl.envs.server import serve_config

    serve_config(load_config(args.config, args.overrides), args.listen, args.max_message_mb * 2**20)
    return 0


COMMANDS = {
    "plugins": cmd_plugins,
    "check": cmd_check,
    "doctor": cmd_doctor,
    "sft": cmd_run,
    "train": cmd_run,
    "eval": cmd_run,
    "env-server": cmd_env_server,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    debug = args.debug or bool(os.environ.get("VLARL_DEBUG"))
    try:
        return COMMANDS[args.command](args)
    except VlarlError as exc:
        if debug:
            traceback.print_exc()
        # A VlarlError raised inside a Ray actor arrives as a copy without its attributes.
        problem = getattr(exc, "problem", None) or str(exc).split("\nFix: ")[0]
        fix = getattr(exc, "fix", None)
        print(f"error: {problem}", file=sys.stderr)
        if fix:
            print(f"fix: {fix}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        # The run says what it saved and which checkpoint is the last complete one.
        print(getattr(exc, "message", None) or "interrupted", file=sys.stderr)
        return getattr(exc, "exit_code", 130)  # 130 after Ctrl-C, 143 after SIGTERM
    except BrokenPipeError:  # e.g. `vlarl plugins | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if debug:
            traceback.print_exc()
        else:
            print(f"error: {type(exc).__name__}: {exc}\n(run with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
