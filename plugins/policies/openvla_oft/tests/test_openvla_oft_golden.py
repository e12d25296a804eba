"""Parity with the official OpenVLA-OFT code (moojink/openvla-oft @ 213c5ff8 + its transformers fork).

``golden/`` holds a tiny random checkpoint in the official layout and what the official code computed from it,
stage by stage (see golden/README.txt). The checkpoint is loaded through the ordinary ``checkpoint:`` path at the
plugin's defaults, the stored inputs are fed exactly, and every stored output must match to 1e-4 in float32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vlarl.contracts.spaces import ActionSpec, ObservationSpec
from vlarl_openvla_oft.policy import make
from vlarl_openvla_oft.register import OpenVLAOFTConfig

GOLDEN = Path(__file__).parent / "golden"
CHECKPOINT = GOLDEN / "checkpoint"
ATOL = 1e-4
SPEC = ObservationSpec(states=(8,), images=(3, 224, 224), wrist_images=(3, 224, 224))
SAMPLES = (0, 1)


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    with np.load(GOLDEN / "reference_outputs.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _policy(**kw):
    return make(
        OpenVLAOFTConfig(checkpoint=str(CHECKPOINT), **kw), observation_spec=SPEC, action_spec=ActionSpec.box(7)
    )


@pytest.fixture(scope="module")
def discrete():
    return _policy()  # every option at its default


@pytest.fixture(scope="module")
def l1():
    return _policy(action_head="l1")


@pytest.fixture(scope="module")
def noproprio():
    return _policy(use_proprio=False)  # get_vla_action's discrete call passes no proprio


def obs(ref: dict, rows: tuple[int, ...]) -> dict:
    chw = (0, 3, 1, 2)  # the fixture stores HWC images, the observation contract is channels first
    return {
        "images": ref["main_images"][list(rows)].transpose(chw),
        "wrist_images": ref["wrist_images"][list(rows)].transpose(chw),
        "states": ref["states"][list(rows)],
        "task_descriptions": [str(ref["task_descriptions"][i]) for i in rows],
    }


def llm_pass(policy, ref: dict, i: int):
    inp = policy._prepare(obs(ref, (i,)))
    with torch.no_grad():
        return inp, policy.model.run_llm(
            policy._pixels(inp["images"]), inp["text_ids"], inp["text_mask"], inp.get("proprio")
        )


def close(got: torch.Tensor | np.ndarray, want: np.ndarray, what: str) -> None:
    got = got.detach().cpu().numpy() if isinstance(got, torch.Tensor) else np.asarray(got)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != official {want.shape}"
    err = float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max())
    assert err <= ATOL, f"{what}: max abs difference {err:.3g} > {ATOL:g}"


@pytest.mark.parametrize("i", SAMPLES)
def test_prompt_ids_and_normalized_proprio(discrete, ref, i):
    inp = discrete._prepare(obs(ref, (i,)))
    ids = [discrete.tokenizer.bos_token_id, *inp["text_ids"][0].tolist()]  # the model places BOS itself
    assert ids == ref[f"prompt_ids_s{i}"].tolist()
    close(inp["proprio"][0], ref["proprio_normalized"][i], "normalized proprio")


@pytest.mark.parametrize("i", SAMPLES)
def test_llm_inputs_hidden_states_and_head_slice(discrete, ref, i):
    _, r = llm_pass(discrete, ref, i)
    close(r.embeds[0], ref[f"inputs_embeds_s{i}"], "inputs_embeds")
    close(r.hidden[0], ref[f"last_hidden_s{i}"], "last hidden states (full bidirectional attention)")
    assert r.head_slice.start == int(ref[f"head_slice_start_s{i}"])  # the "▁" position, one before the actions
    close(r.head_hidden[0], ref[f"head_hidden_s{i}"], "head hidden states")
    close(discrete.model.action_logits(r.head_hidden)[0].reshape(56, 256), ref[f"action_logits_s{i}"], "action logits")


@pytest.mark.parametrize("i", SAMPLES)
def test_discrete_greedy_tokens_and_actions(discrete, ref, i):
    out = discrete.act(obs(ref, (i,)), deterministic=True)
    idx = out.replay["action_tokens"][0]
    token_ids = idx.reshape(-1).numpy() + discrete.model.vocab_size - 256  # index j <-> token id vocab - 256 + j
    assert token_ids.tolist() == ref[f"discrete_token_ids_s{i}"].tolist()
    close(discrete._tokens_to_normalized(idx), ref[f"discrete_normalized_s{i}"], "normalized discrete actions")
    close(out.actions[0], ref[f"discrete_actions_s{i}"], "un-normalized discrete actions")


@pytest.mark.parametrize("i", SAMPLES)
def test_l1_actions(l1, ref, i):
    out = l1.act(obs(ref, (i,)), deterministic=True)
    close(out.replay["action_samples"][0], ref[f"l1_normalized_s{i}"], "L1 head output")
    close(out.actions[0], ref[f"l1_actions_s{i}"], "un-normalized L1 actions (no clamp)")


@pytest.mark.parametrize("i", SAMPLES)
def test_no_proprio_run(noproprio, ref, i):
    _, r = llm_pass(noproprio, ref, i)
    embeds = r.embeds[0].double()
    assert abs(embeds.sum().item() - float(ref[f"noproprio_inputs_embeds_sum_s{i}"])) <= ATOL * embeds.numel()
    assert abs(embeds.abs().sum().item() - float(ref[f"noproprio_inputs_embeds_abssum_s{i}"])) <= ATOL * embeds.numel()
    assert r.head_slice.start == int(ref[f"noproprio_head_slice_start_s{i}"])
    close(r.head_hidden[0], ref[f"noproprio_head_hidden_s{i}"], "head hidden states without proprio")
    out = noproprio.act(obs(ref, (i,)), deterministic=True)
    idx = out.replay["action_tokens"][0]
    assert (idx.reshape(-1).numpy() + noproprio.model.vocab_size - 256).tolist() == ref[
        f"noproprio_discrete_token_ids_s{i}"
    ].tolist()
    close(noproprio._tokens_to_normalized(idx), ref[f"noproprio_discrete_normalized_s{i}"], "normalized actions")
    close(out.actions[0], ref[f"noproprio_discrete_actions_s{i}"], "un-normalized actions without proprio")


def test_batch_of_both_samples_matches_each_official_run(discrete, l1, ref):
    """Prompts of different lengths share a batch (padding in the middle); each row is its official run."""
    both = obs(ref, SAMPLES)
    hidden = discrete._hidden(discrete._prepare(both))
    out = discrete.act(both, deterministic=True)
    out_l1 = l1.act(both, deterministic=True)
    for i in SAMPLES:
        close(hidden[i], ref[f"head_hidden_s{i}"], f"batched head hidden states, row {i}")
        close(out.actions[i], ref[f"discrete_actions_s{i}"], f"batched discrete actions, row {i}")
        close(out_l1.actions[i], ref[f"l1_actions_s{i}"], f"batched L1 actions, row {i}")


@pytest.mark.parametrize("attention", ["action_bidirectional", "causal"])
def test_other_attention_modes_are_not_the_official_one(ref, attention):
    """The fixture can tell the modes apart: the non-default ones are options, not the official model."""
    _, r = llm_pass(_policy(attention=attention), ref, 0)
    assert np.abs(r.hidden[0].numpy() - ref["last_hidden_s0"]).max() > 1e-2
