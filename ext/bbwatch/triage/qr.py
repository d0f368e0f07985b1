"""QR codes for links on paper: a printed page cannot be clicked, a phone can read a code.

``qr_svg`` draws a URL as inline SVG (segno, pure Python, at build time: no JavaScript, no
network). The SVG holds only the code's modules as paths: the URL itself is not in its text,
so a hostile URL cannot inject markup through it.
"""

from __future__ import annotations

import functools

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
