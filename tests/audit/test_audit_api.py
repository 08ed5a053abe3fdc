"""The public API of readingroom.audit: every exported name exists and is documented."""

from __future__ import annotations

import inspect

import readingroom.audit as audit


def test_all_names_exist_and_are_documented():
    assert len(set(audit.__all__)) == len(audit.__all__)
    for name in audit.__all__:
        obj = getattr(audit, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert inspect.getdoc(obj), name
            assert inspect.getmodule(obj).__doc__, name


def test_the_package_does_not_import_the_circuit_tracing_chapter():
    """Shared sparse-feature code comes through readingroom.common, not readingroom.clt."""
    import pathlib

    root = pathlib.Path(audit.__file__).parent
    for path in root.glob("*.py"):
        assert "readingroom.clt" not in path.read_text(), path.name
