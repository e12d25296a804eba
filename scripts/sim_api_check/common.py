"""Results, AST readers of a real package's source (never imported), and fake probes run in a subprocess."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Result:
    area: str
    item: str
    status: str  # MATCH | MISMATCH | NOTE | SKIP
    detail: str


def compare(area: str, item: str, real: Any, fake: Any, adapter: Any = None, note: str = "") -> Result:
    """MATCH when the fake (and the adapter's expectation, when given) equal the real value."""
    same = real == fake and (adapter is None or adapter == real)
    parts = [f"real={real!r}"]
    if real != fake:
        parts.append(f"fake={fake!r}")
    if adapter is not None and adapter != real:
        parts.append(f"adapter={adapter!r}")
    detail = "; ".join(parts) + (f" ({note})" if note else "")
    return Result(area, item, "MATCH" if same else "MISMATCH", detail)


# ---------------------------------------------------------------------- AST of real source
def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def find_def(tree: ast.AST, dotted: str) -> ast.FunctionDef | ast.ClassDef | None:
    """``Class.method`` / ``function`` / ``Class`` anywhere in ``tree`` (nested classes included)."""
    first, _, rest = dotted.partition(".")
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == first:
            if not rest:
                return node
            if isinstance(node, ast.ClassDef):
                inner = find_def(ast.Module(body=node.body, type_ignores=[]), rest)
                if inner is not None:
                    return inner
    return None


def _default(node: ast.expr) -> str:
    try:
        return repr(ast.literal_eval(node))
    except ValueError:
        pass
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "slice":
        try:
            return repr(slice(*[ast.literal_eval(a) for a in node.args]))
        except ValueError:
            pass
    return ast.unparse(node)


def ast_signature(fn: ast.FunctionDef) -> list[tuple[str, str, str | None]]:
    """(name, kind, default) per parameter, ``self`` dropped; kinds as in ``inspect``."""
    a = fn.args
    out: list[tuple[str, str, str | None]] = []
    positional = [*a.posonlyargs, *a.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    for i, (arg, d) in enumerate(zip(positional, defaults)):
        kind = "POSITIONAL_ONLY" if i < len(a.posonlyargs) else "POSITIONAL_OR_KEYWORD"
        out.append((arg.arg, kind, None if d is None else _default(d)))
    if a.vararg:
        out.append((a.vararg.arg, "VAR_POSITIONAL", None))
    for arg, d in zip(a.kwonlyargs, a.kw_defaults):
        out.append((arg.arg, "KEYWORD_ONLY", None if d is None else _default(d)))
    if a.kwarg:
        out.append((a.kwarg.arg, "VAR_KEYWORD", None))
    return [p for p in out if p[0] not in ("self", "cls")]


def real_signature(path: Path, dotted: str) -> list[tuple[str, str, str | None]] | None:
    if not path.exists():
        return None
    node = find_def(parse(path), dotted)
    return ast_signature(node) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None


def body_source(path: Path, dotted: str) -> str:
    """Source text of a def (empty when missing)."""
    if not path.exists():
        return ""
    text = path.read_text(encoding="utf-8")
    node = find_def(ast.parse(text), dotted)
    return ast.get_source_segment(text, node) or "" if node is not None else ""


def has(path: Path, pattern: str) -> bool:
    return path.exists() and re.search(pattern, path.read_text(encoding="utf-8", errors="replace")) is not None


def sig_text(sig: list[tuple[str, str, str | None]] | None) -> str:
    if sig is None:
        return "<missing>"
    parts = []
    for name, kind, default in sig:
        prefix = {"VAR_POSITIONAL": "*", "VAR_KEYWORD": "**"}.get(kind, "")
        star = "*, " if kind == "KEYWORD_ONLY" and not any(p.startswith("*") for p in parts) else ""
        parts.append(f"{star}{prefix}{name}" + (f"={default}" if default is not None else ""))
    return "(" + ", ".join(parts) + ")"


# ---------------------------------------------------------------------- fake probes
def run_probe(module: str, args: list[str], pythonpath: list[Path], env: dict[str, str] | None = None) -> Any:
    """Run ``python -m scripts.sim_api_check.<module>`` with the fake on PYTHONPATH; its JSON output."""
    paths = [str(p) for p in pythonpath] + [str(REPO)]
    full_env = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(paths)}
    res = subprocess.run(
        [sys.executable, "-m", f"scripts.sim_api_check.{module}", *args],
        capture_output=True, text=True, env=full_env, cwd=REPO, timeout=600,
    )  # fmt: skip
    if res.returncode != 0:
        raise RuntimeError(f"probe {module} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def runtime_signature(obj: Any) -> list[tuple[str, str, str | None]]:
    """For the probes: an object's signature in ``ast_signature``'s form."""
    import inspect

    out = []
    for p in inspect.signature(obj).parameters.values():
        default = None if p.default is inspect.Parameter.empty else repr(p.default)
        out.append((p.name, p.kind.name, default))
    return [p for p in out if p[0] not in ("self", "cls")]
