"""bbwatch.triage.qr: the SVG of a printed link's QR code."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import segno
from bbwatch.triage.qr import BORDER, SCALE, qr_svg

URL = "https://buildbot.python.org/#/builders/345/builds/8123"


def test_qr_svg_is_one_svg_element_with_our_class_and_no_url_text() -> None:
    svg = qr_svg(URL, title="Build 8123")
    root = ET.fromstring(svg)
    assert root.tag == "svg" and root.get("class") == "bbwatch-qr-code"
    assert root.find("title").text == "Build 8123"
    assert URL not in svg and "buildbot" not in svg  # only modules, never the text


def test_qr_svg_encodes_the_url_at_the_printed_size() -> None:
    code = segno.make(URL, error="m", micro=False)
    size = (code.symbol_size(border=BORDER)[0]) * SCALE
    root = ET.fromstring(qr_svg(URL))
    assert int(root.get("width")) == size == int(root.get("height"))
    # a longer URL needs a larger symbol: the data is in the drawing
    longer = qr_svg(URL + "/steps/test/logs/stdio?" + "x" * 200)
    assert int(ET.fromstring(longer).get("width")) > size


def test_hostile_title_is_escaped() -> None:
    svg = qr_svg(URL, title='</title><script>alert(1)</script>')
    assert "<script>" not in svg
    assert ET.fromstring(svg).find("title").text == '</title><script>alert(1)</script>'


def test_qr_cache_draws_each_code_once_and_reuses_stored_ones() -> None:
    from bbwatch.triage.qr import QRCache

    first = QRCache()
    svg = first.svg(URL, "Build")
    assert first.svg(URL, "Build") == svg and list(first.new.values()) == [svg]
    assert first.svg(URL, "Test log") != svg  # the label is part of the drawing
    stored = dict(first.new)
    second = QRCache(stored)  # a later build, from the store
    assert second.svg(URL, "Build") == svg and second.new == {}


def test_triage_pages_share_one_navigation_per_build() -> None:
    from bbwatch.sphinxext.triage_pages import share_navigation

    class Builder:  # any object that can be weakly referenced, like Sphinx's builders
        pass

    class App:
        builder = Builder()

    calls: list[dict] = []

    def toctree(**kwargs: object) -> str:
        calls.append(kwargs)
        return f"<nav {len(calls)}>"

    app = App()
    pages = []
    for name in ("triage/a/1/test_x", "triage/b/2/test_y", "live/status"):
        context = {"toctree": toctree}
        share_navigation(app, name, "page.html", context, None)
        pages.append(context["toctree"])
    assert pages[0](maxdepth=-1) == pages[1](maxdepth=-1) == "<nav 1>"
    assert pages[1](maxdepth=2) == "<nav 2>"  # other arguments: computed again
    assert pages[2] is toctree  # documents keep Sphinx's own function
    assert len(calls) == 2
