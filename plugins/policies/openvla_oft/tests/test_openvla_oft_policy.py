"""Behaviour of the policy: contract, sampling, heads, LoRA, bad input, presets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlarl.errors import ConfigError, ContractError
from vlarl.testing import check_policy

# Parameters no action/value output can depend on (the policy declares them in `unused_parameters`).
UNUSED = ("model.vision_backbone.featurizer.blocks.3", "model.vision_backbone.fused_featurizer.blocks.3",
          "model.vision_backbone.featurizer.norm", "model.vision_backbone.fused_featurizer.norm",
          "model.vision_backbone.fused_featurizer.attn_pool")  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    "kw",
    [
        dict(action_head="discrete", logprob_type="token"),
        dict(action_head="l1", logprob_type="chunk", value_type="action", use_lora=True, lora_rank=4),
    ],
)
def test_conformance_kit(h, kw):
    unused = (*UNUSED, "model.language_model.lm_head") if kw["action_head"] == "l1" else UNUSED
    assert set(h.build(**kw).unused_parameters) == set(unused)  # the tiny preset has 4 ViT blocks
    report = check_policy(lambda: h.build(**kw), h.OBS_SPEC, batch_size=2, obs=h.make_obs(2))
    report.raise_if_failed()
    assert all(r.status == "pass" for r in report.results), report.table()  # the supervised row included


@pytest.mark.slow
def test_act_shapes_and_replay_agreement_discrete(h):
    p = h.build(logprob_type="token", value_type="action")
    out = p.act(h.make_obs(3))
    assert out.actions.shape == (3, 8, 7) and out.actions.dtype == torch.float32
    assert out.log_probs.shape == (3, 8, 7) and out.values.shape == (3, 8)
    assert (out.log_probs <= 0).all()
    ev = p.evaluate(out.replay)
    assert torch.allclose(ev.log_probs, out.log_probs, atol=1e-5)
    # entropy of a 256-way categorical lies in [0, log 256]
    assert (ev.entropy >= 0).all() and (ev.entropy <= np.log(256) + 1e-4).all()


def test_discrete_tokens_map_to_official_bin_centers(h):
    p = h.build()
    centers = (np.linspace(-1, 1, 256)[:-1] + np.linspace(-1, 1, 256)[1:]) / 2
    idx = torch.tensor([0, 1, 128, 255])  # index j in the slice = token id vocab-256+j
    got = p._tokens_to_normalized(idx).numpy()
    vocab = p.model.vocab_size
    token_ids = vocab - 256 + idx.numpy()
    want = centers[np.clip(vocab - token_ids - 1, 0, 254)]  # OpenVLA's decoding of token ids
    assert np.allclose(got, want)


@pytest.mark.slow
def test_greedy_is_full_vocab_argmax_and_sampling_varies(h):
    p = h.build()
    obs = h.make_obs(2)
    a = p.act(obs, deterministic=True)
    b = p.act(obs, deterministic=True)
    assert torch.equal(a.actions, b.actions)
    hidden = p._hidden(p._prepare(obs))
    full = torch.nn.functional.linear(hidden, p.model.language_model.lm_head.weight).argmax(-1)  # every id
    vocab = p.model.vocab_size
    official_bins = (vocab - full - 1).clamp(0, 254)  # OpenVLA's decoding of any token id
    got_bins = (255 - a.replay["action_tokens"]).clamp(0, 254).reshape(2, -1)
    assert torch.equal(got_bins, official_bins)
    assert (full < vocab - 256).any()  # random init: some argmaxes are no action token, decoded as official
    ev = p.evaluate(a.replay)
    assert torch.allclose(ev.log_probs, a.log_probs, atol=1e-5) and torch.isfinite(a.log_probs).all()
    restricted = h.build(greedy_vocab="action").act(obs, deterministic=True)
    assert torch.equal(restricted.replay["action_tokens"], p.model.action_logits(hidden).argmax(-1))
    torch.manual_seed(0)
    s1 = p.act(obs).replay["action_tokens"]
    s2 = p.act(obs).replay["action_tokens"]
    assert not torch.equal(s1, s2)


def test_top_k_restricts_samples(h):
    p = h.build(top_k=3, temperature=2.0)
    obs = h.make_obs(2)
    out = p.act(obs)
    logits = p.model.action_logits(p._hidden(p._prepare(obs)))
    top3 = logits.topk(3, dim=-1).indices
    assert (top3 == out.replay["action_tokens"][..., None]).any(-1).all()


def test_batch_rows_are_independent_of_padding(h):
    p = h.build()
    obs = h.make_obs(2)  # two prompts of different token lengths -> padding in the batch
    out = p.act(obs, deterministic=True)
    for i in range(2):
        one = {k: v[i : i + 1] for k, v in obs.items()}
        single = p.act(one, deterministic=True)
        assert torch.allclose(single.log_probs, out.log_probs[i : i + 1], atol=1e-4)


def test_attention_modes(h):
    p = h.build()
    assert p.model.attention == "full_bidirectional"  # the official model's
    inp = p._prepare(h.make_obs(1))
    pixels = p._pixels(inp["images"])

    def hidden(mode):
        p.model.attention = mode
        return p.model.run_llm(pixels, inp["text_ids"], inp["text_mask"], inp["proprio"]).hidden

    full, act_bi, causal = hidden("full_bidirectional"), hidden("action_bidirectional"), hidden("causal")
    n = p.model.num_action_positions
    assert not torch.allclose(full[:, 0], causal[:, 0], atol=1e-5)  # full: BOS already sees the whole sequence
    assert torch.allclose(act_bi[:, : -n - 1], causal[:, : -n - 1], atol=1e-5)  # causal prefix in both
    assert not torch.allclose(act_bi[:, -n - 1], causal[:, -n - 1], atol=1e-5)  # 1st action sees the others


def test_head_slice_starts_one_before_the_action_positions(h):
    p = h.build()
    inp = p._prepare(h.make_obs(1))
    r = p.model.run_llm(p._pixels(inp["images"]), inp["text_ids"], inp["text_mask"], inp["proprio"])
    n = p.model.num_action_positions
    s = r.hidden.shape[1]  # ... "▁" (s-n-2), n action positions (s-n-1 .. s-2), stop (s-1)
    assert (r.head_slice.start, r.head_slice.stop) == (s - n - 2, s - 2)
    assert torch.equal(p._hidden(inp), r.hidden[:, s - n - 2 : s - 2])


@pytest.mark.slow
def test_l1_head_gaussian_logprob_and_fixed_std(h):
    p = h.build(action_head="l1", learnable_std=False, std_init=0.2, logprob_type="token")
    obs = h.make_obs(2)
    det = p.act(obs, deterministic=True)
    expected = -np.log(0.2) - 0.5 * np.log(2 * np.pi)  # log N(mean | mean, 0.2)
    assert torch.allclose(det.log_probs, torch.full_like(det.log_probs, expected), atol=1e-5)
    assert not p.log_std.requires_grad
    sto = p.act(obs)
    assert not torch.allclose(sto.replay["action_samples"], det.replay["action_samples"])


def test_lora_trains_only_adapters_and_heads(h):
    p = h.build(use_lora=True, lora_rank=4)
    trainable = [n for n, q in p.named_parameters() if q.requires_grad]
    assert any("lora_A" in n for n in trainable) and any(n.startswith("model.value_head") for n in trainable)
    assert all("lora_" in n or n.startswith(("model.value_head", "model.proprio_projector")) for n in trainable)
    out = p.act(h.make_obs(2))
    ev = p.evaluate(out.replay)
    (ev.log_probs.sum() + ev.values.sum()).backward()
    assert all(q.grad is None for q in p.parameters() if not q.requires_grad)
    lora_b = [q for n, q in p.named_parameters() if "lora_B" in n]
    assert any(q.grad is not None and q.grad.abs().sum() > 0 for q in lora_b)


def test_all_linear_lora_covers_vision_and_projector(h):
    p = h.build(use_lora=True, lora_rank=2, lora_target_modules=["all-linear"])
    names = [n for n, _ in p.named_parameters() if "lora_A" in n]
    assert any("vision_backbone" in n for n in names) and any(".projector." in n for n in names)
    assert not any("lm_head" in n for n in names)


def test_7b_preset_parameter_count_on_meta(h):
    p = h.build(preset="7b")
    assert p.is_meta
    core = sum(
        q.numel() for m in (p.model.vision_backbone, p.model.projector, p.model.language_model) for q in m.parameters()
    )
    assert 7.5e9 < core < 7.6e9  # OpenVLA-7B: 7.541B
    assert p.model.language_model.config.num_hidden_layers == 32 and p.model.vision_backbone.embed_dim == 2176


def _no_forward(p):
    def boom(*a, **k):
        raise AssertionError("forward ran before input validation")

    p.model.forward = boom
    return p


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda o: o.update(images=o["images"][:, :, :100]), "images"),
        (lambda o: o.update(images=o["images"].astype(np.float32)), "images"),
        (lambda o: o.update(wrist_images=o["wrist_images"][:1]), "wrist_images"),
        (lambda o: o.pop("wrist_images"), "wrist_images"),
        (lambda o: o.update(states=o["states"][:, :5]), "states"),
        (lambda o: o.pop("task_descriptions"), "task_descriptions"),
        (lambda o: o.update(task_descriptions=["", "x"]), "task_descriptions"),
    ],
)
def test_bad_input_fails_before_forward(h, mutate, match):
    p = _no_forward(h.build())
    obs = h.make_obs(2)
    mutate(obs)
    with pytest.raises(ContractError, match=match):
        p.act(obs)


def test_bad_config_values(h):
    with pytest.raises(ConfigError, match="action_head"):
        h.build(action_head="diffusion")
    with pytest.raises(ConfigError, match="preset"):
        h.build(preset="13b")
    with pytest.raises(ConfigError, match="unnorm_key"):
        h.build(unnorm_key="libero_spatial")
    with pytest.raises(ConfigError, match="action_dim"):
        h.build(action_dim=14)


def test_action_spec_bounds_used_without_statistics(h):
    from vlarl.contracts.spaces import ActionSpec
    from vlarl_openvla_oft.policy import make
    from vlarl_openvla_oft.register import OpenVLAOFTConfig

    spec = ActionSpec.box(7, low=-0.5, high=0.25)
    p = make(OpenVLAOFTConfig(), observation_spec=h.OBS_SPEC, action_spec=spec)
    a = p.act(h.make_obs(2)).actions
    assert a.min() >= -0.5 and a.max() <= 0.25
    assert h.ACTION_SPEC.dim == 7
