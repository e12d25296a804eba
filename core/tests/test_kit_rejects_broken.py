"""The conformance kit passes correct envs/policies and rejects deliberately broken ones."""

import numpy as np
import pytest
import torch
from toys import GaussPolicy, LineEnv

from vlarl.testing import check_env, check_policy


def failing(report):
    return {r.name for r in report.failures}


def test_correct_env_and_policy_pass():
    report = check_env(lambda: LineEnv(num_envs=4, goal=1.0), chunk_len=3)
    assert report.ok, report.table()
    assert not [r for r in report.results if r.status == "skip"], report.table()
    env = LineEnv()
    assert check_policy(lambda: GaussPolicy(), env.observation_spec).ok


class FloatImagesEnv(LineEnv):
    def _obs(self, ids):
        obs = super()._obs(ids)
        obs["states"] = obs["states"].astype(np.float64)
        return obs


class NoMaskEnv(LineEnv):
    """Forgets to mask sub-steps after the episode ended."""

    def chunk_step(self, actions):
        step = super().chunk_step(actions)
        step.valid[:] = True
        return step


class WrongLengthEnv(LineEnv):
    def chunk_step(self, actions):
        step = super().chunk_step(actions)
        step.infos["episode"]["episode_len"] = step.infos["episode"]["episode_len"] + 1
        return step


class NoGroupEnv(LineEnv):
    def reset(self, seed=None, options=None):
        return super().reset(seed=seed, options=None)


class Nondeterministic(LineEnv):
    def reset_envs(self, ids, seeds, options):
        self.pos[ids] = np.random.uniform(-1, 1, len(ids))
        return self._obs(ids)


class AcceptsAnything(LineEnv):
    def chunk_step(self, actions):
        return super().chunk_step(np.asarray(actions)[..., :2])


@pytest.mark.parametrize(
    ("env_cls", "check"),
    [
        (FloatImagesEnv, "reset observations"),
        (NoMaskEnv, "autoreset and episode metrics"),
        (WrongLengthEnv, "autoreset and episode metrics"),
        (NoGroupEnv, "group reset shares initial state"),
        (Nondeterministic, "seeded determinism"),
        (AcceptsAnything, "rejects wrong action width"),
    ],
)
def test_broken_envs_are_rejected(env_cls, check):
    report = check_env(lambda: env_cls(num_envs=4, goal=1.0), chunk_len=3)
    assert not report.ok
    assert check in failing(report), report.table()


class DisagreeingPolicy(GaussPolicy):
    def evaluate(self, replay):
        out = super().evaluate(replay)
        out.log_probs = out.log_probs + 1e-3
        return out


class WrongShapePolicy(GaussPolicy):
    @torch.no_grad()
    def act(self, obs, deterministic=False):
        out = super().act(obs, deterministic)
        out.actions = out.actions[:, :1]
        return out


class DeadParamPolicy(GaussPolicy):
    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Linear(2, 2)


class NoGradPolicy(GaussPolicy):
    def evaluate(self, replay):
        with torch.no_grad():
            return super().evaluate(replay)


@pytest.mark.parametrize(
    ("policy_cls", "check"),
    [
        (DisagreeingPolicy, "evaluate reproduces act log-probs"),
        (WrongShapePolicy, "act shapes and dtypes"),
        (DeadParamPolicy, "gradients reach trainable parameters only"),
        (NoGradPolicy, "gradients reach trainable parameters only"),
    ],
)
def test_broken_policies_are_rejected(policy_cls, check):
    report = check_policy(policy_cls, LineEnv().observation_spec)
    assert check in failing(report), report.table()


def test_allow_unused_lets_declared_dead_parameters_pass():
    assert check_policy(DeadParamPolicy, LineEnv().observation_spec, allow_unused=["unused."]).ok


def test_pytest_fixture_fails_the_test(pytester):
    pytester.makepyfile(
        """
        import sys
        sys.path.insert(0, {!r})
        from toys import LineEnv
        from test_kit_rejects_broken import NoMaskEnv

        def test_good(vlarl_check_env):
            vlarl_check_env(lambda: LineEnv(num_envs=2, goal=1.0), chunk_len=3)

        def test_bad(vlarl_check_env):
            vlarl_check_env(lambda: NoMaskEnv(num_envs=2, goal=1.0), chunk_len=3)
        """.format(str(__import__("pathlib").Path(__file__).parent))
    )
    result = pytester.runpytest_subprocess()  # the fixtures come from the pytest11 entry point
    result.assert_outcomes(passed=1, failed=1)


def test_declared_unused_parameters_pass():
    class Declared(DeadParamPolicy):
        unused_parameters = ("unused.",)

    assert check_policy(Declared, LineEnv().observation_spec).ok
