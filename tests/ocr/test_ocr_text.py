"""Unit tests for readingroom.ocr.text: the offline docstring corpus and sample_text."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import resources

import pytest
import torch

from readingroom.common import make_generator, read_record
from readingroom.ocr.reader import READERS, reader_path
from readingroom.ocr.text import (
    ALPHABET,
    CORPUS_FILE,
    CORPUS_MODULES,
    CORPUS_RECORD,
    MAX_CHARS,
    build_corpus,
    corpus,
    corpus_sha256,
    read_corpus,
    sample_text,
    write_corpus,
)

#: SHA-256 of the corpus the committed readers were trained and scored on: the corpus that
#: readingroom.ocr.text built from the interpreter's docstrings before it shipped a file (its
#: builder, now ``build_corpus``, unchanged since the readers' commits b69b78b and bc3461f),
#: computed on the CPython 3.11.7 the readers were trained with. With the shipped file, both
#: readers reproduce their recorded held-out precision exactly on the book's CPU
#: (tests/ocr/test_ocr_reader.py checks it to 0.01).
TRAINED_ON_SHA256 = "665a2ff1a342a5938c62645a3ea20cc65a8c01f7ae7288e7bd39a1ce7822fe8a"

#: The interpreter the shipped corpus was built with (its record says so too).
BUILT_ON = ("CPython", "3.11.7")


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


# ---- the shipped corpus -----------------------------------------------------------------------


def test_shipped_corpus_is_the_one_the_committed_readers_were_trained_on():
    assert corpus_sha256() == TRAINED_ON_SHA256
    assert hashlib.sha256(corpus().encode("ascii")).hexdigest() == TRAINED_ON_SHA256
    assert len(corpus()) == 119_145


def test_committed_readers_record_no_other_corpus():
    # Readers trained from now on record the corpus they read (extra["corpus_sha256"]); the
    # committed ones predate that field and were trained on TRAINED_ON_SHA256 (see above).
    for kind in READERS:
        if not reader_path(0, kind).exists():  # a kind not trained yet (e.g. "native")
            continue
        record = read_record(reader_path(0, kind))
        assert record["extra"].get("corpus_sha256", TRAINED_ON_SHA256) == corpus_sha256(), kind


def test_shipped_corpus_record_says_how_it_was_made():
    folder = resources.files("readingroom.ocr")
    assert folder.joinpath(CORPUS_FILE).is_file() and folder.joinpath(CORPUS_RECORD).is_file()
    record = json.loads(folder.joinpath(CORPUS_RECORD).read_text(encoding="utf-8"))
    data = folder.joinpath(CORPUS_FILE).read_bytes()
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    assert record["bytes"] == len(data)
    assert record["chars"] == len(corpus())
    assert record["docstrings"] == len(data.decode("ascii").splitlines())
    assert record["command"] == "python -m readingroom.ocr corpus"
    assert (record["implementation"], record["python"]) == BUILT_ON
    assert record["modules"] == list(CORPUS_MODULES)
    assert record["created"][:4].isdigit()


def test_shipped_corpus_is_what_its_python_builds():
    if (platform.python_implementation(), platform.python_version()) != BUILT_ON:
        pytest.skip(f"docstrings differ between versions; the corpus was built on {BUILT_ON}")
    assert " ".join(build_corpus()) == corpus()


def test_corpus_does_not_depend_on_the_running_interpreter(monkeypatch):
    # corpus() reads the file: docstrings of another Python version cannot change it.
    import readingroom.ocr.text as text

    monkeypatch.setattr(text, "_module_docs", lambda name: ["Something else entirely."])
    assert read_corpus() == corpus()
    assert build_corpus() == ["something else entirely."]


# ---- build_corpus, write_corpus, read_corpus ------------------------------------------------


def test_build_corpus_gives_normalised_unique_docstrings_in_module_order():
    pieces = build_corpus(("heapq", "bisect"))
    assert pieces and len(set(pieces)) == len(pieces)
    for piece in pieces:
        assert piece and piece == piece.strip() and "\n" not in piece and "  " not in piece
        assert set(piece) <= set(ALPHABET)
    assert pieces[0].startswith("heap queue algorithm")  # heapq's module docstring comes first
    assert pieces[: len(build_corpus(("heapq",)))] == build_corpus(("heapq",))


def test_build_corpus_reports_a_missing_module():
    with pytest.raises(ModuleNotFoundError):
        build_corpus(("no_such_module_in_the_stdlib",))


def test_write_corpus_round_trips_through_read_corpus(tmp_path):
    record = write_corpus(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([CORPUS_FILE, CORPUS_RECORD])
    assert json.loads((tmp_path / CORPUS_RECORD).read_text()) == record
    assert record["python"] == platform.python_version()
    text = read_corpus(tmp_path)
    assert text == " ".join(build_corpus())
    assert read_corpus(str(tmp_path)) == text
    assert record["chars"] == len(text)


def test_write_corpus_needs_an_existing_folder(tmp_path):
    with pytest.raises(NotADirectoryError, match="directory"):
        write_corpus(tmp_path / "missing")


def _shipped_copy(tmp_path):
    folder = resources.files("readingroom.ocr")
    for name in (CORPUS_FILE, CORPUS_RECORD):
        (tmp_path / name).write_bytes(folder.joinpath(name).read_bytes())
    return tmp_path


def test_read_corpus_reads_a_copy_of_the_shipped_files(tmp_path):
    assert read_corpus(_shipped_copy(tmp_path)) == corpus()


@pytest.mark.parametrize("missing", [CORPUS_FILE, CORPUS_RECORD])
def test_read_corpus_says_how_to_make_missing_files(tmp_path, missing):
    (_shipped_copy(tmp_path) / missing).unlink()
    with pytest.raises(FileNotFoundError, match="python -m readingroom.ocr corpus"):
        read_corpus(tmp_path)


def test_read_corpus_rejects_a_file_that_does_not_match_its_record(tmp_path):
    folder = _shipped_copy(tmp_path)
    data = (folder / CORPUS_FILE).read_bytes()
    (folder / CORPUS_FILE).write_bytes(data.replace(b"the", b"teh", 1))
    with pytest.raises(ValueError, match="does not match its record"):
        read_corpus(folder)


def _rewrite(folder, data: bytes) -> None:
    """Write ``data`` as the corpus file with a record that matches it."""
    (folder / CORPUS_FILE).write_bytes(data)
    record = json.loads((folder / CORPUS_RECORD).read_text())
    record["sha256"] = hashlib.sha256(data).hexdigest()
    (folder / CORPUS_RECORD).write_text(json.dumps(record))


@pytest.mark.parametrize("data,match", [
    (b"one line\n\nanother\n", "empty line"),
    (b"", "empty line"),
    (b"Capital letters\n", "outside ALPHABET"),
    (b"caf\xc3\xa9\n", "outside ALPHABET"),
])
def test_read_corpus_rejects_malformed_text(tmp_path, data, match):
    folder = _shipped_copy(tmp_path)
    _rewrite(folder, data)
    with pytest.raises(ValueError, match=match):
        read_corpus(folder)


def test_corpus_sha256_is_the_hash_of_the_corpus_text():
    assert corpus_sha256() == hashlib.sha256(corpus().encode("ascii")).hexdigest()
    assert len(corpus_sha256()) == 64


def test_corpus_cli_writes_the_files(tmp_path, capsys):
    from readingroom.ocr.__main__ import main

    assert main(["corpus", "--out", str(tmp_path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["folder"] == str(tmp_path)
    assert printed["sha256"] == json.loads((tmp_path / CORPUS_RECORD).read_text())["sha256"]
    assert read_corpus(tmp_path) == " ".join(build_corpus())


def test_corpus_cli_rejects_a_missing_folder(tmp_path, capsys):
    from readingroom.ocr.__main__ import main

    with pytest.raises(SystemExit) as err:
        main(["corpus", "--out", str(tmp_path / "nowhere")])
    assert err.value.code == 2 and "--out" in capsys.readouterr().err
