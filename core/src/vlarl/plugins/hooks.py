"""pluggy hook specifications of the host.

A registration module (what a ``vlarl.envs`` / ``vlarl.policies`` /
``vlarl.algos`` entry point names) implements ``vlarl_register``; a plugin
with sub-plugins of its own adds its hookspecs in ``vlarl_addhooks``; modules
under the ``vlarl.extensions`` group implement those plugin-defined hooks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from vlarl.plugins.spec import PluginSpec

PROJECT = "vlarl"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class HostHooks:
    @hookspec
    def vlarl_register(self) -> Iterable[PluginSpec]:
        """Declare the envs, policies or algorithms this module provides (light: no heavy imports)."""

    @hookspec
    def vlarl_plugin_details(self, registry: object) -> dict[str, list[str]] | None:
        """Extra lines ``vlarl plugins`` shows under this module's plugins: ``{"kind:name": [lines]}``.

        E.g. the IsaacLab env lists the tasks that other distributions registered with it.
        """

    @hookspec(historic=True)
    def vlarl_addhooks(self, pluginmanager: pluggy.PluginManager) -> None:
        """Add hookspecs of this plugin's own, for sub-plugins (``pluginmanager.add_hookspecs``)."""
