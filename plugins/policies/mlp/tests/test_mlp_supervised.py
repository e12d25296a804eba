"""The mlp policy learns from demonstrations (NLL / MSE) and conditions on the task."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlarl.contracts.dataset import DemoBatch
from vlarl.contracts.spaces import ActionDim, ActionSpec, ObservationSpec
from vlarl.errors import ConfigError, ContractError
from vlarl.testing import synthetic_obs
from vlarl_mlp.policy import MLPPolicy
from vlarl_mlp.register import MLPPolicyConfig

TASKS = ("open the drawer", "pick up the bowl")
SPEC = ObservationSpec(states=(3,), tasks=TASKS)
BOX = ActionSpec((ActionDim("x", -2.0, 2.0), ActionDim("g", -1.0, 1.0, "gripper")))


def test_conformance_with_task_embedding(vlarl_check_policy):
    cfg = MLPPolicyConfig(task_embedding_dim=4, num_action_chunks=2)
    obs = {**synthetic_obs(SPEC, 3), "task_descriptions": [*TASKS, TASKS[0]]}
    vlarl_check_policy(lambda: MLPPolicy(cfg, SPEC, BOX), SPEC, obs=obs)


def _fit(policy: MLPPolicy, batch: DemoBatch, steps: int = 400, lr: float = 3e-3) -> None:
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        policy.supervised_loss(batch).loss.backward()
        opt.step()


def test_one_policy_learns_two_tasks_from_the_same_state():
    """Same state, different task text, different demonstrated action: only the task embedding can tell them apart."""
    torch.manual_seed(0)
    policy = MLPPolicy(MLPPolicyConfig(task_embedding_dim=4, num_action_chunks=1), SPEC, BOX)
    obs = {"states": np.zeros((2, 3), np.float32), "task_descriptions": list(TASKS)}
    target = np.array([[[1.5, -1.0]], [[-1.5, 1.0]]], np.float32)  # env units
    _fit(policy, DemoBatch(obs, target, np.ones((2, 1), bool)))
    out = policy.act(obs, deterministic=True).actions.numpy()
    np.testing.assert_allclose(out, target, atol=0.05)
    blind = MLPPolicy(MLPPolicyConfig(num_action_chunks=1), ObservationSpec(states=(3,)), BOX)
    _fit(blind, DemoBatch(obs, target, np.ones((2, 1), bool)))
    assert np.abs(blind.act(obs, deterministic=True).actions.numpy() - target).max() > 1.0  # cannot tell them apart


def test_nll_fits_the_demonstrations_spread_and_mse_leaves_the_std():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n = 512
    obs = {"states": np.zeros((n, 3), np.float32), "task_descriptions": [TASKS[0]] * n}
    # dim 0: mean 0.5, std 0.2 in env units (scale 2 -> 0.1 in policy units); dim 1 (gripper): mean -0.5, std 0.05
    actions = np.stack([0.5 + 0.2 * rng.standard_normal(n), -0.5 + 0.05 * rng.standard_normal(n)], -1)[:, None]
    batch = DemoBatch(obs, actions.astype(np.float32), np.ones((n, 1), bool))
    spec = ObservationSpec(states=(3,))
    nll = MLPPolicy(MLPPolicyConfig(sft_loss="nll"), spec, BOX)
    _fit(nll, batch, 1500, lr=1e-2)
    std = nll.log_std.detach().exp().numpy()[0]
    np.testing.assert_allclose(std, [0.1, 0.05], rtol=0.2)
    mse = MLPPolicy(MLPPolicyConfig(sft_loss="mse", init_log_std=-0.5), spec, BOX)
    _fit(mse, batch, 300)
    np.testing.assert_allclose(mse.log_std.detach().numpy(), -0.5)
    np.testing.assert_allclose(mse.act(obs, deterministic=True).actions[0, 0].numpy(), [0.5, -0.5], atol=0.05)


def test_masked_steps_do_not_count():
    torch.manual_seed(0)
    policy = MLPPolicy(MLPPolicyConfig(num_action_chunks=2), ObservationSpec(states=(3,)), BOX)
    obs = {"states": np.zeros((1, 3), np.float32), "task_descriptions": ["t"]}
    base = np.zeros((1, 2, 2), np.float32)
    far = base.copy()
    far[0, 1] = [2.0, 1.0]
    mask = np.array([[True, False]])
    a = policy.supervised_loss(DemoBatch(obs, base, mask)).loss
    b = policy.supervised_loss(DemoBatch(obs, far, mask)).loss
    assert torch.equal(a, b)
    assert policy.supervised_loss(DemoBatch(obs, far, np.ones((1, 2), bool))).loss > a


def test_task_vocabulary_errors_are_clear():
    with pytest.raises(ConfigError, match="no task descriptions are known"):
        MLPPolicy(MLPPolicyConfig(task_embedding_dim=4), ObservationSpec(states=(3,)), BOX)
    with pytest.raises(ConfigError, match="sft_loss"):
        MLPPolicy(MLPPolicyConfig(sft_loss="l2"), SPEC, BOX)
    policy = MLPPolicy(MLPPolicyConfig(task_embedding_dim=4, tasks=["b", "a"]), ObservationSpec(states=(3,)), BOX)
    assert policy.tasks == ("a", "b")
    with pytest.raises(ContractError, match="'c' is not one of the 2 tasks"):
        policy.act({"states": np.zeros((1, 3), np.float32), "task_descriptions": ["c"]})


def test_fitted_state_normalization_is_used_and_saved():
    from vlarl.contracts.dataset import DemoStatistics

    torch.manual_seed(0)
    spec = ObservationSpec(states=(3,))
    policy = MLPPolicy(MLPPolicyConfig(min_state_std=0.1), spec, BOX)
    obs = {"states": np.array([[10.0, 0.0, 5.0]], np.float32), "task_descriptions": ["t"]}
    before = policy.act(obs, deterministic=True).actions
    stats = DemoStatistics(np.array([10.0, 0.0, 5.0], np.float32), np.array([2.0, 0.0, 1.0], np.float32), None, None)
    policy.fit_normalization(stats)
    sd = policy.state_dict()
    assert torch.equal(sd["actor_encoder.state_std"], torch.tensor([2.0, 0.1, 1.0]))  # floored
    assert torch.equal(sd["critic_encoder.state_mean"], torch.tensor([10.0, 0.0, 5.0]))
    zero = {"states": np.zeros((1, 3), np.float32), "task_descriptions": ["t"]}
    fresh = MLPPolicy(MLPPolicyConfig(min_state_std=0.1), spec, BOX)
    fresh.load_state_dict(policy.state_dict())
    # normalized input 0 = the raw mean; the unfitted policy sees the raw values
    assert torch.allclose(fresh.act(obs, deterministic=True).actions, policy.act(obs, deterministic=True).actions)
    assert not torch.allclose(before, policy.act(obs, deterministic=True).actions)
    unfitted = MLPPolicy(MLPPolicyConfig(min_state_std=0.1), spec, BOX)
    unfitted.load_state_dict({k: v for k, v in policy.state_dict().items() if "state_" not in k}, strict=False)
    assert torch.allclose(unfitted.act(zero, deterministic=True).actions, policy.act(obs, deterministic=True).actions)


def test_relative_positions_are_object_minus_gripper():
    names = ("eef_pos.x", "eef_pos.y", "eef_pos.z", "g", "bowl.pos.x", "bowl.pos.y", "bowl.pos.z", "bowl.quat.w")
    spec = ObservationSpec(states=(8,), state_names=names)
    policy = MLPPolicy(MLPPolicyConfig(relative_positions=True), spec, BOX)
    assert policy.actor_encoder.out_dim == 8 + 3
    states = torch.tensor([[0.1, 0.2, 0.3, 0.0, 0.15, 0.1, 0.3, 1.0]])
    feats = policy.actor_encoder({"states": states})
    torch.testing.assert_close(feats[0, 8:], torch.tensor([0.5, -1.0, 0.0]))  # (bowl - eef) x 10
    with pytest.raises(ConfigError, match="eef_pos"):
        MLPPolicy(MLPPolicyConfig(relative_positions=True), ObservationSpec(states=(3,)), BOX)
