"""Discover plugins through entry points, load them into one pluggy manager, look them up.

Nothing here imports a plugin's heavy code: only the registration modules the
entry points name, which declare :class:`PluginSpec` objects.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from vlarl.errors import PluginError
from vlarl.plugins.hooks import PROJECT, HostHooks
from vlarl.plugins.spec import ENTRY_POINT_GROUPS, EXTENSION_GROUP, KINDS, Kind, PluginSpec

ALLOW_ENV = "VLARL_PLUGINS"
DENY_ENV = "VLARL_DISABLE_PLUGINS"
KIND_PLURAL = {"env": "envs", "policy": "policies", "algo": "algos", "dataset": "datasets"}
HEAVY_MODULES = (
    "torch", "tensorflow", "jax", "transformers", "timm", "peft", "mujoco", "robosuite", "libero", "isaaclab",
    "isaacsim", "omnigibson", "ray", "cv2",
)  # fmt: skip
"""Modules a registration module must not import: ``vlarl plugins`` would load them for every listing."""
INSTALL_HINT = (
    "pip install vlarl-<name> --find-links dist/ after 'bash scripts/build_wheels.sh' in a vlarl checkout, "
    "or pip install -e plugins/<kind>/<name> from it"
)
"""How a plugin of this repository is installed: its distributions are not on a public index."""


@dataclass(frozen=True)
class Provided:
    """A spec together with where it came from."""

    spec: PluginSpec
    distribution: str
    version: str
    module: str

    @property
    def qualified_name(self) -> str:
        return f"{self.distribution}:{self.spec.name}"


@dataclass(frozen=True)
class LoadFailure:
    group: str
    entry_point: str
    distribution: str
    version: str
    error: str

    def message(self) -> str:
        return (
            f"Plugin '{self.entry_point}' ({self.group}) from {self.distribution} {self.version} "
            f"failed to load: {self.error}. Fix: reinstall it (pip install --force-reinstall "
            f"{self.distribution}, or report it to its authors) or disable it with {DENY_ENV}={self.entry_point}."
        )


def _split(value: str | None) -> set[str]:
    return {v.strip() for v in (value or "").split(",") if v.strip()}


def _dist_of(ep: EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    return (dist.metadata["Name"], dist.version) if dist is not None else ("<unknown>", "?")


class Registry:
    """All installed plugins, keyed by (kind, name)."""

    def __init__(
        self,
        allow: Iterable[str] | None = None,
        deny: Iterable[str] | None = None,
        eps: Iterable[EntryPoint] | None = None,
    ) -> None:
        self.allow = set(allow) if allow is not None else _split(os.environ.get(ALLOW_ENV))
        self.deny = set(deny) if deny is not None else _split(os.environ.get(DENY_ENV))
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(HostHooks)
        # Historic: each plugin registered later gets its vlarl_addhooks called on registration.
        self.pm.hook.vlarl_addhooks.call_historic(kwargs={"pluginmanager": self.pm})
        self.failures: list[LoadFailure] = []
        self.warnings: list[str] = []
        """Problems that do not stop a plugin, e.g. a registration module importing torch."""
        self.provided: dict[tuple[Kind, str], list[Provided]] = {}
        all_eps = list(eps) if eps is not None else self._installed_entry_points()
        self._load(all_eps)

    @staticmethod
    def _installed_entry_points() -> list[EntryPoint]:
        groups = [*ENTRY_POINT_GROUPS, EXTENSION_GROUP]
        return [ep for group in groups for ep in entry_points(group=group)]

    def _enabled(self, ep: EntryPoint, dist: str) -> bool:
        names = {ep.name, dist}
        if names & self.deny:
            return False
        return not self.allow or bool(names & self.allow)

    def _load(self, eps: list[EntryPoint]) -> None:
        for ep in eps:
            dist, version = _dist_of(ep)
            if not self._enabled(ep, dist):
                continue
            before = set(sys.modules)
            try:
                module = ep.load()
                name = f"{ep.group}:{ep.name}:{dist}"
                if self.pm.is_registered(module):
                    continue
                self.pm.register(module, name=name)
            except (Exception, SystemExit) as exc:  # a broken plugin must not take the others down
                self.failures.append(LoadFailure(ep.group, ep.name, dist, version, _describe(exc)))
                continue
            heavy = sorted({m.split(".")[0] for m in set(sys.modules) - before} & set(HEAVY_MODULES))
            if heavy:
                self.warnings.append(
                    f"Plugin '{ep.name}' ({dist}): its registration module {ep.value} imports {', '.join(heavy)}, "
                    "which slows down every 'vlarl plugins' / 'vlarl check' start. Fix (for its authors): import "
                    "heavy modules only in the factory module that PluginSpec.factory names."
                )
            if ep.group not in ENTRY_POINT_GROUPS:
                continue
            expected_kind = ENTRY_POINT_GROUPS[ep.group]
            impl = getattr(module, "vlarl_register", None)
            if impl is None:
                continue
            try:
                specs = list(impl() or [])
                for spec in specs:
                    if not isinstance(spec, PluginSpec):
                        raise TypeError(f"vlarl_register returned {type(spec).__name__}, expected PluginSpec")
                    if spec.kind != expected_kind:
                        raise TypeError(
                            f"{spec.kind} '{spec.name}' declared under the entry-point group {ep.group}; "
                            f"declare it under {next(g for g, k in ENTRY_POINT_GROUPS.items() if k == spec.kind)}"
                        )
            except (Exception, SystemExit) as exc:
                self.failures.append(LoadFailure(ep.group, ep.name, dist, version, _describe(exc)))
                continue
            for spec in specs:
                provided = Provided(spec, dist, version, ep.value)
                for key in (spec.name, *spec.aliases):
                    self.provided.setdefault((spec.kind, key), []).append(provided)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            name = self.pm.get_name(exc.plugin) or "?"
            group, ep_name, dist = ([*name.split(":"), "?", "?"])[:3]
            self.failures.append(LoadFailure(group, ep_name, dist, "?", f"implements a hook nobody declares: {exc}"))

    def names(self, kind: Kind) -> list[str]:
        return sorted({p.spec.name for (k, _), ps in self.provided.items() if k == kind for p in ps})

    def list(self, kind: Kind | None = None) -> list[Provided]:
        """Each provided plugin once (aliases folded), sorted by kind then name."""
        seen: dict[tuple[str, str, str], Provided] = {}
        for (k, _), ps in self.provided.items():
            for p in ps:
                if kind is None or k == kind:
                    seen[(k, p.spec.name, p.distribution)] = p
        order = {k: i for i, k in enumerate(KINDS)}
        return sorted(seen.values(), key=lambda p: (order[p.spec.kind], p.spec.name, p.distribution))

    def clashes(self, kind: Kind, name: str) -> list[str]:
        """The distributions that provide ``kind`` ``name``, when more than one does."""
        dists = sorted({p.distribution for p in self.provided.get((kind, name), [])})
        return dists if len(dists) > 1 else []

    def details(self) -> tuple[dict[str, list[str]], list[str]]:
        """Each plugin's ``vlarl_plugin_details`` lines, called plugin by plugin: one that raises is named
        (second element) and the others still show."""
        out: dict[str, list[str]] = {}
        errors: list[str] = []
        for impl in self.pm.hook.vlarl_plugin_details.get_hookimpls():
            who = self.pm.get_name(impl.plugin) or "?"
            dist = who.rsplit(":", 1)[-1]
            try:
                result = impl.function(registry=self)
                for key, lines in (result or {}).items():
                    out.setdefault(key, []).extend(str(line) for line in lines)
            except (Exception, SystemExit) as exc:
                errors.append(
                    f"The vlarl_plugin_details hook of {dist} failed ({_describe(exc)}); its extra lines are "
                    f"missing from this listing. Fix: report it to the authors of {dist}."
                )
        return out, errors

    def get(self, kind: Kind, name: str) -> Provided:
        """Look up ``name`` (or ``distribution:name`` to pick among duplicates)."""
        if kind not in KINDS:
            raise PluginError(f"Unknown plugin kind '{kind}'.", f"Use one of: {', '.join(KINDS)}.")
        dist = None
        if ":" in name:
            dist, name = name.split(":", 1)
        candidates = self.provided.get((kind, name), [])
        if dist is not None and candidates and not any(p.distribution == dist for p in candidates):
            others = sorted({p.distribution for p in candidates})
            raise PluginError(
                f"No {kind} '{name}' from the distribution '{dist}': it is not installed or provides no {kind} "
                f"'{name}'. The {kind} '{name}' is provided by {', '.join(others)}.",
                f"Write '{others[0]}:{name}' (or just '{name}'), or install {dist}.",
            )
        if dist is not None:
            candidates = [p for p in candidates if p.distribution == dist]
        if not candidates:
            raise PluginError(self._unknown_message(kind, name), self._unknown_fix(kind))
        if len({p.distribution for p in candidates}) > 1:
            dists = sorted({p.distribution for p in candidates})
            raise PluginError(
                f"The {kind} '{name}' is provided by several distributions: {', '.join(dists)}.",
                f"Pick one by writing '{dists[0]}:{name}', or disable the others with "
                f"{DENY_ENV}={','.join(dists[1:])} (or uninstall them).",
            )
        return candidates[0]

    def _unknown_message(self, kind: Kind, name: str) -> str:
        installed = self.names(kind)
        msg = f"No {kind} plugin named '{name}'. Installed {KIND_PLURAL[kind]}: {', '.join(installed) or '(none)'}."
        close = difflib.get_close_matches(name, installed, n=1)
        if close:
            msg += f" Did you mean '{close[0]}'?"
        broken = [f for f in self.failures if f.entry_point == name]
        for failure in broken:
            msg += " " + failure.message()
        return msg

    def _unknown_fix(self, kind: Kind) -> str:
        return (
            f"Install the plugin that provides it ({INSTALL_HINT}), check "
            f"{ALLOW_ENV}/{DENY_ENV}, and run 'vlarl plugins --kind {kind}' to see what is installed."
        )

    def hook(self) -> Any:
        """The pluggy hook relay, for plugin-defined hooks (e.g. IsaacLab task registration)."""
        return self.pm.hook

    def hook_results_by_plugin(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call ``hook_name`` on each implementing plugin separately: [(distribution, result)]."""
        caller = getattr(self.pm.hook, hook_name)
        out = []
        for impl in caller.get_hookimpls():
            dist = self.pm.get_name(impl.plugin).rsplit(":", 1)[-1]
            out.append((dist, impl.function(**kwargs)))
        return out


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r}) while being loaded"
    return f"{type(exc).__name__}: {exc}"


_REGISTRY: Registry | None = None


def get_registry(refresh: bool = False) -> Registry:
    """The process-wide registry, built on first use."""
    global _REGISTRY
    if _REGISTRY is None or refresh:
        _REGISTRY = Registry()
    return _REGISTRY


def set_registry(registry: Registry | None) -> None:
    """Replace the process-wide registry (the CLI does this for --plugins/--disable-plugins)."""
    global _REGISTRY
    _REGISTRY = registry
