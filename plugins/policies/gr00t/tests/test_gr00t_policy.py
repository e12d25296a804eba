"""GR00T policy behaviour on the tiny preset: contract, log-prob references, bad input."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from gr00t_fixtures import fixed_draw, libero_entry, make_obs, tiny_config

from vlarl.contracts.spaces import ActionSpec, ObservationSpec
from vlarl.errors import ConfigError, ContractError
from vlarl_gr00t.policy import Gr00tPolicy, build_policy

OBS_SPEC = ObservationSpec(states=(8,), images=(3, 32, 32), wrist_images=(3, 32, 32))


def _policy(**kw) -> Gr00tPolicy:
    torch.manual_seed(0)
    return build_policy(tiny_config(**kw), observation_spec=OBS_SPEC, action_spec=ActionSpec.box(7), use_hooks=False)


def _velocities(policy: Gr00tPolicy, replay: dict) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Network velocity (and reinflow std) at each stored chain point; the formulas are then applied in NumPy."""
    with torch.no_grad():
        enc = policy.encode(replay)
        chain = replay["chain"]
        vs, stds = [], []
        for k in range(policy.num_steps):
            kk = torch.full((chain.shape[0],), k)
            v, feats = policy.velocity(chain[:, k], kk, enc)
            vs.append(v.double().numpy())
            stds.append(
                policy.noise_head(feats, kk.float() / policy.num_steps).double().numpy()
                if policy.noise_head is not None
                else None
            )
    return vs, stds


def _ref_mean_std(method: str, x: np.ndarray, v: np.ndarray, k: int, K: int, a: float, learned: np.ndarray | None):
    t, dt = k / K, 1.0 / K
    if method == "reinflow":
        return x + v * dt, learned
    sigma = a * math.sqrt((1 - t) / (t if k else 1 / K))
    mean = (x - v * t) * (1 - t - dt - sigma**2 * dt / (2 * (1 - t))) + (x + v * (1 - t)) * (t + dt)
    return mean, np.full_like(x, math.sqrt(dt) * sigma)


def _ref_logn(y, m, s):
    return -((y - m) ** 2) / (2 * s**2) - np.log(s) - 0.5 * math.log(2 * math.pi)


