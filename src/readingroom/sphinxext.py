"""A small Sphinx extension for the book build (listed in ``_config.yml``).

Jupyter Book 1.0.4 with Sphinx 7.4 registers sphinx-thebe's inline configuration script twice on
every page (``const THEBE_JS_URL = ...`` declared twice is a JavaScript ``SyntaxError`` in the
reader's console). :func:`dedupe_scripts` keeps the first copy of each identical script.
"""

from __future__ import annotations

from typing import Any


def _script_key(script: Any) -> tuple:
    # Inline scripts have filename None or "" depending on who added them, and their priority
    # may differ; two scripts are the same when their file and attributes (body included) are.
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {}) or {}
    return (filename, tuple(sorted((k, str(v)) for k, v in attributes.items())))


def dedupe_scripts(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Drop exact duplicates from a page's ``script_files``, keeping their first position."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique  # in place: later handlers append to this very list


def setup(app) -> dict:
    app.connect("html-page-context", dedupe_scripts, priority=999)  # after every theme handler
    return {"parallel_read_safe": True, "parallel_write_safe": True}
