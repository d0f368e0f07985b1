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
