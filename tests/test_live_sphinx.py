"""The live directives in real Sphinx builds of tests/roots/test-live against local masters.

Masters: tests/scalefleet.py's generated fleet (hostile names, failures, flakes) served on
127.0.0.1; tests/httpfake.py for HTTP 500 and truncated JSON; a closed port for "master down".
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from sphinx.testing.util import SphinxTestApp

from tests.conftest import REPO
from tests.fleetdata import Fleet
from tests.httpfake import FakeServer, Reply
from tests.scalefleet import serve

ROOT = REPO / "tests" / "roots" / "test-live"
LIVE_DOCS = {"status", "failures", "flaky", "filtered"}
LIVE_RETRIES = 1  # the live pages' client: open_client(..., retries=1) in sphinxext/live.py


@pytest.fixture(scope="module")
def master() -> Iterator[Any]:
    """A generated 12-builder fleet with hostile builder names, served in-process."""
    server = serve(Fleet(builders=12, builds=8, seed=3, log_kb=4, hostile=True), latency=0)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _no_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BBWATCH_BUILDBOT_URL", "BBWATCH_SNAPSHOT", "BBWATCH_OFFLINE"):
        monkeypatch.delenv(name, raising=False)


def closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there any more: connections are refused
    return f"http://127.0.0.1:{port}/"


def make(out: Path, url: str, *, fresh: bool = True, parallel: int = 0, builder: str = "html",
         **conf: Any) -> SphinxTestApp:
    overrides = {"bbwatch_buildbot_url": url, "bbwatch_cache_dir": str(out / "cache"), **conf}
    return SphinxTestApp(builder, srcdir=ROOT, builddir=out / "build", freshenv=fresh,
                         confoverrides=overrides, status=StringIO(), warning=StringIO(),
                         parallel=parallel)


def build(out: Path, url: str, **kw: Any) -> tuple[SphinxTestApp, dict[str, str], str]:
    app = make(out, url, **kw)
    try:
        app.build()
    finally:
        app.cleanup()
    html = {p.stem: p.read_text() for p in Path(app.outdir).glob("*.html")}
    return app, html, app.warning.getvalue()


def text(page: str) -> str:
    """The visible text of the page body, tags stripped, entities left as written."""
    body = page[page.find('<div class="body"'):]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


@pytest.fixture(scope="module")
def site(master, tmp_path_factory) -> tuple[SphinxTestApp, dict[str, str], str]:
    master.http.reset_log()
    return build(tmp_path_factory.mktemp("live"), master.url)


def test_pages_build_without_warnings_and_list_every_builder(site, master):
    app, html, warnings = site
    assert warnings == ""
    status = html["status"]
    for row in master.fleet.builder_rows:
        name = str(row["name"])
        if "<" not in name and "\x1b" not in name and "\x00" not in name:
            assert name in text(status), name
    assert status.count('class="bbwatch-builder"') == len(master.fleet.builder_rows)
    assert "Data fetched" in text(status)
    # result as colour (sphinx-design badge) AND word
    assert re.search(r'sd-bg-danger[^"]*bbwatch-result-failure[^"]*">failure<', status)
    assert "release-blocking failure" in status
    assert "failing since build #" in status


def test_data_is_fetched_once_per_build_not_once_per_page(site, master):
    paths = master.stats()["paths"]
    builders = [n for p, n in paths.items() if p.rstrip("/").endswith("api/v2/builders")]
    assert sum(builders) == 1


def test_network_strings_are_escaped_text(site):
    _app, html, _ = site
    for page in ("status", "failures", "flaky"):
        assert "<script>document.title" not in html[page]
        assert "onerror=\"document.title" not in html[page]
        assert "javascript:" not in re.findall(r'href="([^"]*)"', html[page]).__str__()
    controls = {chr(c) for c in range(32) if chr(c) not in "\t\n\r"} | {"\x7f"}
    bidi = {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067",
            "\u2068", "\u2069"}
    for page in ("status", "failures", "flaky"):
        assert not set(html[page]) & (controls | bidi), page
    assert "nul\u2400byte" in html["status"] and "rtl&lt;U+202E&gt;gnp.exe" in html["status"]
    assert "&lt;script&gt;document.title=&#39;PWNED&#39;" in html["status"] or (
        "&lt;script&gt;document.title='PWNED'" in html["status"]
    )


def test_known_failures_group_rows_and_show_infra_and_triage(site):
    _app, html, _ = site
    page = html["failures"]
    body = text(page)
    assert re.search(r"\d+ test problems? \(\d+ new, \d+ known, \d+ flaky\)", body)
    assert page.count('class="docutils container bbwatch-problem') >= 1 or (
        "bbwatch-problem" in page
    )
    assert "Infrastructure" in body
    assert "First seen" in body and "Last seen" in body
    assert 'class="reference internal" href="triage/' in page or "Triage" in body
    # one row per failing test: no test title appears twice among the problem titles
    titles = re.findall(r'bbwatch-problem-title">.*?<strong>(.*?)</strong>', page, re.S)
    assert titles and len(titles) == len(set(titles))


def test_filters_from_rest(site):
    app, html, _ = site
    page = html["filtered"]
    rows = re.findall(r'class="bbwatch-tags">(.*?)</p>', page, re.S)
    expected = app.bbwatch_analysis.status_rows(["3.x"], ["tier-1"], ["failure"])
    assert len(rows) == sum(len(s.rows) for s in expected) > 0
    assert all("tier-1" in r for r in rows)
    assert len(rows) < html["status"].count('class="bbwatch-tags"')
    assert "Infrastructure" in text(page)
    assert "bbwatch-group-test" not in page  # :classification: infra keeps infra rows only


def test_flaky_page_lists_tests_with_evidence(site):
    _app, html, _ = site
    page = html["flaky"]
    assert "Failure rate" in page and "History per builder" in page
    # the figures behind the rank: failures in runs, the rate, its 95% interval, flips
    assert re.search(r"\d+ failures? in \d+ runs? \(\d+%, 95% interval \d+%–\d+%\), "
                     r"\d+ flips?", text(page))
    assert 'class="bbwatch-cell bbwatch-cell-' in page


def test_master_down_degrades_with_one_warning_and_a_visible_admonition(tmp_path):
    app, html, warnings = build(tmp_path, closed_port_url())
    lines = [w for w in warnings.splitlines() if "WARNING" in w]
    assert len(lines) == 1, warnings
    assert "[bbwatch.live]" in lines[0] and "Live data unavailable" in lines[0]
    assert re.search(r"(status|failures|flaky|filtered)\.(md|rst):\d+", lines[0])
    for doc in LIVE_DOCS:
        assert "Live data unavailable:" in html[doc]
        assert "no earlier data to show" in html[doc]
    assert "Live data" not in html["other"]


def test_master_down_shows_the_last_fetched_data(tmp_path):
    server = serve(Fleet(builders=4, builds=3, seed=1, log_kb=2), latency=0)
    url = server.url
    try:
        build(tmp_path, url)
    finally:
        server.stop()  # the same master is now down
    _app, html, warnings = build(tmp_path, url)
    assert warnings.count("WARNING") == 1
    assert "showing data from" in html["status"]
    assert "(cached copy)" in text(html["status"])
    assert html["status"].count('class="bbwatch-builder"') == 4
    # another master's last data is never shown in its place
    _app, html, _warnings = build(tmp_path, closed_port_url())
    assert "no earlier data to show" in html["status"]


@pytest.mark.parametrize("reply", [Reply(status=500, body=b"oops"),
                                   Reply.json({"builders": [{"builderid": 1}] * 50},
                                              truncate=20),
                                   Reply(body=b"<html>not json</html>"),
                                   Reply.json({"builders": []}, delay=3.0)],
                         ids=["http-500", "truncated-json", "garbage", "slow"])
def test_broken_master_degrades(tmp_path, reply):
    with FakeServer() as srv:
        srv.route("/api/v2/builders", reply)
        srv.route("/api/v2/workers", reply)
        _app, html, warnings = build(tmp_path, srv.url, bbwatch_timeout=0.5)
        asked = {path: srv.count(path) for path in {r.path for r in srv.requests}}
    assert warnings.count("WARNING") == 1 and "[bbwatch.live]" in warnings
    assert "Live data unavailable:" in html["status"]
    assert "Traceback" not in warnings
    # Given up on, not waited for: only the first questions were asked, each at most once more
    # (the live pages' retries), however the master fails.
    assert "/api/v2/builders" in asked and set(asked) <= {"/api/v2/builders", "/api/v2/workers"}
    assert all(n <= 1 + LIVE_RETRIES for n in asked.values()), asked
    if reply.delay:
        # a slow master: every try cut off at bbwatch_timeout (0.5 s, not the 3 s it takes),
        # retried, then given up on; the pages say why
        assert asked["/api/v2/builders"] == 1 + LIVE_RETRIES, asked
        assert "no response within 0.5s" in html["status"]


def test_strict_mode_fails_the_build(tmp_path):
    app, html, warnings = build(tmp_path, closed_port_url(), bbwatch_strict=True)
    assert app.statuscode == 1
    assert warnings.count("WARNING") == 1 and "[bbwatch.live]" in warnings
    assert "Live data unavailable:" in html["status"]  # the pages still say why


def test_strict_mode_passes_when_the_data_is_live(master, tmp_path):
    app, _html, warnings = build(tmp_path, master.url, bbwatch_strict=True)
    assert app.statuscode == 0 and warnings == ""


def test_recorded_snapshot_as_the_source(tmp_path):
    snapshot = REPO / "tests" / "fixtures" / "snapshot"
    _app, html, warnings = build(tmp_path, "http://127.0.0.1:9/", bbwatch_snapshot=str(snapshot))
    assert warnings == ""
    assert "(recorded snapshot)" in text(html["status"])
    assert "AMD64 Debian root 3.x" in html["status"]


def test_rebuild_with_unchanged_data_succeeds(tmp_path):
    snapshot = str(REPO / "tests" / "fixtures" / "snapshot")
    build(tmp_path, "http://127.0.0.1:9/", bbwatch_snapshot=snapshot)
    app, _html, _warnings = build(tmp_path, "http://127.0.0.1:9/", fresh=False,
                                  bbwatch_snapshot=snapshot)
    assert app.statuscode == 0


def test_linkcheck_does_not_fetch_live_data(master, tmp_path):
    before = master.stats()["total"]
    app = make(tmp_path, master.url, builder="linkcheck")
    try:
        app.build()
    finally:
        app.cleanup()
    assert master.stats()["total"] == before
    assert "bbwatch" not in app.warning.getvalue()


def test_offline_mode_makes_no_request_and_no_warning(master, tmp_path):
    before = master.stats()["total"]
    _app, html, warnings = build(tmp_path, master.url, bbwatch_offline=True)
    assert warnings == ""
    assert master.stats()["total"] == before
    assert "Live data is disabled" in html["status"]


@pytest.mark.parametrize(("builder", "suffix"), [("text", ".txt"), ("latex", ".tex")])
def test_other_writers_show_the_strips_as_words(master, tmp_path, builder, suffix):
    """A history strip is one node with its own HTML visitor; text and LaTeX show its words."""
    app = make(tmp_path, master.url, builder=builder)
    try:
        app.build()
    finally:
        app.cleanup()
    assert app.statuscode == 0 and "Traceback" not in app.warning.getvalue()
    written = "".join(p.read_text() for p in Path(app.outdir).glob(f"*{suffix}"))
    # (LaTeX escapes the hash; text tables wrap, so a square may end its line)
    verdict = r"(pass|flaky|fail|not run|success|failure|warnings|exception)"
    assert re.search(r"oldest first: \\?#\d+\s+" + verdict, written)


def test_parallel_build(master, tmp_path):
    app, html, warnings = build(tmp_path, master.url, parallel=2)
    assert warnings == ""
    assert "bbwatch-builder" in html["status"] and "bbwatch-problem" in html["failures"]


def _build_noting_reads(out: Path, url: str, fresh: bool, read: list[str]) -> SphinxTestApp:
    """Build the test root into ``out``, appending each document Sphinx reads to ``read``."""
    app = make(out, url, fresh=fresh)
    app.connect("source-read", lambda app, docname, source: read.append(docname))
    try:
        app.build()
    finally:
        app.cleanup()
    return app


def test_incremental_build_rereads_only_live_pages_changed_data_or_not(master, tmp_path,
                                                                     monkeypatch):
    """Every build that checks the master renders the live pages again (their check time and
    ages are its own); other pages are re-read only when they change. An offline build
    re-reads them once (they then say live data is disabled), and not again."""
    read: list[str] = []

    def run(fresh: bool) -> str:
        app = _build_noting_reads(tmp_path, master.url, fresh, read)
        return (Path(app.outdir) / "status.html").read_text()

    run(True)
    assert LIVE_DOCS | {"other", "index"} <= set(read)
    read.clear()
    run(False)
    assert set(read) == LIVE_DOCS  # same data, checked again
    read.clear()
    master.fleet.add_builds(2)
    run(False)
    assert set(read) == LIVE_DOCS
    read.clear()
    monkeypatch.setenv("BBWATCH_OFFLINE", "1")  # as `make html` is told (conf.py unchanged)
    assert "Live data is disabled" in run(False)
    assert set(read) == LIVE_DOCS  # they showed live data: now they say it is disabled
    read.clear()
    run(False)
    assert read == []  # nothing checked, nothing to say again


def _checked_at(page: str) -> int:
    """The check time a live page states (the epoch class of its "Master last checked")."""
    found = set(re.findall(r'class="[^"]*bbwatch-checked-at bbwatch-t-(\d+)', page))
    assert len(found) == 1, found
    return int(found.pop())


def test_a_rebuild_with_nothing_new_states_its_own_check_time(master, tmp_path):
    """Without JavaScript too: the second build's pages say when *it* checked the master and
    their ages are true at that time; the data version (the browser's reload cue) and the
    version file agree with them; a page without live blocks is not re-read or rewritten."""
    read: list[str] = []

    def run(fresh: bool) -> tuple[Path, dict[str, str]]:
        app = _build_noting_reads(tmp_path, master.url, fresh, read)
        assert app.statuscode == 0 and app.warning.getvalue() == ""
        out = Path(app.outdir)
        return out, {p.stem: p.read_text() for p in out.glob("*.html")}

    out, first = run(True)
    other_written = (out / "other.html").stat().st_mtime_ns
    checked = _checked_at(first["status"])
    while int(time.time()) <= checked:  # the next check is at a later second
        time.sleep(0.05)
    read.clear()
    _out, second = run(False)
    assert set(read) == LIVE_DOCS and "other" not in read
    assert (out / "other.html").stat().st_mtime_ns == other_written
    version = json.loads((out / "bbwatch-version.json").read_text())
    for doc in LIVE_DOCS:
        assert _checked_at(second[doc]) > checked
        assert _checked_at(second[doc]) == int(version["checked_at"])
        stamp = f"bbwatch-version-{version['version']}"
        assert stamp in first[doc] and stamp in second[doc]  # same data: no reload in browsers
    assert "Master last checked" in text(second["status"])


def test_the_fetch_runs_while_sphinx_reads(tmp_path):
    """builder-inited only starts the fetch: Sphinx reads while the master answers, and the
    pages still get the data (``get_state`` waits for it)."""
    import threading

    from bbwatch.sphinxext import live

    gate = threading.Event()

    def builders(_request: Any) -> bytes:
        gate.wait(60)  # the master "thinks" until the test lets it answer
        return json.dumps({"builders": [{"builderid": 1, "name": "held builder 3.x",
                                         "tags": ["3.x"]}], "meta": {"total": 1}}).encode()

    with FakeServer() as srv:
        srv.route("/api/v2/builders", Reply(body=builders,
                                            headers={"Content-Type": "application/json"}))
        srv.route("/api/v2/workers", Reply.json({"workers": [], "meta": {"total": 0}}))
        srv.route("/api/v2/builds", Reply.json({"builds": [], "meta": {"total": 0}}))
        srv.route("/api/v2/builders/1/builds", Reply.json({"builds": [], "meta": {"total": 0}}))
        app = make(tmp_path, srv.url)  # runs builder-inited: must not wait for the master
        try:
            pending = app.bbwatch_pending
            assert pending is not None and not pending.done()  # a Future, still running
            gate.set()
            app.build()
        finally:
            gate.set()
            app.cleanup()
    assert app.bbwatch_pending is None
    analysis = live.get_analysis(app)
    assert analysis is not None and [b.name for b in analysis.fleet.builders] == [
        "held builder 3.x"]
    assert "held builder 3.x" in (Path(app.outdir) / "status.html").read_text()
    assert app.env.bbwatch_live_digest == live.get_state(app).digest
