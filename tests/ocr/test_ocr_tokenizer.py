"""Unit tests for readingroom.ocr.tokenizer: CharTokenizer and CHARS_PER_BPE_TOKEN."""

from __future__ import annotations

import pytest
import torch

import readingroom.ocr.tokenizer as tokenizer_module
from readingroom.common import make_generator
from readingroom.ocr.text import ALPHABET, sample_text
from readingroom.ocr.tokenizer import CHARS_PER_BPE_TOKEN, SPECIAL_TOKENS, CharTokenizer


@pytest.fixture()
def tok() -> CharTokenizer:
    return CharTokenizer()


# ---- vocabulary ------------------------------------------------------------------------------

def test_vocabulary_layout(tok):
    assert len(tok) == 4 + len(ALPHABET)
    assert (tok.pad_id, tok.bos_id, tok.eos_id, tok.unk_id) == (0, 1, 2, 3)
    assert tok.tokens[:4] == SPECIAL_TOKENS == ("<pad>", "<bos>", "<eos>", "<unk>")
    assert "".join(tok.tokens[4:]) == ALPHABET
    assert tok.encode(ALPHABET) == list(range(4, len(tok)))


def test_custom_alphabet_and_equality():
    small = CharTokenizer("ab")
    assert len(small) == 6
    assert small.encode("ba") == [5, 4]
    assert CharTokenizer() == CharTokenizer(ALPHABET)
    assert hash(CharTokenizer("ab")) == hash(small)
    assert small != CharTokenizer("ba")


def test_tokenizer_is_frozen(tok):
    with pytest.raises(AttributeError):
        tok.alphabet = "abc"


def test_chars_per_bpe_token_is_documented():
    assert CHARS_PER_BPE_TOKEN == 4.0
    doc = tokenizer_module.__doc__
    assert "BPE" in doc and "CHARS_PER_BPE_TOKEN" in doc


# ---- encode / decode -------------------------------------------------------------------------

def test_round_trip_on_sampled_text(tok):
    gen = make_generator(0)
    for n in (1, 17, 300):
        text = sample_text(n, generator=gen)
        ids = tok.encode(text)
        assert len(ids) == n
        assert tok.decode(ids) == text
        assert tok.decode(torch.tensor(ids)) == text


def test_bos_eos_and_skip_special(tok):
    ids = tok.encode("hi", add_bos=True, add_eos=True)
    assert ids[0] == tok.bos_id and ids[-1] == tok.eos_id and len(ids) == 4
    assert tok.decode(ids) == "hi"
    assert tok.decode(ids + [tok.pad_id], skip_special=False) == "<bos>hi<eos><pad>"


def test_unknown_characters_become_unk(tok):
    ids = tok.encode("a_B")
    assert ids == [tok.encode("a")[0], tok.unk_id, tok.unk_id]
    assert tok.decode(ids) == "a"
    assert tok.decode(ids, skip_special=False) == "a<unk><unk>"
    assert tok.encode("ab", strict=True) == tok.encode("ab")


def test_decode_accepts_integer_tensors_of_any_int_dtype(tok):
    ids = tok.encode("page 12.")
    for dtype in (torch.int64, torch.int32, torch.uint8):
        assert tok.decode(torch.tensor(ids, dtype=dtype)) == "page 12."
    assert tok.decode(tuple(ids)) == "page 12."
    assert tok.decode([]) == ""


# ---- batch_encode ----------------------------------------------------------------------------

def test_batch_encode_pads_to_longest(tok):
    texts = ["hello", "a", ""]
    ids, lengths = tok.batch_encode(texts)
    assert ids.dtype == torch.long and lengths.dtype == torch.long
    assert ids.shape == (3, 7)
    assert lengths.tolist() == [7, 3, 2]
    for row, n, text in zip(ids, lengths.tolist(), texts):
        assert row[0] == tok.bos_id and row[n - 1] == tok.eos_id
        assert (row[n:] == tok.pad_id).all()
        assert tok.decode(row) == text
        assert tok.decode(row[1:n - 1]) == text


def test_batch_encode_pads_to_max_len(tok):
    ids, lengths = tok.batch_encode(("ab", "abcd"), max_len=10)
    assert ids.shape == (2, 10)
    assert lengths.tolist() == [4, 6]
    ids, _ = tok.batch_encode(["abcd"], max_len=6)  # exactly fits
    assert ids.shape == (1, 6)

