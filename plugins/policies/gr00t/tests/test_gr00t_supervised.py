"""Supervised fine-tuning on the tiny preset: the official time draw, timestep discretization, the tune_* flags,
frozen parts in eval mode, reproducible draws and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gr00t_fixtures import make_obs, tiny_config
from torch.distributions import Beta

from vlarl.contracts.dataset import DemoBatch
from vlarl.contracts.spaces import ActionSpec, ObservationSpec
from vlarl.errors import ContractError
from vlarl_gr00t import flow_matching as fm
from vlarl_gr00t.policy import Gr00tPolicy, build_policy
from vlarl_gr00t.register import Gr00tConfig

OBS_SPEC = ObservationSpec(states=(8,), images=(3, 32, 32), wrist_images=(3, 32, 32))
FLAGS = {
    "tune_llm": ("model.backbone.eagle_model.language_model.",),
    "tune_visual": ("model.backbone.eagle_model.vision_model.", "model.backbone.eagle_model.mlp1."),
    "tune_projector": tuple(
        f"model.action_head.{m}." for m in ("state_encoder", "action_encoder", "action_decoder", "position_embedding")
    ),
    "tune_diffusion_model": ("model.action_head.model.",),
}
ALWAYS = ("model.action_head.vlln.", "model.action_head.vl_self_attention.", "model.action_head.future_tokens.")


def _policy(**kw) -> Gr00tPolicy:
    torch.manual_seed(0)
    return build_policy(tiny_config(**kw), observation_spec=OBS_SPEC, action_spec=ActionSpec.box(7), use_hooks=False)


def _batch(n: int = 2, chunk: int = 5, seed: int = 0) -> DemoBatch:
    rng = np.random.default_rng(seed)
    mask = np.ones((n, chunk), dtype=bool)
    mask[0, -1] = False
    return DemoBatch(make_obs(n, seed), rng.uniform(-1, 1, (n, chunk, 7)).astype(np.float32), mask)  # type: ignore[arg-type]


def test_time_draw_is_the_official_beta() -> None:
    dist = fm.TimeDistribution.from_head(_policy().model.action_head.cfg)  # the tiny preset sets none: defaults
    assert dist == fm.TimeDistribution(1.5, 1.0, 0.999)
    torch.manual_seed(3)
    noise = torch.randn(5, 4, 6)  # the official order: noise, then t (flow_matching_action_head.py:307-308)
    t = (0.999 - Beta(1.5, 1.0).sample([5])) / 0.999
    torch.manual_seed(3)
    by_seed = fm.draw((5, 4, 6), dist, torch.device("cpu"), torch.float32)
    by_generator = fm.draw((5, 4, 6), dist, torch.device("cpu"), torch.float32, torch.Generator().manual_seed(3))
    for d in (by_seed, by_generator):
        assert torch.equal(d.noise, noise) and torch.equal(d.t, t)
    many = fm.draw((40_000, 1, 1), dist, torch.device("cpu"), torch.float32, torch.Generator().manual_seed(0)).t
    assert float(many.min()) >= (0.999 - 1) / 0.999 - 1e-7 and float(many.max()) <= 1.0
    assert abs(float(many.mean()) - (0.999 - 1.5 / 2.5) / 0.999) < 0.006  # E[Beta(a, b)] = a / (a + b)
    assert abs(float((many > 0.5).float().mean()) - 0.4995**1.5) < 0.01  # Beta(a, 1) has CDF x^a


def test_timesteps_truncate_toward_zero() -> None:
    t = torch.tensor([1 / 6, 4 / 6, 0.9999, 1.0, -0.0005, -0.001001, 0.0])
    assert fm.discretize(t, 1000).tolist() == [int(v * 1000) for v in t.tolist()] == [166, 666, 999, 1000, 0, -1, 0]


def test_defaults_are_the_finetune_scripts() -> None:
    c = Gr00tConfig()
    assert (c.tune_llm, c.tune_visual, c.tune_projector, c.tune_diffusion_model) == (False, False, True, True)


@pytest.mark.parametrize("off", [(), *((f,) for f in FLAGS), tuple(FLAGS)])
def test_tune_flags_freeze_exactly_what_they_say(off: tuple[str, ...]) -> None:
    flags = {f: f not in off for f in FLAGS}
    policy = _policy(**flags)
    names = [n for n, _ in policy.named_parameters()]
    frozen = {n for n, p in policy.named_parameters() if not p.requires_grad}
    assert frozen == {n for n in names if any(n.startswith(p) for f, ps in FLAGS.items() if not flags[f] for p in ps)}
    for prefix in (*ALWAYS, "value_head."):
        assert any(n.startswith(prefix) for n in names) and not any(n.startswith(prefix) for n in frozen)
    policy.train()
    policy.supervised_loss(_batch(), generator=torch.Generator().manual_seed(0)).loss.backward()
    grads = {n: p.grad for n, p in policy.named_parameters()}
    assert all(grads[n] is None for n in frozen)
    for prefix in (*ALWAYS, *(p for f, ps in FLAGS.items() if flags[f] for p in ps)):
        assert any(g is not None and float(g.abs().sum()) > 0 for n, g in grads.items() if n.startswith(prefix)), prefix


def test_frozen_parts_stay_in_eval_mode_while_training() -> None:
    """Upstream's set_frozen_modules_to_eval_mode: frozen modules keep their dropout off; mlp1 is not among them."""
    policy = _policy(tune_projector=False, tune_diffusion_model=False, rl={"disable_dropout": False})
    eagle, head = policy.model.backbone.eagle_model, policy.model.action_head
    policy.train()
    frozen = [eagle.language_model, eagle.vision_model, head.model, head.state_encoder, head.action_decoder]
    assert not any(m.training for m in frozen)
    assert eagle.mlp1.training and head.vl_self_attention.training and policy.training
    policy.eval()
    assert not any(m.training for m in policy.modules())
    trained = _policy(tune_visual=True, rl={"disable_dropout": False}).train()
    assert trained.model.backbone.eagle_model.vision_model.training and trained.model.action_head.model.training


