"""The at-a-glance live pages (issue 15) in headless Chromium, at 1366x768 and 390x844, light
and dark: history strips link to the right builds and say their result in words, overview
rows link to entries that exist, nothing on the page body is wider than the window (wide
tables scroll inside themselves), test names are not broken mid-word, text stays readable in
dark mode; screenshots go to tests/artifacts/, and known-failures is printed to PDF.

The real site (docs/, conf.py, furo) is built against the scale fixture (30 builders with
failures, flakes and a broken builder). The test server appends a checking script to each
page it serves; the script writes what it measured into the DOM, which ``--dump-dom`` returns.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import REPO, build_site
from tests.fleetdata import Fleet
from tests.scalefleet import serve

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO / "tests" / "artifacts"
PAGES = {"status": "live/status.html", "failures": "live/known-failures.html",
         "flaky": "live/flaky-tests.html", "home": "index.html"}
SIZES = {"desktop": (1366, 768), "phone": (390, 844)}  # CSS pixels
SCHEMES = ("light", "dark")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                       reason="Debian's chromium is not installed (CI installs it: .ci/run)"),
]

CHECK = r"""
<script>
window.addEventListener("load", function () {
  function scroller(el) {
    for (var p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      var o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden") { return true; }
    }
    return false;
  }
  function rgb(s) { var m = s.match(/[\d.]+/g) || [0, 0, 0, 0]; return m.map(Number); }
  function lum(c) {
    var v = c.slice(0, 3).map(function (x) { x /= 255;
      return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  }
  function background(el) {
    for (var p = el; p; p = p.parentElement) {
      var c = rgb(getComputedStyle(p).backgroundColor);
      if (c.length < 4 || c[3] > 0) { return c; }
    }
    return [255, 255, 255];
  }
  var vw = document.documentElement.clientWidth;
  var wide = [];
  document.querySelectorAll("article *").forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.width > vw + 1 && !scroller(el)) { wide.push(el.tagName + "." + el.className); }
  });
  var beyond = [];
  document.querySelectorAll("body *").forEach(function (el) {
    var r = el.getBoundingClientRect();
    var pr = el.parentElement.getBoundingClientRect();
    if (r.right > vw + 1 && pr.right <= vw + 1 && !scroller(el)
        && getComputedStyle(el).position !== "fixed") {
      beyond.push(el.tagName + "." + el.className + ":" + Math.round(r.right));
    }
  });
  var anchors = [];
  document.querySelectorAll("a.bbwatch-entry-link").forEach(function (a) {
    var target = document.getElementById(a.getAttribute("href").slice(1));
    anchors.push(!!target && target.classList.contains("bbwatch-problem"));
  });
  var broken = [];
  document.querySelectorAll(".bbwatch-test-file code, .bbwatch-entry-link").forEach(function (el) {
    if (el.getClientRects().length > 1 && el.textContent.indexOf(" ") < 0) {
      broken.push(el.textContent);
    }
  });
  var contrast = [];
  document.querySelectorAll(".bbwatch-live p, .bbwatch-live td").forEach(function (el) {
    if (!el.textContent.trim() || el.closest(".sd-badge")) { return; }
    var a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
    contrast.push((Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05));
  });
  var host = window.parent !== window ? window.parent.document : document;
  var out = host.createElement("pre");
  out.id = "bbwatch-check";
  out.textContent = JSON.stringify({
    viewport: vw, scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 5),
    beyond: beyond.slice(0, 8),
    anchors: anchors, broken: broken.slice(0, 5),
    minContrast: contrast.length ? Math.min.apply(null, contrast) : null,
    dark: lum(background(document.body)) < 0.2,
    tableScrolls: Array.prototype.some.call(document.querySelectorAll("table.bbwatch-table"),
      function (t) { return t.scrollWidth > t.clientWidth; })
  });
  host.body.appendChild(out);
});
</script>
"""


HARNESS = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; }} iframe {{ border: 0; display: block; }}</style></head>
<body><iframe src="{src}" width="{w}" height="{h}"></iframe></body></html>"""


