"""How the watch itself is doing (anchors: "measuring the watch itself"), from one analysis.

- ``linked``/``problems``: of the current test and build problems (a mass failure's parts
  counted one by one; infrastructure goes to the worker's owner, not to an issue), how many an
  issue covers: linked by the registry or the tracker, or acknowledged ``reported as #N``;
- ``oldest_unreported``: the age, in seconds, of the oldest *new* problem nobody reported
  (no issue, no ``reported as #N``), from its first failing build; None when there is none;
- ``close_candidates``: registry entries whose tests have been green on every builder for
  ``close_after_days`` (``bbwatch.triage.digest.close_candidates``).

Shown on the home page's now panel (``bbwatch.sphinxext.live_acks``). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from bbwatch.triage.acks import AckReport, all_problems
from bbwatch.triage.digest import CLOSE_AFTER_DAYS, close_candidates, reported_problems
from bbwatch.triage.registry import Registry
from bbwatch.triage.rows import Analysis, Problem


@dataclass(frozen=True)
class Health:
    problems: int
    linked: int
    oldest_unreported: float | None  # seconds
    oldest_problem: Problem | None
    close_candidates: int

    @property
    def linked_share(self) -> float | None:
        return self.linked / self.problems if self.problems else None


def health(analysis: Analysis, acks: AckReport | None = None,
           registry: Registry | None = None,
           close_after_days: float = CLOSE_AFTER_DAYS) -> Health:
    acks = acks or AckReport()
    current = [p for p in all_problems(analysis) if p.group in ("test", "build")]
    linked = {p.key for p in reported_problems(current, acks)}
    unreported = [p for p in current if p.classification == "new" and p.key not in linked
                  and p.first_seen is not None]
    oldest = min(unreported, key=lambda p: p.first_seen or 0, default=None)
    age = analysis.now - oldest.first_seen if oldest and oldest.first_seen else None
    return Health(len(current), len(linked), age, oldest,
                  len(close_candidates(analysis, registry, close_after_days)))
