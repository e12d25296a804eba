"""PPO update behaviour on real rollouts (gymnasium env plugin + mlp policy plugin)."""

from __future__ import annotations

import copy
import io
import math
import subprocess
import sys

import pytest
import torch

from vlarl.errors import ConfigError
from vlarl.plugins.build import build_algo
from vlarl.runner.rollout import collect_rollout
from vlarl.testing import check_algorithm
from vlarl_ppo.algorithm import PPO, NonFiniteLossError
from vlarl_ppo.register import PPOConfig

REQUIRED_METRICS = {
    "actor/loss",
    "actor/policy_loss",
    "actor/value_loss",
    "actor/entropy",
    "actor/grad_norm",
    "actor/approx_kl",
    "actor/pg_clipfrac",
    "actor/value_clip_ratio",
    "actor/lr",
    "critic/explained_variance",
}


def rollout(env, policy, n_chunks=8, seed=0):
    torch.manual_seed(seed)
    obs, _ = env.reset(seed=seed)
    buf, _, _ = collect_rollout(env, policy, obs, n_chunks)
    return buf


def params(policy) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in policy.named_parameters()}


def test_conformance_kit_passes(make_env, make_policy) -> None:
    report = check_algorithm(lambda: PPO(PPOConfig(num_minibatches=2)), make_policy, make_env, name="ppo")
    report.raise_if_failed()


def test_registered_and_built_from_config() -> None:
    algo = build_algo("ppo", {"clip_ratio_high": 0.28, "reward_type": "action_level"})
    assert isinstance(algo, PPO) and algo.cfg.clip_ratio_high == 0.28 and algo.requires_critic


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"reward_type": "token_level"}, "reward_type"),
        ({"clip_ratio_c": 0.5}, "clip_ratio_c"),
        ({"value_loss": "l1"}, "value_loss"),
        ({"clip_ratio": 0.2}, "clip_ratio"),  # unknown key: the registry names the nearest valid one
    ],
)
def test_bad_settings_fail_naming_the_key(section, key) -> None:
    with pytest.raises(ConfigError, match=key):
        build_algo("ppo", section)


def test_register_module_is_light() -> None:
    code = "import sys, vlarl_ppo.register; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_metrics_named_as_the_seeds_and_finite(make_env, make_policy) -> None:
    env = make_env()
    policy = make_policy(env)
    buf = rollout(env, policy)
    algo = PPO(PPOConfig(num_minibatches=2, update_epochs=2))
    algo.setup(policy)
    rollout_metrics = algo.compute_advantages(buf)
    assert set(rollout_metrics) == {"rollout/returns_mean", "rollout/advantages_mean", "rollout/rewards_mean"}
    metrics = algo.update(policy, buf)
    assert set(metrics) >= REQUIRED_METRICS
    assert all(math.isfinite(v) for v in metrics.values())
    assert metrics["actor/minibatch_steps"] == 4


def test_separate_actor_and_critic_learning_rates(make_env, make_policy) -> None:
    env = make_env()
    policy = make_policy(env)
    algo = PPO(PPOConfig(lr=1e-4, critic_lr=1e-3))
    algo.setup(policy)
    groups = {g["name"]: g for g in algo.optimizer.param_groups}
    assert groups["actor"]["lr"] == 1e-4 and groups["critic"]["lr"] == 1e-3
    names = {id(p): n for n, p in policy.named_parameters()}
    assert all("value_head" in names[id(p)] or "critic" in names[id(p)] for p in groups["critic"]["params"])
    assert not any("value_head" in names[id(p)] for p in groups["actor"]["params"])


def test_critic_warmup_trains_only_the_critic(make_env, make_policy) -> None:
    env = make_env()
    policy = make_policy(env)
    buf = rollout(env, policy)
    algo = PPO(PPOConfig(critic_warmup_steps=1, num_minibatches=2))
    algo.setup(policy)
    algo.compute_advantages(buf)
    before = params(policy)
    m = algo.update(policy, buf)
    after = params(policy)
    critic = [n for n in before if "value_head" in n or "critic" in n]
    actor = [n for n in before if n not in critic]
    assert m["actor/critic_warmup"] == 1.0
    assert all(torch.equal(before[n], after[n]) for n in actor)
    assert any(not torch.equal(before[n], after[n]) for n in critic)
    algo.update(policy, buf)  # warm-up over: the actor moves
    assert any(not torch.equal(after[n], p.detach()) for n, p in policy.named_parameters() if n in actor)