def test_draws_are_injectable_and_reproducible() -> None:
    policy, batch = _policy(), _batch()

    def loss(seed: int) -> float:
        with torch.no_grad():
            return float(policy.supervised_loss(batch, generator=torch.Generator().manual_seed(seed)).loss)

    assert loss(1) == loss(1) != loss(2)
    shape = (2, 8, 16)  # [B, action_horizon, action_dim] of the tiny preset
    draw = fm.FlowDraw(torch.zeros(shape), torch.ones(2))  # t = 1: x_t is the action, the target the action
    with torch.no_grad():
        out = policy.supervised_loss(batch, draw=draw)
    assert out.metrics["sft/t_mean"] == 1.0 and torch.isfinite(out.loss)
    with pytest.raises(ContractError, match=r"noise \(2, 4, 16\)"):
        policy.supervised_loss(batch, draw=fm.FlowDraw(torch.zeros(2, 4, 16), torch.ones(2)))


def test_bad_chunks_are_refused() -> None:
    policy, batch = _policy(), _batch()
    wide = DemoBatch(batch.observations, np.zeros((2, 5, 6), np.float32), batch.action_mask)
    with pytest.raises(ContractError, match=r"\[B, C <= 8, 7\]"):
        policy.supervised_loss(wide)
    long = DemoBatch(batch.observations, np.zeros((2, 9, 7), np.float32), np.ones((2, 9), bool))
    with pytest.raises(ContractError, match="num_action_chunks"):
        policy.supervised_loss(long)


def test_expand_batch_counts_every_sample_k_times() -> None:
    """Upstream's expand_batch k: the loss of the batch tiled k times, each copy with its own draw."""
    policy, batch = _policy(), _batch()
    gen = torch.Generator().manual_seed(4)
    draw = fm.FlowDraw(torch.randn(6, 8, 16, generator=gen), torch.rand(6, generator=gen))
    obs = batch.observations
    tiled = DemoBatch(
        {k: (v * 3 if isinstance(v, list) else np.concatenate([v] * 3)) for k, v in obs.items()},  # type: ignore[misc]
        np.concatenate([batch.actions] * 3),
        np.concatenate([batch.action_mask] * 3),
    )
    with torch.no_grad():
        expected = policy.supervised_loss(tiled, draw=draw).loss
        policy.model.action_head.cfg["expand_batch"] = 3
        got = policy.supervised_loss(batch, draw=draw).loss
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_bf16_model_keeps_float32_targets_and_times() -> None:
    full, half = _policy(), _policy(dtype="bfloat16")
    batch = _batch()
    with torch.no_grad():
        a = full.supervised_loss(batch, generator=torch.Generator().manual_seed(0))
        b = half.supervised_loss(batch, generator=torch.Generator().manual_seed(0))
    assert b.loss.dtype == torch.float32 and a.metrics["sft/t_mean"] == b.metrics["sft/t_mean"]
    assert abs(float(a.loss) - float(b.loss)) < 0.05 * float(a.loss)  # bf16 rounding of the network only
