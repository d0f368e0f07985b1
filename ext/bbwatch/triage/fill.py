"""The triage filler: one failing build in, one filled checklist out.

Pure functions over plain dataclasses; the CLI (``bbwatch triage``) and the site's per-failure
pages both call :func:`fill`, so the two never disagree. Values go into the checklist bodies
(MyST, see ``bbwatch.triage.checklist``) escaped for the place they land in
(``bbwatch.triage.mdescape``);
the HTML pages substitute into the parsed docutils tree instead
(``bbwatch.sphinxext.checklists``), so no value is ever parsed as markup. Renderings live in
``bbwatch.triage.render``, its input types in ``bbwatch.triage.context``, contexts from the
fleet analysis in ``bbwatch.triage.analysis_context``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bbwatch.domain import split_test_id as split_ids
from bbwatch.triage.checklist import PLACEHOLDERS, Checklist, Step
from bbwatch.triage.context import (
    KNOWN_CONFIDENCE,
    BuildLink,
    Candidate,
    FailureContext,
    TrackerLinks,
    TriageContext,
    matching_failure,
)
from bbwatch.triage.matching import suggest_title
from bbwatch.triage.mdescape import code_span, fenced, fill_markdown, fill_text, md_escape
from bbwatch.triage.reproduce import reproduce

COMMENT_EXCERPT_LINES = 30
NO_ISSUE_YET = "<link to the issue>"


# -- output ------------------------------------------------------------------------------------
@dataclass
class Search:
    step: str  # the checklist step it belongs to: search-method, search-file, search-text
    term: str
    url: str
    matches: list[Candidate] = field(default_factory=list)


@dataclass
class FilledStep:
    id: str
    title: str
    text: str  # plain text, values inserted as they are
    markdown: str  # markdown, values escaped for their context
    step: Step  # the template, for renderers that substitute into parsed trees
    attach: tuple[str, ...] = ()


@dataclass
class FilledFailure:
    failure: FailureContext
    test_id: str
    test_class: str
    test_method: str
    suggested_title: str
    searches: list[Search]
    new_issue_url: str
    issue_body: str
    comment_text: str
    reply_text: str
    values: dict[str, str]
    steps: list[FilledStep]

    @property
    def search_urls(self) -> list[str]:
        return [s.url for s in self.searches]

    @property
    def heading(self) -> str:
        """The section's name: the test id, or the file when several of its methods fail."""
        ids = self.failure.test_ids
        if len(ids) > 1:
            return f"{self.failure.test_file} ({len(ids)} tests)"
        return self.test_id or self.failure.test_file


@dataclass
class Triage:
    context: TriageContext
    checklist: Checklist | None  # None for a green build
    failures: list[FilledFailure]
    values: dict[str, str]  # of the first failure (or the build, for infrastructure)
    steps: list[FilledStep]
    reply_text: str
    analysis: list[FilledStep] = field(default_factory=list)

    @property
    def green(self) -> bool:
        return self.context.green


# -- the filler --------------------------------------------------------------------------------
REQUIRED_CHECKLISTS = ("triage", "infrastructure")  # the filler cannot work without them


def missing_checklists(checklists: Mapping[str, Checklist]) -> list[str]:
    return [name for name in REQUIRED_CHECKLISTS if name not in checklists]


def fill(
    ctx: TriageContext,
    checklists: Mapping[str, Checklist],
    tracker: TrackerLinks | None = None,
) -> Triage:
    """The filled checklist(s) for one build: triage per failing test, or infrastructure."""
    tracker = tracker or TrackerLinks()
    if ctx.green:
        return Triage(ctx, None, [], _build_values(ctx, tracker), [], "")
    if ctx.infra is not None or not ctx.failures:
        checklist = checklists["infrastructure"]
        values = _infra_values(ctx, tracker)
        steps = fill_steps(checklist, values)
        analysis = fill_steps(checklists["analysis"], values) if "analysis" in checklists else []
        return Triage(ctx, checklist, [], values, steps, values["reply_text"], analysis)
    checklist = checklists["triage"]
    merged = merge_by_file(ctx.failures)
    if len(merged) != len(ctx.failures):
        ctx = dataclasses.replace(ctx, failures=merged)
    filled = [_fill_failure(ctx, f, checklist, tracker) for f in ctx.failures]
    first = filled[0]
    analysis = fill_steps(checklists["analysis"], first.values) if "analysis" in checklists else []
    return Triage(ctx, checklist, filled, first.values, first.steps, first.reply_text, analysis)


