"""The conformance kit: check any env, policy or algorithm against the host's contracts.

>>> from vlarl.testing import check_env
>>> check_env(lambda: make_my_env(num_envs=2)).raise_if_failed()

Also a pytest plugin (``vlarl_check_env`` etc. fixtures) registered through the
``pytest11`` entry point.
"""

from vlarl.testing.algo_checks import check_algorithm
from vlarl.testing.env_checks import check_env
from vlarl.testing.policy_checks import check_policy
from vlarl.testing.report import CheckResult, Report
from vlarl.testing.synth import synthetic_obs

__all__ = ["CheckResult", "Report", "check_algorithm", "check_env", "check_policy", "synthetic_obs"]