class _Checked(SimpleHTTPRequestHandler):
    """Serves the site; ``?check`` appends the checking script to an HTML page."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        path, _, query = self.path.partition("?")
        if path == "/harness.html":  # a phone-sized frame: headless windows are >= 500 px
            src, width, height = query.split(",")
            return self._send(HARNESS.format(src=html.escape(src), w=int(width),
                                             h=int(height)).encode())
        if query != "check" or not path.endswith(".html"):
            return super().do_GET()
        body = Path(self.translate_path(path)).read_text(encoding="utf-8")
        self._send(body.replace("</body>", CHECK + "</body>").encode())

    def _send(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict]]:
    out = tmp_path_factory.mktemp("glance-site")
    fleet = serve(Fleet(builders=30, builds=30, seed=3, log_kb=4), latency=0)
    try:
        build = build_site(out, overrides={"suppress_warnings": ["bbwatch.live"]},
                           BBWATCH_BUILDBOT_URL=fleet.url)
        assert build.status == 0, build.warnings
        builds: dict[int, list[tuple[int, int]]] = {}
        for spec in fleet.fleet.specs.values():
            builds.setdefault(spec.builderid, []).append((spec.number, spec.results))
    finally:
        fleet.stop()
    handler = functools.partial(_Checked, directory=str(out / "html"))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", out / "html", builds
    httpd.shutdown()
    httpd.server_close()


def framed(url: str, page: str, size: tuple[int, int], check: bool = True) -> str:
    """The page in a frame of the given size (the phone's 390 px: below headless' minimum)."""
    src = "/" + page + ("?check" if check else "")
    return f"{url}harness.html?{src},{size[0]},{size[1]}"


def chromium(tmp_path: Path, size: tuple[int, int], scheme: str, *args: str) -> str:
    assert CHROMIUM is not None, "chromium is required in CI"
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
           f"--window-size={max(size[0], 500)},{size[1]}",
           f"--blink-settings=preferredColorScheme={0 if scheme == 'dark' else 1}",
           "--virtual-time-budget=4000", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return done.stdout


def _checks(dom: str) -> dict:
    found = re.search(r'<pre id="bbwatch-check">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("page", PAGES)
def test_page_fits_the_window_and_reads_in_both_schemes(site, tmp_path, page, size, scheme):
    url, _root, _builds = site
    dom = chromium(tmp_path, SIZES[size], scheme, "--dump-dom",
                   framed(url, PAGES[page], SIZES[size]))
    checks = _checks(dom)
    # nothing on the page body is wider than the window: wide tables scroll inside
    assert checks["wide"] == [] and checks["beyond"] == [], checks
    assert checks["viewport"] == SIZES[size][0]
    assert checks["scrollWidth"] <= checks["viewport"] + 1, checks
    assert checks["dark"] is (scheme == "dark")
    assert checks["minContrast"] is not None and checks["minContrast"] >= 4.5, checks
    assert checks["broken"] == [], checks  # no test name broken mid-word
    if page == "failures":
        assert checks["anchors"] and all(checks["anchors"]), checks
    if size == "phone" and page in ("status", "failures", "flaky"):
        assert checks["tableScrolls"], checks  # the table scrolls, not the page
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"glance-{page}-{size}-{scheme}.png"
    shot.unlink(missing_ok=True)
    chromium(tmp_path, SIZES[size], scheme, f"--screenshot={shot}",
             framed(url, PAGES[page], SIZES[size], check=False))
    assert shot.is_file() and shot.stat().st_size > 5000


_CELL = re.compile(r'<a class="bbwatch-cell bbwatch-cell-([a-z]+) reference external" '
                   r'href="[^"]*#/builders/(\d+)/builds/(\d+)" title="#(\d+) ([a-z ]+)">'
                   r'#(\d+) ([a-z ]+)</a>')


def test_status_strips_link_the_last_builds_of_their_own_builder(site, tmp_path):
    url, _root, builds = site
    dom = chromium(tmp_path, SIZES["desktop"], "light", "--dump-dom", url + PAGES["status"])
    words = {0: "success", 1: "warnings", 2: "failure", 3: "skipped", 4: "exception"}
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", dom, re.S)
    checked = 0
    for row in rows:
        cells = _CELL.findall(row)
        if not cells:
            continue
        builderids = {int(c[1]) for c in cells}
        assert len(builderids) == 1  # a row's squares are its own builder's builds
        builderid = builderids.pop()
        numbers = [int(c[2]) for c in cells]
        want = sorted(builds[builderid])[-20:]  # the last 20, oldest first: newest right
        assert numbers == [n for n, _r in want]
        for (css, _b, number, t_num, t_word, text_num, text_word), (_n, result) in zip(
                cells, want, strict=True):
            assert t_num == text_num == number and t_word == text_word == words[result]
            assert css == words[result]
        checked += 1
    assert checked == 30


def test_known_failures_prints_to_pdf(site, tmp_path):
    url, _root, _builds = site
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = ARTIFACTS / "glance-known-failures.pdf"
    pdf.unlink(missing_ok=True)
    chromium(tmp_path, SIZES["desktop"], "light", "--no-pdf-header-footer",
             f"--print-to-pdf={pdf}", url + PAGES["failures"])
    assert pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                              text=True, check=True).stdout
        assert "Overview" in text and "Failure matrix" in text
        # squares print their words: colour is not the only carrier on paper
        assert re.search(r"#\d+ (fail|pass|flaky)", text)
