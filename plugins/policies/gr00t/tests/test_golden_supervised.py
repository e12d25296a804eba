"""Golden fixture, supervised side: the official flow-matching loss (FlowmatchingActionHead.forward) by formula.

The fixed draw puts x_t exactly on points of the official denoising chain at the official timestep buckets
(sample 0: x_1 at t = 1/6 -> bucket 166; sample 1: x_4 at t = 4/6 -> bucket 666), so the model's prediction
there is the velocity the official code stored. The expected loss is then written from reference arrays, the
metadata.json statistics and the official formula alone: no vlarl output enters it.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import torch
from golden_io import GOLDEN, golden_policy, golden_replay, reference

from vlarl.contracts.dataset import DemoBatch
from vlarl_gr00t.flow_matching import FlowDraw
from vlarl_gr00t.policy import Gr00tPolicy

STEPS = (1, 4)  # per sample: the chain point (= velocity_step) its x_t sits on


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    return reference()


def _min_max(env: np.ndarray) -> np.ndarray:
    """Official min_max of the action keys (arm[3], gripper[1]) from metadata.json; a constant dim -> 0."""
    stats = json.loads((GOLDEN / "experiment_cfg" / "metadata.json").read_text())["new_embodiment"]["statistics"]
    lo = np.concatenate([np.float32(stats["action"][k]["min"]) for k in ("arm", "gripper")]).astype(np.float64)
    hi = np.concatenate([np.float32(stats["action"][k]["max"]) for k in ("arm", "gripper")]).astype(np.float64)
    varying = hi != lo
    return np.where(varying, 2 * (env - lo) / np.where(varying, hi - lo, 1) - 1, 0.0)


def _official_case(ref: dict[str, np.ndarray], chunk: int, step_mask: np.ndarray) -> dict[str, Any]:
    """Ground truth = the reference env actions; targets padded as GR00TTransform pads them; the fixed draw."""
    env = ref["env_actions"][:, :chunk].astype(np.float64)  # [2, C, 4]
    a = np.zeros((2, 4, 6), dtype=np.float32)  # [B, action_horizon, max_action_dim]: dims 4, 5 zero-padded
    a[:, :chunk, :4] = _min_max(env)
    a[:, chunk:] = a[:, chunk - 1 : chunk]  # horizon steps the batch lacks: the last one repeated, masked out
    mask = np.zeros((2, 4, 6))
    mask[:, :chunk, :4] = step_mask[:, :chunk, None]
    t = np.array([STEPS[0] / 6, STEPS[1] / 6], dtype=np.float32)
    x = np.stack([ref["denoise_chain"][STEPS[0]][0], ref["denoise_chain"][STEPS[1]][1]])
    tt = t[:, None, None]
    noise = ((x - tt * a) / (1 - tt)).astype(np.float32)  # so that (1 - t) noise + t a = x
    velocity = np.stack([ref["velocity"][0][0], ref["velocity"][1][1]]).astype(np.float64)  # official output
    target = a.astype(np.float64) - noise  # velocity target: actions - noise
    loss = float((((velocity - target) ** 2) * mask).sum() / mask.sum())  # masked sum / mask sum
    return {"env": env.astype(np.float32), "t": t, "noise": noise, "loss": loss}


def _vlarl_loss(policy: Gr00tPolicy, ref: dict[str, np.ndarray], case: dict[str, Any], step_mask: np.ndarray) -> float:
    policy.prepare = lambda obs: golden_replay(ref)  # the stored official inputs instead of images + text
    chunk = case["env"].shape[1]
    batch = DemoBatch({"task_descriptions": ["a", "b"]}, case["env"], step_mask[:, :chunk])  # type: ignore[arg-type]
    draw = FlowDraw(torch.from_numpy(case["noise"]), torch.from_numpy(case["t"]))
    with torch.no_grad():
        return float(policy.supervised_loss(batch, draw=draw).loss)


@pytest.mark.parametrize(
    "chunk,past_end,keys",
    [
        (4, True, {}),  # whole horizon, sample 1's last step past its episode's end
        (4, False, {"sft_mask_past_episode_end": False}),  # that step trained on, as the official padding
        (3, True, {"num_action_chunks": 3}),  # horizon step 3 not in the batch
    ],
)
def test_loss_is_the_official_formula(
    ref: dict[str, np.ndarray], chunk: int, past_end: bool, keys: dict[str, Any]
) -> None:
    steps = np.ones((2, 4), dtype=bool)
    steps[1, 3] = False
    case = _official_case(ref, chunk, steps if past_end else np.ones_like(steps))
    got = _vlarl_loss(golden_policy(**keys), ref, case, steps)
    assert abs(got - case["loss"]) <= 1e-5 * max(1.0, case["loss"]), (got, case["loss"])


def test_the_mask_matters(ref: dict[str, np.ndarray]) -> None:
    """Guard: the three cases of the test above give different losses, so each mask is really checked."""
    steps = np.ones((2, 4), dtype=bool)
    steps[1, 3] = False
    losses = [_official_case(ref, 4, steps)["loss"], _official_case(ref, 4, np.ones_like(steps))["loss"]]
    losses.append(_official_case(ref, 3, steps)["loss"])
    assert min(abs(a - b) for i, a in enumerate(losses) for b in losses[i + 1 :]) > 1e-3


def test_a_few_steps_lower_the_loss(ref: dict[str, np.ndarray]) -> None:
    """15 Adam steps on the fixed batch (a fresh draw each step) lower the loss averaged over 16 fixed draws
    (the flow-matching objective; one draw's loss moves by more than 15 steps gain). The frozen backbone
    (official defaults: tune_llm, tune_visual false) does not move; the DiT does."""
    steps = np.ones((2, 4), dtype=bool)
    batch = DemoBatch({"task_descriptions": ["a", "b"]}, ref["env_actions"], steps)  # type: ignore[arg-type]
    policy = golden_policy()
    policy.prepare = lambda obs: golden_replay(ref)

    def expected_loss() -> float:
        with torch.no_grad():
            draws = [torch.Generator().manual_seed(100 + s) for s in range(16)]
            return float(np.mean([policy.supervised_loss(batch, generator=g).loss.item() for g in draws]))

    before = expected_loss()
    llm = {k: v.clone() for k, v in policy.model.backbone.eagle_model.language_model.state_dict().items()}
    dit = {k: v.clone() for k, v in policy.model.action_head.model.state_dict().items()}
    opt = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=1e-3)
    policy.train()
    gen = torch.Generator().manual_seed(0)
    for _ in range(15):
        opt.zero_grad(set_to_none=True)
        policy.supervised_loss(batch, generator=gen).loss.backward()
        opt.step()
    after = expected_loss()
    assert after < 0.9 * before, (before, after)
    state = policy.model.backbone.eagle_model.language_model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in llm.items())
    state = policy.model.action_head.model.state_dict()
    assert any(not torch.equal(state[k], v) for k, v in dit.items())


@pytest.mark.parametrize("mode", ["min_max", "mean_std", "binary"])
def test_action_normalization_inverts_the_official_unnormalization(mode: str, ref: dict[str, np.ndarray]) -> None:
    """normalize_action (the training-side Normalizer.forward) undoes the official inverse on every
    non-constant dim; the constant dim (action.arm[1]) goes to 0 (min_max) or passes through (mean_std)."""
    emb = golden_policy(normalization={"*": mode}).embodiment
    got = emb.normalize_action(ref[f"unnorm_action_{mode}"].astype(np.float64))
    inp = ref["unnorm_action_input"].astype(np.float64)
    if mode == "binary":
        np.testing.assert_array_equal(got, (inp > 0.5).astype(np.float64))
        return
    varying = [0, 2, 3]
    np.testing.assert_allclose(got[:, varying], inp[:, varying], atol=2e-5)
    constant = 0.0 if mode == "min_max" else -0.5
    np.testing.assert_allclose(got[:, 1], constant)
