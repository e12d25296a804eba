"""A small stand-in for the Eagle 2.5 tokenizer: byte-level BPE with a few merges and the Eagle special tokens.

The real one (Qwen2Tokenizer, 151k ids) ships with Isaac-GR00T, not with checkpoints; what the prompt tests need
is a tokenizer that, like it, splits on special tokens before byte-level BPE.
"""

from __future__ import annotations

from pathlib import Path

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<img>", "</img>", "<IMG_CONTEXT>"]
MERGES = [("u", "s"), ("us", "e"), ("use", "r"), ("<", "i"), ("<i", "m"), ("a", "s"), ("Ġ", "t"), ("Ġt", "h")]


def save_tokenizer(out: Path, first_special_id: int = 294) -> Path:
    """Write tokenizer files to ``out``; specials take ids first_special_id.. in SPECIALS order."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(alphabet)}
    for a, b in MERGES:
        vocab[a + b] = len(vocab)
    while len(vocab) < first_special_id:
        vocab[f"<unused{len(vocab)}>"] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=MERGES))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=SPECIALS[0], additional_special_tokens=SPECIALS[1:])
    fast.save_pretrained(str(out))
    return out