def test_nan_loss_stops_before_the_optimizer_step(make_env, make_policy) -> None:
    env = make_env()
    policy = make_policy(env)
    buf = rollout(env, policy)
    algo = PPO(PPOConfig())
    algo.setup(policy)
    algo.compute_advantages(buf)
    evaluate = policy.evaluate

    def broken(replay):
        out = evaluate(replay)
        out.log_probs = out.log_probs * float("nan")
        return out

    policy.evaluate = broken
    before = params(policy)
    with pytest.raises(NonFiniteLossError, match="actor/policy_loss"):
        algo.update(policy, buf)
    assert all(torch.equal(before[n], p.detach()) for n, p in policy.named_parameters())


def test_resume_is_exact(make_env, make_policy) -> None:
    env = make_env()
    torch.manual_seed(0)
    policy0 = make_policy(env)
    b1, b2 = rollout(env, policy0, seed=1), rollout(env, policy0, seed=2)
    cfg = PPOConfig(num_minibatches=4, update_epochs=2, seed=3)

    straight, algo = copy.deepcopy(policy0), PPO(cfg)
    algo.setup(straight)
    for b in (b1, b2):
        algo.compute_advantages(b)
        algo.update(straight, b)

    first, algo1 = copy.deepcopy(policy0), PPO(cfg)
    algo1.setup(first)
    algo1.compute_advantages(b1)
    algo1.update(first, b1)
    blob = io.BytesIO()
    torch.save({"policy": first.state_dict(), "algo": algo1.state_dict()}, blob)
    blob.seek(0)
    ckpt = torch.load(blob, weights_only=True)

    resumed, algo2 = copy.deepcopy(policy0), PPO(cfg)
    resumed.load_state_dict(ckpt["policy"])
    algo2.load_state_dict(ckpt["algo"])  # before setup: applied once the optimizer exists
    algo2.setup(resumed)
    assert algo2.num_updates == 1
    algo2.compute_advantages(b2)
    algo2.update(resumed, b2)
    for (n, p), q in zip(straight.named_parameters(), resumed.parameters()):
        assert torch.equal(p, q), n


@pytest.mark.parametrize(("value_type", "reward_type"), [("action", "action_level"), ("action", "chunk_level")])
def test_chunked_policy_updates_at_both_reward_levels(make_env, make_policy, value_type, reward_type) -> None:
    env = make_env()
    policy = make_policy(env, num_action_chunks=3, value_type=value_type)
    buf = rollout(env, policy, n_chunks=10)
    assert (~buf.valid).any(), "the rollout should contain episodes ending inside a chunk"
    algo = PPO(PPOConfig(reward_type=reward_type, num_minibatches=2))
    algo.setup(policy)
    algo.compute_advantages(buf)
    expected = (10, 4, 3) if reward_type == "action_level" else (10, 4)
    assert tuple(buf.advantages.shape) == expected
    metrics = algo.update(policy, buf)
    assert all(math.isfinite(v) for v in metrics.values())


def test_token_level_log_probs(make_env, make_policy) -> None:
    """A policy declaring per-dimension ("token") log-probs [N, C, K] trains through the same update."""
    env = make_env("Pendulum-v1")
    policy = make_policy(env, num_action_chunks=2)
    act, evaluate = policy.act, policy.evaluate

    def act_tokens(obs, deterministic=False):
        out = act(obs, deterministic)
        dist = policy._dist(out.replay)
        out.log_probs = dist.log_prob(out.replay["raw_actions"])  # [N, C, A]: no sum over dims
        return out

    def evaluate_tokens(replay):
        out = evaluate(replay)
        dist = policy._dist(replay)
        out.log_probs, out.entropy = dist.log_prob(replay["raw_actions"]), dist.entropy()
        return out

    policy.act, policy.evaluate = act_tokens, evaluate_tokens
    buf = rollout(env, policy)
    assert buf.log_probs.dim() == 4
    algo = PPO(PPOConfig(num_minibatches=2))
    algo.setup(policy)
    algo.compute_advantages(buf)
    metrics = algo.update(policy, buf)
    assert metrics["actor/approx_kl"] >= 0 and all(math.isfinite(v) for v in metrics.values())
