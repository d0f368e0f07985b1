"""One Pygments formatter per set of options while the per-failure pages render.

Sphinx's ``PygmentsBridge.get_formatter`` builds a new ``HtmlFormatter`` for every literal
block, and building one computes the whole style sheet (~0.3 ms, more than highlighting a
log excerpt as text). A formatter holds only its options and tables derived from them, so
one made with the same options formats a block the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sphinx.builders.html import StandaloneHTMLBuilder


class SharedFormatters:
    """Formatters of one builder's highlighter, kept for one ``html-collect-pages`` run."""

    def __init__(self, builder: StandaloneHTMLBuilder) -> None:
        self.highlighter = getattr(builder, "highlighter", None)
        self._made: dict[tuple[tuple[str, Any], ...], Any] = {}

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Inside the block the highlighter reuses formatters made with equal options; undone
        after it, so Sphinx's own pages never see it."""
        highlighter = self.highlighter
        original = getattr(highlighter, "get_formatter", None)
        if original is None:
            yield
            return

        def get_formatter(**kwargs: Any) -> Any:
            try:
                key = tuple(sorted(kwargs.items()))
                hash(key)
            except TypeError:  # e.g. a list of lines to emphasise: make one as Sphinx would
                return original(**kwargs)
            if key not in self._made:
                self._made[key] = original(**kwargs)
            return self._made[key]

        shadowed = vars(highlighter).get("get_formatter", _MISSING)
        highlighter.get_formatter = get_formatter
        try:
            yield
        finally:
            if shadowed is _MISSING:
                del highlighter.get_formatter
            else:
                highlighter.get_formatter = shadowed


_MISSING = object()
