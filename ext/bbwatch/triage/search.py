"""The watcher's search procedure over a tracker: ``search_candidates`` runs a failure's search
terms (``bbwatch.triage.matching``) against a ``Tracker`` in the procedure's order and stops
when an issue covers the failure. The one place where matching and a tracker meet.
"""

from __future__ import annotations

from bbwatch.domain import Failure, Issue
from bbwatch.errors import TrackerError
from bbwatch.triage.matching import KNOWN_THRESHOLD, message_query, rank, search_terms
from bbwatch.triage.tracker import Tracker


def search_candidates(tracker: Tracker, failure: Failure, *, exhaustive: bool = False
                      ) -> tuple[list[Issue], str | None]:
    """Run the failure's search terms in the procedure's order and de-duplicate the issues.

    Titles are searched for every term but the message, then the full text for the message (or,
    without a message, for the test file). Like a watcher, it stops as soon as an open issue
    matches well enough to make the failure known (GitHub allows 30 searches a minute), unless
    ``exhaustive``. A tracker failure never raises: the issues found before it are kept and the
    note says "not checked: <reason>" (nothing found) or "partly checked: <reason>".
    """
    terms = search_terms(failure)
    queries: list[tuple[str, bool]] = [(t, True) for t in terms]
    if failure.message and len(terms) > 1:
        # full text, for the message's telling words: "Windows fatal exception: stack
        # overflow" is searched as "windows stack overflow", as a watcher would type it
        queries[-1] = (message_query(terms[-1]) or terms[-1], False)
    elif terms:
        queries.append((failure.test_file, False))
    found: dict[int, Issue] = {}
    for term, in_title in queries:
        try:
            results = tracker.search(term, in_title=in_title)
        except TrackerError as exc:
            word = "partly checked" if found else "not checked"
            return list(found.values()), f"{word}: {exc}"
        for issue in results:
            found.setdefault(issue.number, issue)
        if not exhaustive and any(m.issue.is_open and m.confidence >= KNOWN_THRESHOLD
                                  for m in rank(failure, list(found.values()))):
            break
    return list(found.values()), None
