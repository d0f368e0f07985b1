"""QR codes for links on paper: a printed page cannot be clicked, a phone can read a code.

``qr_svg`` draws a URL as inline SVG (segno, pure Python, at build time: no JavaScript, no
network). The SVG holds only the code's modules as paths: the URL itself is not in its text,
so a hostile URL cannot inject markup through it.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping

import segno

# Medium error correction survives a crease or a coffee ring; 2 px modules and a 4-module
# quiet zone (the standard's minimum) scan from paper at the printed size.
ERROR = "m"
SCALE = 2
BORDER = 4


@functools.lru_cache(maxsize=512)
def qr_svg(url: str, *, title: str = "") -> str:
    """Inline ``<svg>`` of the QR code of ``url``, with class ``bbwatch-qr-code``.

    ``title`` becomes the SVG's accessible name (escaped by segno).
    """
    code = segno.make(url, error=ERROR, micro=False)
    return code.svg_inline(scale=SCALE, border=BORDER, dark="#000", light="#fff",
                           svgclass="bbwatch-qr-code", lineclass=None, title=title or None)


QR_VERSION = 1  # bump when the drawing changes (scale, border, error level, segno's output)


class QRCache:
    """QR codes drawn once, kept across builds: a completed build's links never change, and
    drawing a code (segno tries eight masks) costs ~10 ms, a page's four ~40 ms.

    ``known`` maps keys (``key(url, title)``) to SVGs read beforehand, e.g. from the on-disk
    store; ``new`` collects what was drawn, for the caller to store.
    """

    def __init__(self, known: Mapping[str, str] | None = None) -> None:
        self.known = dict(known or {})
        self.new: dict[str, str] = {}

    @staticmethod
    def key(url: str, title: str) -> str:
        digest = hashlib.sha256(f"{QR_VERSION}\0{url}\0{title}".encode()).hexdigest()
        return digest[:32]

    def svg(self, url: str, title: str = "") -> str:
        key = self.key(url, title)
        found = self.known.get(key) or self.new.get(key)
        if found is None:
            found = self.new[key] = qr_svg(url, title=title)
        return found