def fill_steps(checklist: Checklist, values: Mapping[str, str]) -> list[FilledStep]:
    return [
        FilledStep(
            step.id,
            fill_text(step.title, values),
            fill_text(step.body, values).strip(),
            fill_markdown(step.body, values).strip(),
            step,
            step.attach,
        )
        for step in checklist.steps
    ]


def split_test_id(test_id: str, test_file: str) -> tuple[str, str]:
    """(class, method) of a unittest id, "" when absent (``bbwatch.domain``'s rules)."""
    cls, method = split_ids(test_id, test_file)
    return cls or "", method or ""


# a crash or a timeout says more than one failed method
_KIND_ORDER = ("crashed", "timed_out", "leaked", "failed", "env_changed", "flaky")


def merge_by_file(failures: Sequence[FailureContext]) -> list[FailureContext]:
    """One failure per test file: a build's failing methods of one file are one problem (one
    section, one suggested issue), not one per method."""
    merged: dict[str, FailureContext] = {}
    for f in failures:
        have = merged.get(f.test_file)
        if have is None:
            merged[f.test_file] = dataclasses.replace(f)
            continue
        have.test_ids = tuple(dict.fromkeys((*have.test_ids, *f.test_ids)))
        kinds = [have.kind, f.kind]
        have.kind = min(kinds, key=lambda k: _KIND_ORDER.index(k) if k in _KIND_ORDER
                        else len(_KIND_ORDER))
        have.message = have.message or f.message
        if f.excerpt.strip() and f.excerpt.strip() not in have.excerpt:
            have.excerpt = "\n\n".join(e for e in (have.excerpt.strip("\n"),
                                                     f.excerpt.strip("\n")) if e)
        known = {(c.number, c.url) for c in have.candidates}
        have.candidates = (*have.candidates,
                           *(c for c in f.candidates if (c.number, c.url) not in known))
        have.passed_on_rerun = have.passed_on_rerun and f.passed_on_rerun
    return list(merged.values())


def _shared_class(f: FailureContext) -> str:
    """The one class all of a file's failing methods belong to, or ""."""
    classes = {split_test_id(t, f.test_file)[0] for t in f.test_ids}
    return classes.pop() if len(classes) == 1 else ""


def _fill_failure(
    ctx: TriageContext, f: FailureContext, checklist: Checklist, tracker: TrackerLinks
) -> FilledFailure:
    # The searches start from the first method (the procedure's search by method name); the
    # suggested issue covers them all: several methods of one file name their class, or the
    # file, not one of the methods.
    test_id = f.test_ids[0] if f.test_ids else ""
    test_class, test_method = split_test_id(test_id, f.test_file) if test_id else ("", "")
    title_id = test_id
    if len(f.test_ids) > 1:
        shared = _shared_class(f)
        title_id = f"{f.test_file}.{shared}" if shared else ""
    title = suggest_title(matching_failure(ctx, f, title_id))
    # The procedure's three searches: the method name (or class), the test file, full text.
    method_term = test_method or test_class or f.test_file
    text_term = _search_phrase(f.message)
    if not text_term or text_term == method_term:
        text_term = test_id or f.test_file
    searches = [
        Search("search-method", method_term, tracker.search_url(f"in:title {method_term}")),
        Search("search-file", f.test_file, tracker.search_url(f"in:title {f.test_file}")),
        Search("search-text", text_term, tracker.search_url(_quoted(text_term))),
    ]
    for candidate in f.candidates:
        _first_search_finding(candidate, searches, test_class).matches.append(candidate)
    body = issue_body(ctx, f, lambda text: tracker.fits(title, text, tracker.labels))
    new_url = tracker.new_issue_url(title, body, tracker.labels)
    comment = comment_text(ctx, f)
    # Only a confident match goes into the reply; weak ones are shown for the watcher to judge.
    confident = [c for c in f.candidates if c.url and (
        c.source == "registry" or c.confidence >= KNOWN_CONFIDENCE)]
    issue_url = confident[0].url if confident else ""
    reply = reply_text(ctx, f, issue_url)
    values = _build_values(ctx, tracker)
    values.update(
        test_file=f.test_file,
        test_class=test_class,
        test_method=test_method or test_class or f.test_file,
        test_id=test_id or f.test_file,
        test_ids=", ".join(f.test_ids) or f.test_file,
        failure_kind=_KIND_WORDS.get(f.kind, f.kind),
        failure_line=failure_line(f),
        suggested_title=title,
        excerpt=f.excerpt.strip("\n") or "(no log excerpt)",
        issue_url=issue_url or new_url,
        new_issue_url=new_url,
        search_method_url=searches[0].url,
        search_file_url=searches[1].url,
        search_text_url=searches[2].url,
        issue_body=body,
        comment_text=comment,
        reply_text=reply,
        reproduce_command=reproduce_command(ctx, f.test_file),
    )
    return FilledFailure(
        f, test_id, test_class, test_method, title, searches, new_url, body, comment, reply,
        values, fill_steps(checklist, values),
    )


