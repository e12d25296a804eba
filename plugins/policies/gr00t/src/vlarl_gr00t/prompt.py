"""The Eagle 2.5 prompt of GR00T N1.5: chat template, image tokens, token ids of fixed length.

Upstream (gr00t/model/transforms.py:194-205) builds one user message ``[image, ..., image, text]`` and renders
it with the processor's chat template (eagle2_hg_model/chat_template.json), then the processor replaces each
``<image-N>`` by ``<image N><img>`` + ``<IMG_CONTEXT>`` x (tiles x tokens_per_tile) + ``</img>``
(processing_eagle2_5_vl.py:414). For one camera image per view (one tile) that is::

    <|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n<|im_start|>user\\n
    <image 1><img><IMG_CONTEXT>...</img><image 2><img>...</img>{task}<|im_end|>\\n<|im_start|>assistant\\n

(without the line break after ``user\\n``). Special tokens split the text before BPE, so the prefix, the task
and the suffix tokenize independently; the task is cut at ``max_text_tokens`` and every row is padded to the
same length (upstream pads left to the longest row of a batch: vlarl needs a fixed length, see README).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Protocol

import torch

from vlarl.errors import ConfigError

SYSTEM_PROMPT = "You are a helpful assistant."
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
IMG_START, IMG_END, IMG_CONTEXT = "<img>", "</img>", "<IMG_CONTEXT>"
SPECIAL_TOKENS = (IM_START, IM_END, IMG_START, IMG_END, IMG_CONTEXT)
PADDING_SIDES = ("right", "left")


class Tokenizer(Protocol):
    pad_id: int
    image_token_id: int

    def encode(self, text: str) -> list[int]: ...


class ByteTokenizer:
    """Fallback without tokenizer files (tiny configs, tests): one id per UTF-8 byte, reserved ids for specials."""

    def __init__(self, vocab_size: int, image_token_id: int) -> None:
        self.image_token_id = image_token_id
        self.pad_id = 0
        free = [i for i in range(vocab_size - 1, 0, -1) if i != image_token_id]
        self.special = {IMG_CONTEXT: image_token_id, **dict(zip(SPECIAL_TOKENS[:4], free[:4], strict=True))}
        self._n_bytes = min(self.special.values()) - 1
        self._split = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for piece in self._split.split(text):
            if piece in self.special:
                ids.append(self.special[piece])
            else:
                ids.extend(1 + b % self._n_bytes for b in piece.encode("utf-8"))
        return ids


class HFTokenizer:
    """The Eagle 2.5 tokenizer (Qwen2Tokenizer with the Eagle special tokens), from local files."""

    def __init__(self, path: str, image_token_id: int) -> None:
        from transformers import AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        unknown = [t for t in SPECIAL_TOKENS if t not in self.tok.get_vocab()]
        if unknown:
            raise ConfigError(
                f"The tokenizer in {path} has no {unknown} tokens; it is not the Eagle 2.5 tokenizer of GR00T N1.5.",
                "Point tokenizer_path at Isaac-GR00T's gr00t/model/backbone/eagle2_hg_model directory.",
            )
        self.image_token_id = int(self.tok.convert_tokens_to_ids(IMG_CONTEXT))
        if self.image_token_id != image_token_id:
            raise ConfigError(
                f"The tokenizer in {path} maps {IMG_CONTEXT} to {self.image_token_id}; the model's image_token_index "
                f"is {image_token_id}.",
                "Use the tokenizer the checkpoint was trained with.",
            )
        self.pad_id = int(self.tok.pad_token_id) if self.tok.pad_token_id is not None else 0

    def encode(self, text: str) -> list[int]:
        return list(self.tok(text, add_special_tokens=False)["input_ids"])


def has_tokenizer_files(path: str | None) -> bool:
    names = ("tokenizer.json", "tokenizer_config.json", "vocab.json")
    return bool(path) and any((Path(str(path)) / n).is_file() for n in names)


def make_tokenizer(
    tokenizer_path: str | None, checkpoint: str | None, vocab_size: int, image_token: int
) -> HFTokenizer | ByteTokenizer:
    """The Eagle tokenizer from tokenizer_path or the checkpoint dir; the byte fallback only for toy vocabularies."""
    for cand in (tokenizer_path, checkpoint):
        if has_tokenizer_files(cand):
            return HFTokenizer(str(cand), image_token)
    if tokenizer_path:
        raise ConfigError(
            f"No tokenizer files in {tokenizer_path}.", "Point tokenizer_path at a directory with tokenizer files."
        )
    if checkpoint and vocab_size > 1024:
        raise ConfigError(
            f"GR00T checkpoint {checkpoint} has no tokenizer files, and its {vocab_size}-token LLM needs its own "
            "tokenizer (official checkpoints do not ship one; upstream reads the vendored Eagle 2.5 one).",
            "Set policy.tokenizer_path to Isaac-GR00T's gr00t/model/backbone/eagle2_hg_model directory.",
        )
    return ByteTokenizer(vocab_size, image_token)


def prompt_around_task(num_views: int, image_tokens: int) -> tuple[str, str]:
    """(prefix, suffix) of the rendered official prompt; the task text goes between them."""
    images = "".join(f"<image {i + 1}>{IMG_START}{IMG_CONTEXT * image_tokens}{IMG_END}" for i in range(num_views))
    prefix = f"{IM_START}system\n{SYSTEM_PROMPT}{IM_END}\n{IM_START}user\n{images}"
    return prefix, f"{IM_END}\n{IM_START}assistant\n"


def token_ids(
    texts: list[str],
    tokenizer: Tokenizer,
    num_views: int,
    image_tokens: int,
    max_text: int,
    padding_side: str = "right",
) -> tuple[torch.Tensor, torch.Tensor]:
    """input_ids and attention_mask [N, L], L = prompt length with ``max_text`` task tokens, padded to L."""
    if padding_side not in PADDING_SIDES:
        raise ConfigError(f"padding_side={padding_side!r} is unknown.", f"Use one of: {', '.join(PADDING_SIDES)}.")
    prefix, suffix = (tokenizer.encode(s) for s in prompt_around_task(num_views, image_tokens))
    length = len(prefix) + max_text + len(suffix)
    ids = torch.full((len(texts), length), tokenizer.pad_id, dtype=torch.long)
    mask = torch.zeros(len(texts), length, dtype=torch.long)
    for i, text in enumerate(texts):
        task = tokenizer.encode(text)
        if len(task) > max_text:
            warnings.warn(
                f"GR00T task text has {len(task)} tokens; the first max_text_tokens={max_text} are kept.",
                stacklevel=2,
            )
        row = prefix + task[:max_text] + suffix
        where = slice(0, len(row)) if padding_side == "right" else slice(length - len(row), length)
        ids[i, where] = torch.tensor(row)
        mask[i, where] = 1
    return ids, mask
