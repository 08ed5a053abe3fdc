"""Tests for readingroom.common.paths (a fake checkout in tmp_path; one test checks this one)."""

import json
from pathlib import Path

import pytest

from readingroom.common import book_data_path, load_book_data, repo_root
from readingroom.common import paths as paths_module


@pytest.fixture
def fake_root(tmp_path, monkeypatch):
    """A fake checkout: ``tmp_path/_toc.yml`` and the package folder below it."""
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    anchor = tmp_path / "src" / "readingroom" / "common"
    anchor.mkdir(parents=True)
    (tmp_path / "book" / "data").mkdir(parents=True)
    monkeypatch.setattr(paths_module, "_ANCHOR", anchor)
    return tmp_path


def test_repo_root_finds_the_folder_with_toc(fake_root):
    assert repo_root() == fake_root


def test_repo_root_without_toc_raises(tmp_path, monkeypatch):
    anchor = tmp_path / "site-packages" / "readingroom" / "common"
    anchor.mkdir(parents=True)
    monkeypatch.setattr(paths_module, "_ANCHOR", anchor)
    with pytest.raises(RuntimeError, match="no folder above .* contains _toc.yml"):
        repo_root()


def test_repo_root_of_this_checkout_is_the_checkout():
    # the tests run from the checkout with the package installed in editable mode
    checkout = Path(__file__).resolve().parents[2]
    assert repo_root() == checkout
    assert (repo_root() / "src" / "readingroom" / "common" / "paths.py").is_file()
    assert book_data_path("x.json") == checkout / "book" / "data" / "x.json"


def test_book_data_path(fake_root):
    assert book_data_path("speed.json") == fake_root / "book" / "data" / "speed.json"
    assert book_data_path("nsa/speed.json") == fake_root / "book" / "data" / "nsa" / "speed.json"


def test_load_book_data_reads_a_json_object(fake_root):
    (fake_root / "book" / "data" / "bench.json").write_text(
        json.dumps({"speedup": 2.5, "n": [1, 2]})
    )
    assert load_book_data("bench.json") == {"speedup": 2.5, "n": [1, 2]}


def test_load_book_data_errors(fake_root):
    with pytest.raises(
        FileNotFoundError, match="'missing.json' not found: expected it at .*missing.json"
    ):
        load_book_data("missing.json")
    (fake_root / "book" / "data" / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        load_book_data("broken.json")
    (fake_root / "book" / "data" / "list.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="must hold a JSON object, got list"):
        load_book_data("list.json")