def _first_search_finding(candidate: Candidate, searches: list[Search], test_class: str) -> Search:
    """The first search of the procedure that shows this candidate: where the watcher stops.

    Registry matches and titles naming the method (or class) go with the method search, titles
    naming the file with the file search, the rest (message similarity) with the full text.
    """
    if candidate.terms:
        for search in searches:
            if search.term in candidate.terms:
                return search
    title = candidate.title.lower()
    method, by_file, text = searches
    if candidate.source == "registry" or _word_in(method.term, title) or (
        bool(test_class) and _word_in(test_class, title)
    ):
        return method
    if _word_in(by_file.term, title):
        return by_file
    return text


def _search_phrase(message: str, limit: int = 80) -> str:
    """The error line as a full-text phrase: first line, no quotes, cut at a word."""
    line = _one_line(message).replace('"', " ").strip()
    if len(line) > limit:
        line = line[:limit].rsplit(" ", 1)[0]
    return line


def _word_in(needle: str, haystack: str) -> bool:
    return re.search(r"(?<![\w.])" + re.escape(needle.lower()) + r"(?!\w)", haystack) is not None


def _quoted(term: str) -> str:
    term = term.replace('"', " ").strip()
    return f'"{term}"' if " " in term else term


_KIND_WORDS = {
    "failed": "failed",
    "crashed": "crashed",
    "timed_out": "timed out",
    "env_changed": "altered the execution environment",
    "leaked": "leaked references",
    "flaky": "failed, then passed when re-run",
}


def failure_line(f: FailureContext) -> str:
    """One line saying what failed, for the reply and the comment."""
    what = f.test_ids[0] if len(f.test_ids) == 1 else f.test_file
    if len(f.test_ids) > 1:
        what += f" ({len(f.test_ids)} tests)"
    kind = "flaky" if f.passed_on_rerun else f.kind
    line = f"{what} {_KIND_WORDS.get(kind, kind)}"
    message = _one_line(f.message)
    if message:
        line += f": {message}"
    return _cap_line(line, 200)


def _one_line(text: str) -> str:
    first = next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")
    return re.sub(r"\s+", " ", first)


