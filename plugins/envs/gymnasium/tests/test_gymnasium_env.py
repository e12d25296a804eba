import numpy as np
import pytest

from vlarl.errors import ConfigError
from vlarl_gymnasium.env import GymnasiumChunkedEnv
from vlarl_gymnasium.register import GymnasiumEnvConfig


def make(**kw):
    return GymnasiumChunkedEnv(GymnasiumEnvConfig(**kw))


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_conformance(vlarl_check_env, env_id):
    vlarl_check_env(lambda: make(env_id=env_id, num_envs=4), chunk_len=8, name=env_id)


def test_rendered_images_are_uint8_channels_first():
    env = make(num_envs=2, render_images=True, image_size=32)
    obs, _ = env.reset(seed=0)
    assert obs["images"].shape == (2, 3, 32, 32) and obs["images"].dtype == np.uint8
    assert obs["images"].std() > 0  # a real frame, not a blank buffer
    env.close()


def test_discrete_actions_are_rounded_and_clipped():
    env = make(num_envs=1)
    assert env.action_spec.dims[0].kind == "discrete" and env.action_spec.high[0] == 1
    env.reset(seed=0)
    pushes = [env.chunk_step(np.full((1, 1, 1), v, np.float32)).observations["states"][0, 1] for v in (0.9, 5.0)]
    assert pushes[0] > 0 and pushes[1] > pushes[0]  # both push right (action 1): cart velocity grows


def test_same_seed_same_start_and_limit_from_registry():
    a, b = make(num_envs=2), make(num_envs=2)
    assert np.array_equal(a.reset(seed=5)[0]["states"], b.reset(seed=5)[0]["states"])
    assert a.max_episode_steps == 500 and make(max_episode_steps=7).max_episode_steps == 7


def test_unknown_env_id_is_a_clear_error():
    with pytest.raises(ConfigError, match="NoSuchEnv-v0"):
        make(env_id="NoSuchEnv-v0")
