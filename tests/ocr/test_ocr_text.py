"""Unit tests for readingroom.ocr.text: the offline docstring corpus and sample_text."""

from __future__ import annotations

import pytest
import torch

from readingroom.common import make_generator
from readingroom.ocr.text import ALPHABET, CORPUS_MODULES, MAX_CHARS, corpus, sample_text


def test_alphabet_is_the_documented_character_set():
    assert ALPHABET == " abcdefghijklmnopqrstuvwxyz0123456789.,;:'()-"
    assert len(set(ALPHABET)) == len(ALPHABET)


def test_corpus_modules_are_sorted_and_unique():
    assert list(CORPUS_MODULES) == sorted(set(CORPUS_MODULES))
    assert len(CORPUS_MODULES) >= 15


def test_corpus_is_normalised_english_text():
    text = corpus()
    assert len(text) > 50_000
    assert set(text) <= set(ALPHABET)
    assert "  " not in text
    assert text == text.strip()
    words = text.split()
    assert "the" in words and "return" in words
    mean_word = sum(map(len, words)) / len(words)
    assert 3.0 < mean_word < 8.0


def test_corpus_is_cached():
    assert corpus() is corpus()


@pytest.mark.parametrize("n_chars", [1, 2, 7, 80, 513, MAX_CHARS])
def test_sample_text_has_exact_length_and_clean_ends(n_chars):
    gen = make_generator(n_chars)
    for _ in range(20):
        text = sample_text(n_chars, generator=gen)
        assert len(text) == n_chars
        assert text[0] != " " and text[-1] != " "
        assert set(text) <= set(ALPHABET)


def test_sample_text_is_a_corpus_slice_starting_at_a_word():
    full = corpus()
    gen = make_generator(3)
    for _ in range(20):
        text = sample_text(60, generator=gen)
        # Some occurrence starts a word (the first match might sit inside another word).
        starts, i = [], full.find(text)
        while i >= 0:
            starts.append(i)
            i = full.find(text, i + 1)
        assert starts
        assert any(i == 0 or full[i - 1] == " " for i in starts)


def test_sample_text_is_deterministic_given_the_seed():
    a = [sample_text(100, generator=make_generator(7)) for _ in range(2)]
    assert a[0] == a[1]
    gen1, gen2 = make_generator(11), make_generator(11)
    assert [sample_text(40, generator=gen1) for _ in range(5)] == \
        [sample_text(40, generator=gen2) for _ in range(5)]


def test_sample_text_varies_with_the_draw():
    gen = make_generator(0)
    texts = {sample_text(50, generator=gen) for _ in range(20)}
    assert len(texts) > 15


def test_sample_text_does_not_touch_the_global_generator():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    sample_text(30, generator=make_generator(1))
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("bad", [0, -3, MAX_CHARS + 1])
def test_sample_text_rejects_out_of_range_lengths(bad):
    with pytest.raises(ValueError, match="n_chars"):
        sample_text(bad, generator=make_generator(0))


@pytest.mark.parametrize("bad", [2.0, "10", True, None])
def test_sample_text_rejects_non_int_lengths(bad):
    with pytest.raises(TypeError, match="n_chars"):
        sample_text(bad, generator=make_generator(0))


@pytest.mark.parametrize("bad", [None, 0, "cpu"])
def test_sample_text_requires_a_generator(bad):
    with pytest.raises(TypeError, match="generator"):
        sample_text(10, generator=bad)
