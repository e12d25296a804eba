"""Shared fixtures of the cross-plugin tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def fresh_plugin_registry() -> Iterator[None]:
    """`vlarl --plugins A ...` run in-process replaces the process-wide registry; never let it leak into the next test."""
    yield
    from vlarl.plugins.registry import set_registry

    set_registry(None)
