"""What the triage filler needs about one build (``TriageContext`` and its failures, candidate
issues, suspect changes, build links) and where its links go (``TrackerLinks``): built by the
CLI or from the fleet analysis (``bbwatch.triage.analysis_context``), read by the filler
(``bbwatch.triage.fill``) and the renderers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from bbwatch.domain import Failure
from bbwatch.triage.tracker import GitHubTracker

_SLUG_JUNK = re.compile(r"[^a-z0-9]+")
_TEST_JUNK = re.compile(r"[^A-Za-z0-9_.-]+")

# GitHub answers 414 for URLs much beyond 8 kB; keep a margin for the browser's own encoding.
MAX_NEW_ISSUE_URL = 8000
DEFAULT_REPO = "python/cpython"
DEFAULT_LABELS = ("type-bug", "tests")
KNOWN_CONFIDENCE = 0.7  # matching.KNOWN_THRESHOLD: a match this strong makes a failure known


def builder_slug(name: str) -> str:
    """``"AMD64 Debian 3.x"`` -> ``"amd64-debian-3-x"`` (stable, URL- and file-safe)."""
    return _SLUG_JUNK.sub("-", name.lower()).strip("-") or "builder"


def triage_docname(builder_name: str, number: int, test: str) -> str:
    """Docname of the per-failure checklist page, e.g. ``triage/amd64-debian-3-x/12/test_os``.

    The known-failures page links its rows here; the page itself is generated at
    ``html-collect-pages`` by ``bbwatch.sphinxext.checklists``.
    """
    test_part = _TEST_JUNK.sub("-", test).strip(".-") or "build"
    return f"triage/{builder_slug(builder_name)}/{int(number)}/{test_part}"


@dataclass(frozen=True)
class Candidate:
    """An issue the matcher found for a failure, with why."""

    title: str
    url: str
    number: int | None = None
    state: str = "open"
    reason: str = ""
    confidence: float = 0.0
    source: str = "tracker"  # "registry" | "tracker"
    terms: tuple[str, ...] = ()  # search terms whose results held this issue


@dataclass(frozen=True)
class SuspectChange:
    title: str
    revision: str = ""
    author: str = ""
    url: str = ""
    reason: str = ""
    score: int = 0


@dataclass(frozen=True)
class BuildLink:
    number: int
    url: str


@dataclass
class FailureContext:
    """One failing test file of the build."""

    test_file: str
    test_ids: tuple[str, ...] = ()
    kind: str = "failed"  # failed | crashed | timed_out | env_changed | leaked | flaky
    message: str = ""  # the error line, for the full-text search
    excerpt: str = ""
    candidates: tuple[Candidate, ...] = ()
    passed_on_rerun: bool = False


@dataclass
class TriageContext:
    """Everything the filler needs about one build; built by the CLI or from the analysis."""

    build_url: str
    builder: str
    build_number: int
    result: str  # Result.word: success, warnings, failure, exception, retry, ...
    branch: str = ""
    revision: str = ""
    worker: str = ""
    owner: str = ""
    builder_url: str = ""
    log_url: str = ""
    failures: list[FailureContext] = field(default_factory=list)
    infra: str | None = None  # non-test failure: compile, configure, exception, disconnected...
    excerpt: str = ""  # build-level excerpt, for infrastructure failures
    suspects: list[SuspectChange] = field(default_factory=list)
    first_failing: BuildLink | None = None
    last_good: BuildLink | None = None
    seed: str = ""  # regrtest's "Using random seed", to reproduce the order
    test_command: str = ""  # the builder's regrtest command line, when the log shows it
    notes: list[str] = field(default_factory=list)  # e.g. "tracker not checked: <reason>"

    @property
    def green(self) -> bool:
        return self.result in ("success", "warnings", "skipped") and not self.failures and (
            self.infra is None
        )


@dataclass(frozen=True)
class TrackerLinks:
    """Human URLs of the issue tracker (GitHub's search and prefilled "new issue" form)."""

    repo: str = DEFAULT_REPO
    web_url: str = "https://github.com"
    labels: tuple[str, ...] = DEFAULT_LABELS

    def _github(self) -> GitHubTracker:
        return GitHubTracker(self.repo, web_url=self.web_url, token=None)

    @property
    def issues_url(self) -> str:
        return f"{self.web_url.rstrip('/')}/{self.repo}/issues"

    def search_url(self, term: str) -> str:
        return self._github().search_url(term)

    def new_issue_url(self, title: str, body: str, labels: Sequence[str] = ()) -> str:
        return self._github().new_issue_url(title, body, labels)

    def fits(self, title: str, body: str, labels: Sequence[str] = ()) -> bool:
        """Would the prefilled URL stay under GitHub's limit without cutting the body?"""
        query = {"title": title, "body": body}
        if labels:
            query["labels"] = ",".join(labels)
        url = f"{self.web_url.rstrip('/')}/{self.repo}/issues/new?" + urlencode(query)
        return len(url) <= MAX_NEW_ISSUE_URL


def matching_failure(ctx: TriageContext, f: FailureContext, test_id: str) -> Failure:
    """The Failure matching reads for one failure of the context."""
    return Failure(
        test_file=f.test_file,
        test_id=test_id or None,
        builder=ctx.builder or None,
        branch=ctx.branch or None,
        message=f.message or None,
        kind=f.kind if f.kind != "flaky" else "failed",
        passed_on_rerun=f.passed_on_rerun or f.kind == "flaky",
    )
