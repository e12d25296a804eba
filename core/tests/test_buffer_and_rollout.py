import numpy as np
import torch
from toys import GaussPolicy, LineEnv

from vlarl.runner.rollout import collect_rollout


def test_rollout_buffer_shapes_and_truncation_bootstrap():
    torch.manual_seed(0)
    env = LineEnv(num_envs=3, max_episode_steps=4, goal=100.0)  # never succeeds: every episode truncates
    policy = GaussPolicy(chunk=2)
    obs, _ = env.reset(seed=0)
    buffer, _, episodes = collect_rollout(env, policy, obs, n_chunks=5)
    assert buffer.rewards.shape == (5, 3, 2) and buffer.valid.shape == (5, 3, 2)
    assert buffer.log_probs.shape == (5, 3, 2) and buffer.values.shape == (5, 3)
    assert buffer.replay["states"].shape == (5, 3, 1)
    assert buffer.last_values.shape == (3,)
    # episodes of 4 steps = 2 chunks: truncated at the end of chunks 1 and 3
    truncated_chunks = buffer.truncations.any(-1).any(-1).nonzero().flatten().tolist()
    assert truncated_chunks == [1, 3]
    assert buffer.bootstrap_values is not None
    assert torch.all(buffer.bootstrap_values[0] == 0) and torch.all(buffer.bootstrap_values[1] != 0)
    assert episodes.count == 6 and set(episodes.metrics["episode_len"]) == {4.0}


def test_gripper_sign_is_converted_between_policy_and_env():
    env = LineEnv(num_envs=1)
    policy = GaussPolicy(chunk=1)
    policy.gripper_convention = "close_positive"
    seen = []
    original = env.step_envs
    env.step_envs = lambda ids, actions: (seen.append(actions.copy()), original(ids, actions))[1]
    obs, _ = env.reset(seed=0)
    out = policy.act(obs, deterministic=True)
    from vlarl.runner.rollout import to_env_actions

    env.chunk_step(to_env_actions(env, policy, out.actions))
    assert np.isclose(seen[0][0, 1], -out.actions[0, 0, 1].item())
    assert np.isclose(seen[0][0, 0], out.actions[0, 0, 0].item())
