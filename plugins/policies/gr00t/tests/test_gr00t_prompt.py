"""The Eagle prompt against what the official processor builds, computed here from the official template.

Official path (Isaac-GR00T @ 4af2b622): GR00TTransform._apply_vlm_processing renders one user message
[image per view..., text] with eagle_processor.apply_chat_template (the Jinja template of
eagle2_hg_model/chat_template.json, add_generation_prompt=True); the processor replaces each <image-N> by
"<image N><img>" + "<IMG_CONTEXT>" * (tiles * tokens_per_tile) + "</img>" (processing_eagle2_5_vl.py:414) and
tokenizes the whole string; collate pads left to the longest row (transforms.py:51).
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest
import torch
from eagle_tokenizer import save_tokenizer
from gr00t_fixtures import make_obs, tiny_config

from vlarl.errors import ConfigError
from vlarl_gr00t.policy import build_policy
from vlarl_gr00t.prompt import ByteTokenizer, HFTokenizer, token_ids

# eagle2_hg_model/chat_template.json, verbatim.
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in "
    "content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "<image {{ image_count.value }}>{% endif %}<image-{{ image_count.value }}>{% elif content['type'] == 'video' or "
    "'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}<video "
    "{{ video_count.value }}>{% endif %}<video-{{ video_count.value }}>{% elif 'text' in content %}"
    "{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "<|im_start|>assistant\n{% endif %}"
)
TASKS = ["put the bowl on the plate", "open the top drawer and put the bowl inside it"]


def official_prompt(task: str, num_views: int, tokens_per_tile: int) -> str:
    """The string the official processor tokenizes for one sample (one tile per 224 view)."""
    content = [{"type": "image", "image": None}] * num_views + [{"type": "text", "text": task}]
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)  # as transformers renders chat templates
    text = env.from_string(CHAT_TEMPLATE).render(
        messages=[{"role": "user", "content": content}], add_generation_prompt=True
    )
    return re.sub(
        r"<(image|video)-(\d+)>",
        lambda m: f"<image {m.group(2)}><img>{'<IMG_CONTEXT>' * tokens_per_tile}</img>",
        text,
    )


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tokenizer(tmp_path_factory.mktemp("eagle_tok"))


@pytest.fixture(scope="module")
def hf(tokenizer_dir: Path) -> HFTokenizer:
    return HFTokenizer(str(tokenizer_dir), image_token_id=299)


def test_rendered_template_layout() -> None:
    text = official_prompt("pick", 2, 3)
    ctx = "<IMG_CONTEXT>" * 3
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        f"<image 1><img>{ctx}</img><image 2><img>{ctx}</img>pick<|im_end|>\n<|im_start|>assistant\n"
    )


@pytest.mark.parametrize("num_views", [1, 2])
def test_right_padded_rows_are_the_official_tokens(hf: HFTokenizer, num_views: int) -> None:
    ids, mask = token_ids(TASKS, hf, num_views, image_tokens=4, max_text=64, padding_side="right")
    for i, task in enumerate(TASKS):
        expected = hf.tok(official_prompt(task, num_views, 4))["input_ids"]
        n = int(mask[i].sum())
        assert ids[i, :n].tolist() == expected
        assert mask[i, :n].all() and not mask[i, n:].any() and (ids[i, n:] == hf.pad_id).all()


def test_left_padding_is_the_official_collate(hf: HFTokenizer) -> None:
    official = hf.tok([official_prompt(t, 2, 4) for t in TASKS], padding=True, padding_side="left")
    ids, mask = token_ids(TASKS, hf, 2, image_tokens=4, max_text=64, padding_side="left")
    width = len(official["input_ids"][0])
    assert ids[:, -width:].tolist() == official["input_ids"]
    assert mask[:, -width:].tolist() == official["attention_mask"]
    assert not mask[:, :-width].any()


def test_long_task_is_cut_with_a_warning(hf: HFTokenizer) -> None:
    with pytest.warns(UserWarning, match="max_text_tokens=5"):
        ids, mask = token_ids(TASKS[:1], hf, 1, image_tokens=4, max_text=5)
    assert ids.shape[1] == int(mask.sum())  # full row at the fixed length


def test_byte_fallback_keeps_the_layout() -> None:
    tok = ByteTokenizer(vocab_size=32, image_token_id=31)  # the golden checkpoint's sizes
    ids, mask = token_ids(["go"], tok, num_views=2, image_tokens=4, max_text=8)
    row = ids[0, : int(mask.sum())].tolist()
    img_start, img_end, im_start, im_end = (tok.special[t] for t in ("<img>", "</img>", "<|im_start|>", "<|im_end|>"))
    starts = [i for i, t in enumerate(row) if t == img_start]
    assert len(starts) == 2 and all(row[s + 1 : s + 5] == [31] * 4 and row[s + 5] == img_end for s in starts)
    assert row.count(31) == 8 and row[0] == im_start and row.count(im_end) == 2 and max(ids.flatten()) < 32


def test_policy_feeds_the_official_prompt(tokenizer_dir: Path, hf: HFTokenizer) -> None:
    torch.manual_seed(0)
    policy = build_policy(tiny_config(tokenizer_path=str(tokenizer_dir)), use_hooks=False)
    obs = make_obs(2)
    replay = policy.prepare(obs)
    for i, task in enumerate(obs["task_descriptions"]):
        n = int(replay["attention_mask"][i].sum())
        assert replay["input_ids"][i, :n].tolist() == hf.tok(official_prompt(task, 2, 4))["input_ids"]
    assert policy.act(obs).actions.shape == (2, 5, 7)


def test_tokenizer_must_match_the_image_token(tokenizer_dir: Path) -> None:
    with pytest.raises(ConfigError, match="maps <IMG_CONTEXT> to 299"):
        HFTokenizer(str(tokenizer_dir), image_token_id=151669)