def _cap_line(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _build_values(ctx: TriageContext, tracker: TrackerLinks) -> dict[str, str]:
    first_failing = ctx.first_failing or BuildLink(ctx.build_number, ctx.build_url)
    values = {name: "" for name in PLACEHOLDERS}
    values.update(
        builder=ctx.builder,
        branch=ctx.branch or "unknown",
        revision=ctx.revision or "unknown",
        result=ctx.result.upper(),
        worker=ctx.worker or "unknown",
        owner=ctx.owner or "the worker owner",
        build_number=str(ctx.build_number),
        labels=", ".join(tracker.labels) or "none",
        first_failing=f"#{first_failing.number}",
        last_good=f"#{ctx.last_good.number}" if ctx.last_good else "not in the fetched history",
        seed=ctx.seed or "unknown",
        repo=tracker.repo,
        build_url=ctx.build_url,
        builder_url=ctx.builder_url or ctx.build_url,
        log_url=ctx.log_url or ctx.build_url,
        changes_url=first_failing.url,
        first_failing_url=first_failing.url,
        last_good_url=ctx.last_good.url if ctx.last_good else (ctx.builder_url or ctx.build_url),
        tracker_url=tracker.issues_url,
        test_file=ctx.infra or "",
        test_id=ctx.infra or "",
        test_ids=ctx.infra or "",
        excerpt=(ctx.excerpt or "").strip("\n") or "(no log excerpt)",
        reproduce_command=reproduce_command(ctx, ""),
    )
    for name in ("issue_url", "new_issue_url", "search_method_url", "search_file_url",
                 "search_text_url"):
        values[name] = tracker.issues_url
    return values


def _infra_values(ctx: TriageContext, tracker: TrackerLinks) -> dict[str, str]:
    values = _build_values(ctx, tracker)
    what = ctx.infra or "build"
    title = f"{what} failure on {ctx.builder}"
    body = "\n".join([
        f"Build: {ctx.build_url}",
        f"Builder: {md_escape(ctx.builder, False)}",
        f"Branch: {md_escape(ctx.branch or 'unknown', False)}",
        f"Revision: {code_span(ctx.revision or 'unknown')}",
        f"Worker: {md_escape(ctx.worker or 'unknown', False)}",
        "",
        fenced(ctx.excerpt or "(no log excerpt)", "text"),
    ])
    new_url = tracker.new_issue_url(title, body, ())
    line = _cap_line(f"{ctx.builder} build {ctx.build_number}: {what} ({ctx.result})", 200)
    values.update(
        suggested_title=title,
        failure_kind=what,
        failure_line=line,
        issue_body=body,
        new_issue_url=new_url,
        issue_url=new_url,
        comment_text=f"New failure on {md_escape(ctx.builder, False)}: {ctx.build_url}",
        reply_text=f"{line}\n{ctx.build_url}",
    )
    return values


def reproduce_command(ctx: TriageContext, test_file: str) -> str:
    """The command (``bbwatch.triage.reproduce``) and its notes, as one shell block."""
    f = next((f for f in ctx.failures if f.test_file == test_file), None)
    found = reproduce(ctx.builder, test_file, test_ids=f.test_ids if f else (), seed=ctx.seed,
                      kind=f.kind if f else "failed", command=ctx.test_command)
    return "\n".join([found.command, *(f"# {note}" for note in found.notes)])


def issue_body(
    ctx: TriageContext, f: FailureContext, fits: Callable[[str], bool] | None = None
) -> str:
    """The new issue's description (markdown): build link, builder, branch, revision, tests,
    the log excerpt fenced. When ``fits(body)`` says the prefilled URL would be too long, the
    excerpt's oldest lines go first (the error is at the end), then the last line is cut."""
    ids = f.test_ids or (f.test_file,)
    head = [
        f"Build: {ctx.build_url}",
        f"Builder: {md_escape(ctx.builder, False)}",
        f"Branch: {md_escape(ctx.branch or 'unknown', False)}",
        f"Revision: {code_span(ctx.revision or 'unknown')}",
        "",
        "Failing tests:",
        *(f"- {code_span(test_id)}" for test_id in ids[:20]),
    ]
    if len(ids) > 20:
        head.append(f"- … and {len(ids) - 20} more (see the full log)")
    tail = f"\nFull log: {ctx.log_url or ctx.build_url}"
    lines = (f.excerpt or "(no log excerpt)").strip("\n").splitlines() or ["(no log excerpt)"]

    def body(keep: int, last_chars: int | None = None) -> str:
        kept = lines[len(lines) - keep:] if keep else []
        if last_chars is not None:
            kept = [kept[-1][-last_chars:]] if kept else []
        cut = len(lines) - len(kept)
        if cut or last_chars is not None:
            kept = [f"[… {cut} earlier lines: see the full log]", *kept]
        return "\n".join([*head, "", fenced("\n".join(kept), "text"), tail])

    if fits is None or fits(body(len(lines))):
        return body(len(lines))
    lo, hi = 0, len(lines)  # the most tail lines that fit, by bisection
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(body(mid)):
            lo = mid
        else:
            hi = mid - 1
    if lo:
        return body(lo)
    lo, hi = 0, len(lines[-1])  # not even the last line: keep its end
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(body(1, mid)):
            lo = mid
        else:
            hi = mid - 1
    return body(1, lo)


def comment_text(ctx: TriageContext, f: FailureContext) -> str:
    """The comment for an existing issue: "New failure on <builder>: <build link>" + excerpt."""
    lines = (f.excerpt or "").strip("\n").splitlines()
    if len(lines) > COMMENT_EXCERPT_LINES:
        lines = [f"[… {len(lines) - COMMENT_EXCERPT_LINES} earlier lines]",
                 *lines[-COMMENT_EXCERPT_LINES:]]
    text = f"New failure on {md_escape(ctx.builder, False)}: {ctx.build_url}"
    if lines:
        text += "\n\n" + fenced("\n".join(lines), "text")
    return text


def reply_text(ctx: TriageContext, f: FailureContext, issue_url: str) -> str:
    """The reply to the failure notification: the issue link and one line of the failure."""
    return f"{issue_url or NO_ISSUE_YET}\n{failure_line(f)} on {_one_line(ctx.builder)}"
