"""One navigation rendering for many generated pages.

Sphinx's ``handle_page`` gives every page a ``toctree(**kwargs)`` callable that resolves and
renders the whole global toctree for that page (furo calls it once per page: ~14 ms on the
handbook). For a generated page that is not a document, outside every folder the documents
live in, that rendering depends on the page only through its depth: no toctree entry is its
own page or an ancestor of it (so nothing is marked current), and every link from it to a
document climbs the same number of ``../`` (``sphinx.util.osutil.relative_uri`` strips no
common folder). Pages of the same depth can therefore share one rendering per set of
arguments. The context a ``html-collect-pages`` handler yields is applied after Sphinx sets
``toctree``, so the shared callable replaces the per-page one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sphinx.builders.html import StandaloneHTMLBuilder

# Builders whose target URI is the quoted docname plus a suffix (``.html`` or ``/``).
_BUILDERS = ("html", "dirhtml")


class SharedToctree:
    """Memoised ``toctree`` callables for generated pages, for one pass of one builder.

    Keep one instance per ``html-collect-pages`` run: the documents, and so the rendering,
    may differ in the next build.
    """

    def __init__(self, builder: StandaloneHTMLBuilder) -> None:
        self.builder = builder
        env = builder.env
        documents = set(env.all_docs)
        for included in env.toctree_includes.values():
            documents.update(included)
        self._documents = documents
        self._folders = {_top(builder.get_target_uri(d)) for d in documents}
        self._rendered: dict[tuple[Any, ...], str] = {}
        self._usable = builder.name in _BUILDERS and hasattr(builder, "_get_local_toctree")

    def key(self, docname: str) -> int | None:
        """The depth that decides this page's rendering, or None if it may differ."""
        if not self._usable or docname in self._documents:
            return None
        uri = self.builder.get_target_uri(docname)
        if "/" not in uri or _top(uri) in self._folders:
            return None
        return uri.count("/")

    def for_page(self, docname: str) -> Callable[..., str] | None:
        """A ``toctree`` callable for the page's context; None keeps Sphinx's own."""
        depth = self.key(docname)
        if depth is None:
            return None

        def toctree(**kwargs: Any) -> str:
            try:
                memo_key = (depth, tuple(sorted(kwargs.items())))
                hash(memo_key)
            except TypeError:  # unhashable arguments: render as Sphinx would
                return self.builder._get_local_toctree(docname, **kwargs)
            if memo_key not in self._rendered:
                self._rendered[memo_key] = self.builder._get_local_toctree(docname, **kwargs)
            return self._rendered[memo_key]

        return toctree


def _top(uri: str) -> str:
    return uri.split("/", 1)[0]
