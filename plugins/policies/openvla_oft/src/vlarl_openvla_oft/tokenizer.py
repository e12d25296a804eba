"""Prompt tokenization: the checkpoint's own tokenizer (AutoTokenizer, local files only) or a byte tokenizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PROMPT = "In: What action should the robot take to {task}?\nOut:"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")


def format_prompt(task: str) -> str:
    # The official LIBERO eval lower-cases the task label.
    return PROMPT.format(task=task.lower())


class ByteTokenizer:
    """Deterministic byte-level tokenizer for random-init presets: pad 0, BOS 1, EOS 2, byte b -> b + 3."""

    pad_token_id, bos_token_id, eos_token_id = 0, 1, 2
    vocab_size = 259

    def encode(self, text: str) -> list[int]:
        return [self.bos_token_id] + [b + 3 for b in text.encode("utf-8")]

    @property
    def action_prefix_id(self) -> int | None:
        return None  # the prompt's trailing ':' already ends the text; no SentencePiece "▁" to add


class HFTokenizer:
    """A Llama tokenizer from the checkpoint directory; appends "▁" (29871) after "Out:" as predict_action does."""

    def __init__(self, tok: Any) -> None:
        self.tok = tok
        self.bos_token_id = tok.bos_token_id
        self.pad_token_id = tok.pad_token_id if tok.pad_token_id is not None else 0
        space = tok.convert_tokens_to_ids("▁")
        self.action_prefix_id = space if isinstance(space, int) and space != tok.unk_token_id else None

    def encode(self, text: str) -> list[int]:
        ids = list(self.tok(text)["input_ids"])
        if self.action_prefix_id is not None and ids[-1] != self.action_prefix_id:
            ids.append(self.action_prefix_id)
        return ids


def load_tokenizer(directory: str | Path | None) -> ByteTokenizer | HFTokenizer:
    if directory is None or not any((Path(directory) / f).exists() for f in TOKENIZER_FILES):
        return ByteTokenizer()
    from transformers import AutoTokenizer

    return HFTokenizer(AutoTokenizer.from_pretrained(str(directory), local_files_only=True))
