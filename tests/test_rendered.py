"""The built book as a reader sees it: every page opened in headless Chromium.

Run by `make check-html` (and .ci/run) after `make book`; `make test` leaves these out. Each page
must load with no request leaving localhost (the book works offline: MathJax, fonts and scripts
are served from _static/), have its math typeset, its figures loaded, and no cell showing an error.
Screenshots of the intro and the example chapter are saved to _build/screenshots/.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from readingroom.harness import toc_entries

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
SCREENSHOT_PAGES = {"book/intro", "book/template"}


def _pages() -> list[str]:
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return list(dict.fromkeys(e.removesuffix(".md") for e in toc_entries(toc)))


def _chromium() -> str:
    for cand in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                 shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if cand and Path(cand).is_file():
            return cand
    pytest.fail("no Chromium found: install Debian's `chromium` package (`.ci/run` does) "
                "or set CHROMIUM=/path/to/chrome", pytrace=False)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output readable
        pass


@pytest.fixture(scope="module")
def site():
    if not (HTML / "index.html").is_file():
        pytest.fail("the book is not built: run `make book` before `make check-html`", pytrace=False)
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage"]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=_chromium(), args=args, headless=True)
        yield b
        b.close()


@pytest.mark.rendered
@pytest.mark.enable_socket
@pytest.mark.parametrize("docname", _pages())
def test_page_renders_offline(docname, site, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    outside, failed, bad_status, js_errors = [], [], [], []
    page.on("request", lambda r: outside.append(r.url)
            if urlparse(r.url).hostname not in ("127.0.0.1", "localhost") and
            urlparse(r.url).scheme in ("http", "https") else None)
    page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
    page.on("response", lambda r: bad_status.append(f"{r.url} -> {r.status}") if r.status >= 400 else None)
    page.on("pageerror", lambda e: js_errors.append(str(e)))

    response = page.goto(f"{site}/{docname}.html", wait_until="networkidle")
    assert response is not None and response.status == 200, f"{docname}.html did not load"

    # Math: every formula Sphinx emitted must have been typeset by the local MathJax.
    n_math = page.locator(".math").count()
    if n_math:
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise"
                               " && document.querySelectorAll('mjx-container').length > 0",
                               timeout=20_000)
        page.evaluate("() => MathJax.startup.promise")
        assert page.locator("mjx-container").count() >= n_math, "some math was not typeset"
        assert page.locator("mjx-merror").count() == 0, "MathJax reported a TeX error"

    # Figures: every image loaded and has pixels.
    broken = page.evaluate("""() => Array.from(document.images)
        .filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src)""")
    assert not broken, f"images that did not load on {docname}: {broken}"

    # No cell output shows an error; no docutils error box.
    errors = page.locator(".output.traceback, .output.error, div.system-message").count()
    tracebacks = page.locator(".cell_output:has-text('Traceback (most recent call last)')").count()
    assert errors == 0 and tracebacks == 0, f"{docname} shows an error output"

    assert not outside, f"{docname} asked for resources outside localhost: {outside[:5]}"
    assert not failed, f"{docname}: requests that failed: {failed[:5]}"
    assert not bad_status, f"{docname}: responses with an error status: {bad_status[:5]}"
    assert not js_errors, f"{docname}: JavaScript errors: {js_errors[:3]}"

    if docname in SCREENSHOT_PAGES:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{Path(docname).name}.png"), full_page=True)
    page.close()


# Pages whose generated videos are matplotlib animations (to_jshtml): each must play offline.
ANIMATED_PAGES = {"book/sora": 5}


@pytest.mark.rendered
@pytest.mark.enable_socket
@pytest.mark.parametrize("docname, expected", sorted(ANIMATED_PAGES.items()))
def test_animations_play(docname, expected, site, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{site}/{docname}.html", wait_until="networkidle")
    animations = page.locator("div.animation")
    assert animations.count() >= expected, f"{docname}: {animations.count()} animations"
    for i in range(animations.count()):
        box = animations.nth(i)
        frame = box.locator("img").first
        before = frame.get_attribute("src")
        assert before and before.startswith("data:image/png;base64,"), "no first frame"
        box.locator("button[title='Next frame']").click()
        after = frame.get_attribute("src")
        assert after != before, f"{docname}: animation {i} did not advance a frame"
    page.close()
