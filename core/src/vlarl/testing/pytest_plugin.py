"""pytest plugin of the conformance kit (registered through the ``pytest11`` entry point).

A plugin author's test is a few lines::

    def test_my_env(vlarl_check_env):
        vlarl_check_env(lambda: MyEnv(num_envs=2), chunk_len=4)

Each fixture runs the check, prints the table and fails the test on any FAIL row.
Imports are lazy so pytest start-up stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


def _asserting(check_name: str) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        import vlarl.testing as kit

        report = getattr(kit, check_name)(*args, **kwargs)
        print(report.table())
        if not report.ok:
            pytest.fail(report.table(), pytrace=False)
        return report

    return run


@pytest.fixture
def vlarl_check_env() -> Callable[..., Any]:
    """``vlarl_check_env(make_env, chunk_len=4, ...)``: see :func:`vlarl.testing.check_env`."""
    return _asserting("check_env")


@pytest.fixture
def vlarl_check_policy() -> Callable[..., Any]:
    """``vlarl_check_policy(make_policy, observation_spec, ...)``: see :func:`vlarl.testing.check_policy`."""
    return _asserting("check_policy")


@pytest.fixture
def vlarl_check_algorithm() -> Callable[..., Any]:
    """``vlarl_check_algorithm(make_algo, make_policy, make_env, ...)``: see :func:`vlarl.testing.check_algorithm`."""
    return _asserting("check_algorithm")