@pytest.mark.parametrize("method", ["flow_sde", "reinflow"])
@pytest.mark.parametrize("joint", [False, True])
def test_log_probs_match_numpy_reference(method: str, joint: bool) -> None:
    policy = _policy(rl={"noise_method": method, "joint_logprob": joint, "noise_std_min": 0.05, "noise_std_max": 0.3})
    out = policy.act(make_obs(3))
    chain = out.replay["chain"].double().numpy()
    idx = out.replay["denoise_index"].numpy()
    vs, stds = _velocities(policy, out.replay)
    K, C, A = policy.num_steps, policy.action_chunk, policy.action_dim
    expected = np.zeros((3, C))
    for i in range(3):
        total = np.zeros(chain.shape[2:])
        if joint:
            total += _ref_logn(chain[i, 0], 0.0, 1.0)
        for k in range(K):
            x, y = chain[i, k], chain[i, k + 1]
            learned = stds[k][i] if stds[k] is not None else None
            mean, std = _ref_mean_std(method, x, vs[k][i], k, K, 0.5, learned)
            if joint or k == idx[i]:
                total += _ref_logn(y, mean, std)
            else:  # non-sampled steps follow the Euler integrator exactly
                np.testing.assert_allclose(y, x + vs[k][i] / K, atol=1e-5)
        expected[i] = total[:C, :A].sum(-1)
    if not joint:
        assert set(idx.tolist()) <= set(range(K))
    np.testing.assert_allclose(out.log_probs.double().numpy(), expected, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize(
    "rl",
    [
        {"noise_method": "flow_sde"},
        {"noise_method": "reinflow", "joint_logprob": True},
        {"noise_method": "flow_sde", "joint_logprob": True, "chain_logprob_reduction": "mean"},
    ],
)
def test_conformance_kit(rl: dict, vlarl_check_policy: Callable[..., Any]) -> None:
    vlarl_check_policy(lambda: fixed_draw(_policy(rl=rl)), OBS_SPEC, batch_size=2, obs=make_obs(2), name="gr00t")


def test_mean_chain_reduction_is_the_sum_over_k_plus_one() -> None:
    """RLinf averages the K+1 joint terms (prior + K steps): the same chain scores sum / (K + 1)."""
    summed = _policy(rl={"joint_logprob": True})
    mean = _policy(rl={"joint_logprob": True, "chain_logprob_reduction": "mean"})
    mean.load_state_dict(summed.state_dict())
    out = summed.act(make_obs(2))
    ev_sum, ev_mean = summed.evaluate(out.replay), mean.evaluate(out.replay)
    k1 = summed.num_steps + 1
    torch.testing.assert_close(ev_mean.log_probs, ev_sum.log_probs / k1)
    torch.testing.assert_close(ev_mean.entropy, ev_sum.entropy / k1)
    single = _policy(rl={"chain_logprob_reduction": "mean"})  # one stochastic step: nothing to average
    single.load_state_dict(summed.state_dict())
    ref = _policy()
    ref.load_state_dict(summed.state_dict())
    replay = ref.act(make_obs(2)).replay
    torch.testing.assert_close(single.evaluate(replay).log_probs, ref.evaluate(replay).log_probs)


def test_noise_level_zero_is_the_deterministic_integrator() -> None:
    policy = _policy(rl={"noise_method": "flow_sde", "noise_level": 0.0})
    out = policy.act(make_obs(2))
    chain = out.replay["chain"]
    vs, _ = _velocities(policy, out.replay)
    x = chain[:, 0].double().numpy()
    for k in range(policy.num_steps):
        x = x + vs[k] / policy.num_steps  # Euler, as upstream get_action
    np.testing.assert_allclose(chain[:, -1].double().numpy(), x, atol=1e-5)
    # Same weights and the same x_0: a tiny noise level stays within O(noise) of the deterministic chain.
    small = _policy(rl={"noise_method": "flow_sde", "noise_level": 1e-4})
    det = _policy(rl={"noise_method": "deterministic"})
    torch.manual_seed(5)
    a = small.act(make_obs(2)).replay["chain"][:, -1]
    torch.manual_seed(5)
    b = det.act(make_obs(2)).replay["chain"][:, -1]
    assert 0 < float((a - b).abs().max()) < 1e-2


def test_actions_are_unnormalized_valid_dims_of_executed_steps() -> None:
    policy = _policy()
    out = policy.act(make_obs(2), deterministic=True)
    norm = out.replay["chain"][:, -1, :5, :7].double().numpy()  # no clipping before un-normalizing (official)
    stats = libero_entry()["statistics"]["action"]
    lo = np.concatenate([stats[k]["min"] for k in ("action.x", "action.rot", "action.gripper")])
    hi = np.concatenate([stats[k]["max"] for k in ("action.x", "action.rot", "action.gripper")])
    np.testing.assert_allclose(out.actions.double().numpy(), (norm + 1) / 2 * (hi - lo) + lo, rtol=1e-5, atol=1e-5)
    assert out.replay["chain"].shape[-1] == 16  # padded to the model's max action dim


def test_evaluate_gradients_reach_action_head_not_frozen_backbone() -> None:
    policy = _policy()
    out = policy.act(make_obs(2))
    ev = policy.evaluate(out.replay)
    (-ev.log_probs.mean() + ev.values.pow(2).mean()).backward()
    head_grads = [p.grad for p in policy.model.action_head.parameters()]
    assert all(g is not None for g in head_grads) and any(float(g.abs().sum()) > 0 for g in head_grads)
    assert all(p.grad is None for p in policy.model.backbone.eagle_model.language_model.parameters())
    assert policy.value_head.net[-1].weight.grad is not None


def test_tune_visual_trains_the_vision_tower() -> None:
    policy = _policy(tune_visual=True)
    ev = policy.evaluate(policy.act(make_obs(2)).replay)
    ev.log_probs.mean().backward()
    grads = [p.grad for p in policy.model.backbone.eagle_model.vision_model.parameters()]
    assert any(g is not None and float(g.abs().sum()) > 0 for g in grads)


def test_disable_dropout() -> None:
    on = _policy(rl={"disable_dropout": True})
    off = _policy(rl={"disable_dropout": False})
    assert not any(isinstance(m, torch.nn.Dropout) for m in on.modules())
    assert sum(isinstance(m, torch.nn.Dropout) for m in off.modules()) > 0


def test_unknown_embodiment_lists_present_tags() -> None:
    with pytest.raises(ConfigError, match="present: libero_franka") as err:
        build_policy(tiny_config(embodiment_tag="gr1_arms"), use_hooks=False)
    assert "policy.embodiments" in str(err.value)


def test_missing_camera_and_state_fail_before_forward() -> None:
    policy = _policy()
    calls = []
    policy.model.backbone.register_forward_hook(lambda *a: calls.append(1))
    obs = make_obs(2)
    del obs["wrist_images"]
    with pytest.raises(ContractError, match=r"video\.wrist_image"):
        policy.act(obs)
    obs = make_obs(2)
    obs["states"] = obs["states"][:, :6]
    with pytest.raises(ContractError, match=r"state\.x:3, state\.rot:3, state\.gripper:2"):
        policy.act(obs)
    assert not calls
    with pytest.raises(ConfigError, match="wrist_images"):
        build_policy(tiny_config(), observation_spec=ObservationSpec(states=(8,), images=(3, 32, 32)), use_hooks=False)


def test_action_dim_larger_than_model_max() -> None:
    entry = libero_entry()
    entry["modalities"]["action"]["action.x"] = {"shape": [20]}
    entry["statistics"]["action"]["action.x"] = {"min": [-1.0] * 20, "max": [1.0] * 20}
    with pytest.raises(ConfigError, match="action_dim is 16"):
        build_policy(tiny_config(embodiments={"libero_franka": entry}), use_hooks=False)
    with pytest.raises(ConfigError, match="env's action has 6 dims"):
        build_policy(tiny_config(), action_spec=ActionSpec.box(6), use_hooks=False)


def test_embodiment_from_plugin_hook() -> None:
    import vlarl
    from vlarl.plugins.registry import get_registry
    from vlarl_gr00t.policy import hook_embodiments

    class Extension:
        @vlarl.hookimpl
        def vlarl_gr00t_embodiments(self) -> dict:
            return {"my_arm": libero_entry(embodiment_id=2)}

    hook_embodiments()  # adds the hookspec
    pm = get_registry().pm
    ext = Extension()
    pm.register(ext, name="test-gr00t-extension")
    try:
        cfg = tiny_config(embodiment_tag="my_arm", embodiments={})
        policy = build_policy(cfg)
        assert policy.embodiment.embodiment_id == 2 and policy.action_dim == 7
    finally:
        pm.unregister(ext)


def test_predict_values_and_bf16() -> None:
    policy = _policy()
    obs = make_obs(2)
    out = policy.act(obs)
    torch.testing.assert_close(policy.predict_values(obs), out.values)
    torch.manual_seed(0)
    half = build_policy(tiny_config(dtype="bfloat16"), use_hooks=False)
    out = half.act(obs)
    assert out.actions.dtype == torch.float32 and out.replay["chain"].dtype == torch.bfloat16
    ev = half.evaluate(out.replay)
    assert float((ev.log_probs.detach() - out.log_probs).abs().max()) < 0.5  # bf16 rounding only


def test_fsdp_units_shard_every_block_and_evaluate_as_before(tmp_path) -> None:
    """One-rank FSDP2 over fsdp_units(): the DiT blocks run once per denoising step in a forward and are
    gathered at each call; log-probs and gradients must equal the unwrapped policy's."""
    import copy

    import torch.distributed as dist
    from torch.distributed.fsdp import FSDPModule

    from vlarl.distributed.parallel import shard_policy

    policy = _policy(tune_visual=True, rl={"joint_logprob": True})  # every denoising step in the log-prob
    units = {n for n, m in policy.named_modules() if any(m is u for u in policy.fsdp_units())}
    eagle = "model.backbone.eagle_model."
    lists = (f"{eagle}vision_model.vision_model.encoder.layers.", f"{eagle}language_model.model.layers.",
             "model.action_head.vl_self_attention.transformer_blocks.", "model.action_head.model.transformer_blocks.")  # fmt: skip
    expected = {n for n, _ in policy.named_modules() for pre in lists if n.startswith(pre) and n[len(pre) :].isdigit()}
    assert units == expected and len(units) == 6
    replay = policy.act(make_obs(2)).replay
    plain = copy.deepcopy(policy)
    ref = plain.evaluate(replay)
    ref.log_probs.sum().backward()
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        shard_policy(policy)
        assert {n for n, m in policy.named_modules() if isinstance(m, FSDPModule)} == {""} | units
        out = policy.evaluate(replay)
        torch.testing.assert_close(out.log_probs, ref.log_probs, rtol=1e-5, atol=1e-5)
        out.log_probs.sum().backward()
        grads = {n: p.grad.full_tensor() for n, p in policy.named_parameters() if p.grad is not None}
        want = {n: p.grad for n, p in plain.named_parameters() if p.grad is not None}
        assert grads.keys() == want.keys() and any(n.startswith("model.action_head.model.") for n in grads)
        for n in want:
            torch.testing.assert_close(grads[n], want[n], rtol=1e-4, atol=1e-6, msg=n)
    finally:
        dist.destroy_process_group()
