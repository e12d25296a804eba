"""The supervised losses on the golden checkpoint equal the official fine-tuning losses computed by formula.

The expected values are computed here from the official code's formulas applied to official quantities: the
last hidden states the official model produced on the stored inputs (``last_hidden``, reference_outputs.npz),
the checkpoint's own ``lm_head`` weights and statistics, and the official L1 head's output (``l1_normalized``).
Nothing of vlarl computes them. Formulas (moojink/openvla-oft @ 213c5ff8):

* targets: RLDS ``normalize_action_and_proprio`` (BOUNDS_Q99, mask, clip; ``min == max`` dims 0),
  prismatic/vla/datasets/rlds/utils/data_utils.py:67-92;
* action tokens: ``ActionTokenizer.__call__`` (``vocab - np.digitize(clip(a, -1, 1), linspace(-1, 1, 256))``),
  prismatic/vla/action_tokenizer.py:38-47; the vocabulary is config ``text_config.vocab_size -
  pad_to_multiple_of`` (modeling_prismatic.py:732);
* labels: ``RLDSBatchTransform`` keeps the last C*A + 1 ids (actions + ``</s>``), datasets.py:63-74; the model
  puts IGNORE_INDEX on the patch/proprio positions (modeling_prismatic.py:486-496) and HF's causal-LM loss
  scores the logits at t against the label at t + 1 (mean over non-ignored labels); ``loss = output.loss``
  (finetune.py:349);
* L1: ``torch.nn.L1Loss()(ground_truth_actions, predicted_actions)`` on the head's output, finetune.py:386-390.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from vlarl.contracts.dataset import DemoBatch
from vlarl.contracts.spaces import ActionSpec, ObservationSpec
from vlarl_openvla_oft.policy import make
from vlarl_openvla_oft.register import OpenVLAOFTConfig

GOLDEN = Path(__file__).parent / "golden"
CHECKPOINT = GOLDEN / "checkpoint"
SPEC = ObservationSpec(states=(8,), images=(3, 224, 224), wrist_images=(3, 224, 224))
C, A, N_BINS, IGNORE, STOP = 8, 7, 256, -100, 2
ATOL = 1e-4


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    with np.load(GOLDEN / "reference_outputs.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def lm_head() -> np.ndarray:
    with safe_open(str(CHECKPOINT / "model.safetensors"), framework="pt") as f:
        return f.get_tensor("language_model.lm_head.weight").float().numpy().astype(np.float64)


def policy(**kw):
    cfg = OpenVLAOFTConfig(checkpoint=str(CHECKPOINT), **kw)
    return make(cfg, observation_spec=SPEC, action_spec=ActionSpec.box(A))


def observations(ref: dict) -> dict:
    return {
        "images": ref["main_images"].transpose(0, 3, 1, 2),
        "wrist_images": ref["wrist_images"].transpose(0, 3, 1, 2),
        "states": ref["states"],
        "task_descriptions": [str(t) for t in ref["task_descriptions"]],
    }


def fixed_chunk() -> np.ndarray:
    """Env-unit actions [2, C, A]: inside and beyond the q01/q99 bounds (clipped), exact bounds, gripper 0/1."""
    rng = np.random.default_rng(7)
    a = rng.uniform(-1.0, 1.0, (2, C, A)).astype(np.float32)
    a[0, 0, :6] = [-0.75, 0.85, 2.0, -3.0, 0.0, 0.25]  # q01 / q99 exactly, beyond them
    a[..., 6] = rng.integers(0, 2, (2, C))  # the dataset gripper: 1 open, 0 close (mask False: not normalized)
    return a


def official_targets(actions: np.ndarray) -> np.ndarray:
    st = json.loads((CHECKPOINT / "dataset_statistics.json").read_text())["libero_spatial_no_noops"]["action"]
    low, high = np.float32(st["q01"]), np.float32(st["q99"])
    mask, const = np.asarray(st["mask"]), np.float32(st["min"]) == np.float32(st["max"])
    out = np.where(mask, np.clip(2 * (actions - low) / (high - low + np.float32(1e-8)) - 1, -1, 1), actions)
    return np.where(const, 0.0, out).astype(np.float32)


def official_vocab() -> int:
    cfg = json.loads((CHECKPOINT / "config.json").read_text())
    return cfg["text_config"]["vocab_size"] - cfg["pad_to_multiple_of"]


def official_token_ids(normalized: np.ndarray) -> np.ndarray:
    return official_vocab() - np.digitize(np.clip(normalized, -1.0, 1.0), np.linspace(-1, 1, N_BINS))


def official_cross_entropy(ref: dict, lm_head: np.ndarray, actions: np.ndarray, step_mask: np.ndarray) -> float:
    ids = official_token_ids(official_targets(actions))
    nll = []
    for i in range(len(actions)):
        labels = np.where(step_mask[i][:, None], ids[i], IGNORE).reshape(-1)
        labels = np.concatenate([labels, [STOP]])  # labels[-(C*A + 1):]: the action tokens and </s>
        hidden = ref[f"last_hidden_s{i}"]  # official LLM sequence: the "▁" at the head slice start
        start = int(ref[f"head_slice_start_s{i}"])
        logits = hidden[start : start + C * A + 1].astype(np.float64) @ lm_head.T  # row t predicts label t + 1
        top = logits.max(1, keepdims=True)
        logp = logits - top - np.log(np.exp(logits - top).sum(1, keepdims=True))
        keep = labels != IGNORE
        nll += (-logp[np.arange(len(labels))[keep], labels[keep]]).tolist()
    return float(np.mean(nll))  # CrossEntropyLoss: mean over the batch's non-ignored labels


def official_l1(ref: dict, actions: np.ndarray, step_mask: np.ndarray) -> float:
    pred = np.stack([ref["l1_normalized_s0"], ref["l1_normalized_s1"]])  # the official L1 head's output
    diff = np.abs(pred - official_targets(actions))
    return float(diff[step_mask].mean())


def masks() -> list[np.ndarray]:
    ragged = np.ones((2, C), dtype=bool)
    ragged[0, 5:] = False  # an episode end: chunk steps past it are padding
    ragged[1, 7:] = False
    return [np.ones((2, C), dtype=bool), ragged]


def test_official_logits_formula_reproduces_the_stored_action_logits(ref, lm_head):
    """The expected-value formula is the official computation: its action columns are the stored logits."""
    for i in (0, 1):
        start = int(ref[f"head_slice_start_s{i}"])
        logits = ref[f"last_hidden_s{i}"][start : start + C * A].astype(np.float64) @ lm_head.T
        columns = slice(official_vocab() - N_BINS, official_vocab())  # the 256 action ids, 29888..30143
        assert np.abs(logits[:, columns] - ref[f"action_logits_s{i}"]).max() < 1e-5


@pytest.mark.parametrize("m", [0, 1], ids=["all_steps", "padded_steps"])
def test_discrete_loss_equals_official_cross_entropy(ref, lm_head, m):
    step_mask = masks()[m]
    actions = fixed_chunk()
    actions[~step_mask] = 5.0  # whatever the padding holds, it must not count
    got = policy().supervised_loss(DemoBatch(observations(ref), actions, step_mask))
    want = official_cross_entropy(ref, lm_head, actions, step_mask)
    assert abs(got.loss.item() - want) < ATOL, (got.loss.item(), want)
    assert set(got.metrics) >= {"sft/curr_action_accuracy", "sft/next_actions_accuracy", "sft/curr_action_l1_loss"}


@pytest.mark.parametrize("m", [0, 1], ids=["all_steps", "padded_steps"])
def test_l1_loss_equals_official_l1(ref, m):
    step_mask = masks()[m]
    actions = fixed_chunk()
    actions[~step_mask] = -5.0
    got = policy(action_head="l1").supervised_loss(DemoBatch(observations(ref), actions, step_mask))
    assert abs(got.loss.item() - official_l1(ref, actions, step_mask)) < ATOL


def test_padding_changes_the_loss_only_through_the_mask(ref, lm_head):
    """Sanity of the test itself: counting the padded steps would give another value."""
    step_mask = masks()[1]
    actions = fixed_chunk()
    actions[~step_mask] = 5.0
    assert abs(official_cross_entropy(ref, lm_head, actions, step_mask) - official_cross_entropy(
        ref, lm_head, actions, np.ones_like(step_mask))) > 1e-3  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("head", ["discrete", "l1"])
def test_official_lora_starts_at_the_official_loss_and_a_few_steps_lower_it(ref, lm_head, head):
    p = policy(action_head=head, use_lora=True)  # finetune.py's LoRA: r 32, alpha 16, all-linear, gaussian
    batch = DemoBatch(observations(ref), fixed_chunk(), masks()[1])
    first = p.supervised_loss(batch).loss
    want = official_cross_entropy(ref, lm_head, batch.actions, batch.action_mask) if head == "discrete" else (
        official_l1(ref, batch.actions, batch.action_mask))  # fmt: skip
    assert abs(first.item() - want) < ATOL  # LoRA B starts at zero: the merged model is the checkpoint
    opt = torch.optim.AdamW([q for q in p.parameters() if q.requires_grad], lr=5e-4)  # finetune.py's lr
    losses = [first.item()]
    p.train()
    for _ in range(4):
        opt.zero_grad()
        p.supervised_loss(batch).loss.backward()
        opt.step()
        losses.append(p.supervised_loss(batch).loss.item())
    assert losses[-1] < losses[0] - 1e-3, losses


@pytest.mark.slow
def test_conformance_kit_supervised_row_passes_on_the_golden_checkpoint(ref, vlarl_check_policy):
    report = vlarl_check_policy(lambda: policy(use_lora=True), SPEC, batch_size=2, obs=observations(ref))
    row = next(r for r in report.results if r.name == "supervised loss learns a fixed batch")
    assert row.status == "pass", row.detail
