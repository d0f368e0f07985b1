"""Hostile-input suite: what a Buildbot master (or a tracker) sends is shown as text, never run.

One site build (tests/hostile_site.py) against ``tests/scalefleet.py`` (hostile); every page that
shows network data is parsed and checked. The browser half is tests/browser/test_hostile_browser.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests import hostile
from tests.fakegithub import FakeGitHub
from tests.fleetdata import Fleet
from tests.hostile_site import HOSTILE_ISSUE, TOKEN_CANARY, HostileSite, build_hostile_site
from tests.scalefleet import serve

CONTROL = {chr(c) for c in range(32) if chr(c) not in "\t\n\r"} | {"\x7f"}
BIDI = {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"}


class Page(HTMLParser):
    """Text, scripts, attributes and excerpts of one HTML page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.scripts: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []  # (tag, name, value)
        self.excerpts: list[str] = []
        self._stack: list[tuple[str, bool]] = []
        self.feed(html)
        self.close()

    @property
    def in_excerpt(self) -> bool:
        return any(excerpt for _, excerpt in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = dict(attrs).get("class") or ""
        for name, value in attrs:
            self.attrs.append((tag, name, value or ""))
        if tag not in ("img", "br", "hr", "meta", "link", "input"):
            self._stack.append((tag, "bbwatch-excerpt" in classes.split()))

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            if self._stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._stack and self._stack[-1][0] == "script":
            self.scripts.append(data)
        else:
            self.text.append(data)
            if self.in_excerpt:
                self.excerpts.append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> HostileSite:
    built = build_hostile_site(tmp_path_factory.mktemp("hostile"))
    assert built.returncode == 0, built.output
    return built


@pytest.fixture(scope="module")
def pages(site: HostileSite) -> dict[str, Page]:
    found = {str(p.relative_to(site.outdir)): Page(p.read_text("utf-8", errors="replace"))
             for p in site.live_pages()}
    assert len(found) > 3, "expected the live pages and at least one triage page"
    return found


def test_build_finishes_without_traceback(site: HostileSite) -> None:
    assert "Traceback" not in site.output
    assert "Live data unavailable" not in (site.outdir / "status.html").read_text("utf-8")


def test_no_payload_becomes_script_handler_or_link(pages: dict[str, Page]) -> None:
    for name, page in pages.items():
        for script in page.scripts:
            assert hostile.MARK not in script, f"{name}: a payload became a <script>"
        for tag, attr, value in page.attrs:
            where = f"{name}: <{tag} {attr}={value[:80]!r}>"
            assert not (attr.startswith("on") and hostile.MARK in value), where
            if attr in ("href", "src", "action", "formaction"):
                scheme = "".join(value.split()).lower()
                assert not scheme.startswith(("javascript:", "data:", "vbscript:")), where
        # a payload breaking out of an attribute would show up as its own <img onerror=...>
        assert not any(tag == "img" and attr == "onerror" for tag, attr, _ in page.attrs), name


def test_payloads_appear_literally(pages: dict[str, Page]) -> None:
    status, failures = pages["status.html"].all_text, pages["failures.html"].all_text
    assert f"AMD64 {hostile.SCRIPT} 3.x" in status
    assert f"ARM64 {hostile.IMG} {hostile.JS_URL} 3.x" in status
    assert hostile.worker_name(1) in status and hostile.worker_name(2) in status
    assert hostile.TEST_ID in failures
    assert hostile.AUTHOR in failures  # the suspect change's author
    assert "gh-666: " + hostile.IMG in failures  # the commit title
    assert HOSTILE_ISSUE["title"] in failures  # the tracker's issue title


def test_markup_is_not_interpreted(site: HostileSite, pages: dict[str, Page]) -> None:
    status = pages["status.html"].all_text
    for literal in (hostile.MYST, hostile.ROLE):  # MyST, Sphinx roles, Jinja, in builder 3
        assert literal in status
    failures = (site.outdir / "failures.html").read_text("utf-8")
    assert "<strong>bold</strong>" not in failures
    assert "<b>raw</b>" not in failures  # the commit's `.. raw:: html`
    assert "SECRET" not in "".join(pages["status.html"].scripts)


def test_github_new_issue_urls_are_encoded(pages: dict[str, Page]) -> None:
    urls = [v for page in pages.values() for tag, attr, v in page.attrs
            if tag == "a" and attr == "href" and "/issues/new?" in v]
    assert urls, "no pre-filled new-issue link on the triage pages"
    for url in urls:
        assert not set(url) & set(' <>"\'\n\x00\x1b'), f"unencoded character in {url[:120]}"
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("https", "github.com")
        query = parse_qs(parts.query, strict_parsing=True)
        assert "title" in query  # the print-only QR link holds the form without its body
        (title,) = query["title"]
        assert hostile.TEST_ID.rsplit(".", 1)[-1] in title  # the hostile test name, round trip
        assert len(url) <= 8192  # GitHub refuses longer
    assert any("body" in parse_qs(urlsplit(url).query) for url in urls)  # the prefilled form


def test_env_dump_never_copied_into_pages(site: HostileSite, pages: dict[str, Page]) -> None:
    for path in site.html_files():
        assert hostile.ENV_CANARY not in path.read_text("utf-8", errors="replace"), path
    excerpts = "".join(t for page in pages.values() for t in page.excerpts)
    assert excerpts, "no log excerpt rendered"
    for header in ("Worker name:", "Build number:", " environment:", "using PTY:", " argv: ",
                   "HOME=/home/buildbot", "PATH=/usr/local/bin"):
        assert header not in excerpts


def test_token_never_in_pages_cache_or_output(site: HostileSite) -> None:
    assert TOKEN_CANARY not in site.output
    for path in [*site.outdir.rglob("*"), *site.cache.rglob("*")]:
        if path.is_file():
            assert TOKEN_CANARY.encode() not in path.read_bytes(), path


def test_token_never_in_cli_output_cache_or_errors(tmp_path: Path) -> None:
    """`bbwatch match` against the hostile master and a local GitHub: the token is sent in the
    Authorization header, and appears nowhere else, even when GitHub rejects it."""
    with serve(Fleet(3, 3, log_kb=4, hostile=True), latency=0) as server:
        url = server.url
        with FakeGitHub([{"number": 1, "title": "test_evil fails", "state": "open"}]) as gh:
            outputs = []
            for reject in (False, True):
                if reject:
                    gh.fail_next(401, body='{"message": "Bad credentials"}')
                env = {**os.environ, "GITHUB_TOKEN": TOKEN_CANARY}
                done = subprocess.run(
                    [sys.executable, "-m", "bbwatch", "match", f"{url}#/builders/1/builds/2",
                     "--tracker", "github", "--github-api", gh.url, "--timeout", "5",
                     "--cache-dir", str(tmp_path / f"cache{reject}")],
                    env=env, capture_output=True, text=True, timeout=120)
                outputs.append(done.stdout + done.stderr)
            sent = [value for r in gh.requests for value in r.headers.values()]
    assert any(TOKEN_CANARY in header for header in sent), "the token was never used"
    assert "Traceback" not in "".join(outputs)
    for output in outputs:
        assert TOKEN_CANARY not in output
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert TOKEN_CANARY.encode() not in path.read_bytes(), path


# A master's control characters and bidi overrides are shown as symbols, never copied raw.
def test_no_control_characters_reach_the_html(site: HostileSite) -> None:
    for path in site.live_pages():
        text = path.read_text("utf-8", errors="replace")
        assert not set(text) & CONTROL, f"{path.name}: raw control characters"


def test_bidi_overrides_cannot_reorder_the_page(site: HostileSite) -> None:
    for path in site.live_pages():
        text = path.read_text("utf-8", errors="replace")
        found = [unicodedata.name(c) for c in set(text) & BIDI]
        assert not found, f"{path.name}: raw {found}"
