"""The triage filler: one failing build in, one filled checklist out.

Pure functions over plain dataclasses; the CLI (``bbwatch triage``) and the site's per-failure
pages both call :func:`fill`, so the two never disagree. Values go into the checklist bodies
(MyST, see ``bbwatch.checklist``) escaped for the place they land in: :func:`fill_markdown`
for markdown, :func:`fill_text` for plain text; the HTML pages substitute into the parsed
docutils tree instead (``bbwatch.sphinxext.checklists``), so no value is ever parsed as markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from bbwatch.checklist import PLACEHOLDERS, Checklist, Step, placeholders

_SLUG_JUNK = re.compile(r"[^a-z0-9]+")
_TEST_JUNK = re.compile(r"[^A-Za-z0-9_.-]+")

# GitHub answers 414 for URLs much beyond 8 kB; keep a margin for the browser's own encoding.
MAX_NEW_ISSUE_URL = 8000
COMMENT_EXCERPT_LINES = 30
DEFAULT_REPO = "python/cpython"
DEFAULT_LABELS = ("type-bug", "tests")
NO_ISSUE_YET = "<link to the issue>"
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


# -- input -------------------------------------------------------------------------------------
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
    seed: str = ""
    test_command: str = ""
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

    def _github(self) -> Any:
        from bbwatch.tracker import GitHubTracker

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
    """(class, method) of a unittest id, "" when absent."""
    try:
        from bbwatch.matching import split_test_id as matching_split
    except ImportError:  # pragma: no cover - matching ships with bbwatch
        parts = test_id.split(".")
        return (parts[-2] if len(parts) > 2 else "", parts[-1] if len(parts) > 1 else "")
    cls, method = matching_split(test_id, test_file)
    return cls or "", method or ""


def _matching_failure(ctx: TriageContext, f: FailureContext, test_id: str) -> Any:
    from bbwatch.matching import Failure

    return Failure(
        test_file=f.test_file,
        test_id=test_id or None,
        builder=ctx.builder or None,
        branch=ctx.branch or None,
        message=f.message or None,
        kind=f.kind if f.kind != "flaky" else "failed",
        passed_on_rerun=f.passed_on_rerun or f.kind == "flaky",
    )


def _fill_failure(
    ctx: TriageContext, f: FailureContext, checklist: Checklist, tracker: TrackerLinks
) -> FilledFailure:
    from bbwatch.matching import suggest_title

    test_id = f.test_ids[0] if f.test_ids else ""
    test_class, test_method = split_test_id(test_id, f.test_file) if test_id else ("", "")
    title = suggest_title(_matching_failure(ctx, f, test_id))
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
    what = f.test_ids[0] if f.test_ids else f.test_file
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
    seed = ctx.seed if ctx.seed.isdigit() else "SEED"
    target = test_file or "TESTS"
    return f"./python -m test -r --randseed={seed} -v {target}"


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


# -- escaping ----------------------------------------------------------------------------------
# Inline markup, entities, GitHub mentions (@), references (#), emoji (:x:) and math ($).
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>&!|~$@#:])")
# What starts a block when it begins a line: lists, headings' setext underline, numbers.
_MD_LINE_START = re.compile(r"(?<=\n)(\s*)([-+=]|\d+(?=[.)]))")


def md_escape(text: str, line_start: bool = True) -> str:
    """Text that markdown shows as is: markup characters backslash-escaped (CommonMark allows
    it for any ASCII punctuation), line breaks kept as hard breaks. ``line_start=False`` for
    text that follows other text on its line (no list marker to defuse at its start)."""
    escaped = _MD_SPECIAL.sub(r"\\\1", text.replace("\r\n", "\n"))
    if line_start:
        escaped = "\n" + escaped
    escaped = _MD_LINE_START.sub(lambda m: m.group(1) + _escape_start(m.group(2)), escaped)
    if line_start:
        escaped = escaped[1:]
    return escaped.replace("\n", "\\\n")


def _escape_start(token: str) -> str:
    return token + "\\" if token.isdigit() else "\\" + token


def code_span(text: str) -> str:
    """A markdown code span holding ``text`` verbatim, whatever backticks it contains."""
    text = re.sub(r"\s*\n\s*", " ", text)
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    # CommonMark strips one space each side when both are present; pad to keep them.
    pad = text[:1] == "`" or text[-1:] == "`" or (text[:1] == text[-1:] == " " and text.strip())
    space = " " if pad else ""
    return f"{fence}{space}{text}{space}{fence}"


def fenced(text: str, info: str = "") -> str:
    """A fenced block holding ``text`` verbatim: the fence is longer than any inside."""
    # Only a run of the same character, indented 0-3 spaces, could close the fence.
    runs = [len(r) for r in re.findall(r"^ {0,3}(`{3,})", text, flags=re.M)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def url_target(url: str) -> str:
    """A link destination markdown cannot misread (no spaces, brackets or parentheses)."""
    if not url.startswith(("http://", "https://")):
        return "#"
    return quote(url, safe=":/?#[]@!$&'*+,;=%~-._").replace("(", "%28").replace(")", "%29")


def fill_text(template: str, values: Mapping[str, str]) -> str:
    """Placeholders replaced by their raw values (for terminals and JSON)."""
    return _substitute(template, lambda name, match, text: values.get(name, match.group(0)))


def fill_markdown(template: str, values: Mapping[str, str]) -> str:
    """Placeholders replaced by values escaped for where they stand: link targets encoded,
    code spans re-fenced, prose backslash-escaped, blocks verbatim inside longer fences."""
    out: list[str] = []
    lines = template.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        opener = re.match(r"^(\s*)(`{3,}|~{3,})(.*)$", line)
        if opener:
            indent, fence, info = opener.groups()
            j = i + 1
            while j < len(lines) and not re.match(
                rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[j]
            ):
                j += 1
            inner = "\n".join(lines[i + 1:j])
            content = _substitute(
                inner,
                lambda name, match, text, ind=indent: _block_value(values, name, match, ind),
            )
            char = re.escape(fence[0])
            runs = [len(r) for r in re.findall(rf"^ {{0,3}}({char}{{3,}})", content, flags=re.M)]
            new_fence = fence[0] * max(len(fence), max(runs, default=0) + 1)
            out.append(f"{indent}{new_fence}{info}")
            out.extend(content.split("\n") if inner or content else [])
            if j < len(lines):
                out.append(f"{indent}{new_fence}")
            i = j + 1
            continue
        out.append(_substitute(line, lambda name, match, text: _inline_value(values, name, match,
                                                                             text)))
        i += 1
    return "\n".join(out)


def _block_value(values: Mapping[str, str], name: str, match: re.Match[str], indent: str) -> str:
    value = values.get(name, match.group(0))
    return value.replace("\n", "\n" + indent) if indent else value


def _inline_value(values: Mapping[str, str], name: str, match: re.Match[str], text: str) -> str:
    value = values.get(name)
    if value is None:
        return match.group(0)
    if PLACEHOLDERS.get(name) == "url":
        return url_target(value)
    start, end = match.start(), match.end()
    if text[start - 1:start] == "`" and text[end:end + 1] == "`":
        return "\0CODE\0" + value  # re-fenced by _substitute once the span is known
    line_start = not text[text.rfind("\n", 0, start) + 1:start].strip()
    return md_escape(value, line_start)


def _substitute(template: str, replace: Any) -> str:
    pieces: list[str] = []
    last = 0
    for match in placeholders(template):
        name = match.group(1)
        if name not in PLACEHOLDERS:
            continue
        value = replace(name, match, template)
        start, end = match.start(), match.end()
        if value.startswith("\0CODE\0"):
            # `{name}` -> a code span fenced for the value; drop the template's backticks.
            pieces.append(template[last:start - 1])
            pieces.append(code_span(value[len("\0CODE\0"):]))
            last = end + 1
            continue
        pieces.append(template[last:start])
        pieces.append(value)
        last = end
    pieces.append(template[last:])
    return "".join(pieces)


# -- renderings --------------------------------------------------------------------------------
def to_json(triage: Triage) -> dict[str, Any]:
    ctx = triage.context
    return {
        "build_url": ctx.build_url,
        "builder": ctx.builder,
        "build_number": ctx.build_number,
        "branch": ctx.branch or None,
        "revision": ctx.revision or None,
        "result": ctx.result,
        "green": triage.green,
        "checklist": triage.checklist.id if triage.checklist else None,
        "infra": ctx.infra,
        "failures": [_failure_json(f) for f in triage.failures],
        "reply_text": triage.reply_text,
        "suspects": [_suspect_json(s) for s in ctx.suspects],
        "first_failing": _link_json(ctx.first_failing),
        "last_good": _link_json(ctx.last_good),
        "steps": [_step_json(s) for s in triage.steps],
        "analysis_steps": [_step_json(s) for s in triage.analysis],
        "notes": list(ctx.notes),
    }


def _failure_json(f: FilledFailure) -> dict[str, Any]:
    return {
        "test_file": f.failure.test_file,
        "test_id": f.test_id or None,
        "test_ids": list(f.failure.test_ids),
        "kind": f.failure.kind,
        "suggested_title": f.suggested_title,
        "search_urls": f.search_urls,
        "searches": [
            {"step": s.step, "term": s.term, "url": s.url,
             "matches": [_candidate_json(c) for c in s.matches]}
            for s in f.searches
        ],
        "new_issue_url": f.new_issue_url,
        "issue_body": f.issue_body,
        "candidates": [_candidate_json(c) for c in f.failure.candidates],
        "comment_text": f.comment_text,
        "reply_text": f.reply_text,
        "excerpt": f.failure.excerpt,
        "steps": [_step_json(s) for s in f.steps],
    }


def _candidate_json(c: Candidate) -> dict[str, Any]:
    return {"number": c.number, "title": c.title, "url": c.url, "state": c.state,
            "reason": c.reason, "confidence": round(c.confidence, 3), "source": c.source}


def _suspect_json(s: SuspectChange) -> dict[str, Any]:
    return {"revision": s.revision or None, "title": s.title, "author": s.author,
            "url": s.url or None, "reason": s.reason, "score": s.score}


def _link_json(link: BuildLink | None) -> dict[str, Any] | None:
    return {"number": link.number, "url": link.url} if link else None


def _step_json(s: FilledStep) -> dict[str, Any]:
    return {"id": s.id, "title": s.title, "text": s.text, "done": False}


def green_message(ctx: TriageContext) -> str:
    return f"{ctx.builder} build {ctx.build_number} is green ({ctx.result}): nothing to triage."


def to_markdown(triage: Triage) -> str:
    """The filled checklist as GitHub-flavoured markdown task lists, to paste."""
    ctx = triage.context
    if triage.green:
        return md_escape(green_message(ctx)) + "\n"
    out = [f"# Triage: {md_escape(ctx.builder, False)} build {ctx.build_number}", ""]
    out.append(f"[Build {ctx.build_number}]({url_target(ctx.build_url)}) · branch "
               f"{md_escape(ctx.branch or 'unknown', False)} · revision "
               f"{code_span(ctx.revision or 'unknown')} · result {ctx.result.upper()}")
    out.append("")
    sections: list[tuple[str, list[FilledStep], FilledFailure | None]]
    if triage.failures:
        sections = [(f"{code_span(f.test_id or f.failure.test_file)}", f.steps, f)
                    for f in triage.failures]
    else:
        sections = [(md_escape(ctx.infra or "infrastructure"), triage.steps, None)]
    for heading, steps, failure in sections:
        out += [f"## {heading}", ""]
        for n, step in enumerate(steps, 1):
            out.append(f"- [ ] **{n}. {md_escape(step.title)}**")
            out.append("")
            out.extend(_indent(step.markdown, "  "))
            extra = _attachment_markdown(step, failure, ctx)
            if extra:
                out += [""] + _indent(extra, "  ")
            out.append("")
    if triage.analysis:
        out += ["## Analysis (later)", ""]
        for n, step in enumerate(triage.analysis, 1):
            out.append(f"- [ ] **{n}. {md_escape(step.title)}**")
            out += [""] + _indent(step.markdown, "  ")
            extra = _attachment_markdown(step, triage.failures[0] if triage.failures else None,
                                         ctx)
            if extra:
                out += [""] + _indent(extra, "  ")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _indent(text: str, prefix: str) -> list[str]:
    return [prefix + line if line else "" for line in text.split("\n")]


def _attachment_markdown(step: FilledStep, failure: FilledFailure | None,
                         ctx: TriageContext) -> str:
    lines: list[str] = []
    for kind in step.attach:
        if kind.startswith("search-") and failure is not None:
            search = next((s for s in failure.searches if s.step == kind), None)
            if search is None:
                continue
            if search.matches:
                lines.append("Already found:")
                lines += [f"- {_candidate_md(c)}" for c in search.matches]
            else:
                lines.append("Already found: nothing.")
        elif kind == "candidates" and failure is not None:
            if failure.failure.candidates:
                lines.append("Candidates, best first:")
                lines += [f"- {_candidate_md(c)}" for c in failure.failure.candidates]
            else:
                lines.append("No candidate issue: file a new one.")
        elif kind == "suspects":
            if ctx.suspects:
                lines.append("Suspect changes, most likely first:")
                lines += [f"{n}. {_suspect_md(s)}" for n, s in enumerate(ctx.suspects, 1)]
            else:
                lines.append("No suspect change known.")
    return "\n".join(lines)


def _candidate_md(c: Candidate) -> str:
    label = f"#{c.number} " if c.number else ""
    link = f"[{md_escape(label + c.title)}]({url_target(c.url)})" if c.url else md_escape(c.title)
    tail = f" ({c.state}" + (f"; {md_escape(c.reason)}" if c.reason else "") + ")"
    return link + tail


def _suspect_md(s: SuspectChange) -> str:
    rev = code_span(s.revision[:12]) + " " if s.revision else ""
    title = f"[{md_escape(s.title)}]({url_target(s.url)})" if s.url else md_escape(s.title)
    who = f" by {md_escape(s.author)}" if s.author else ""
    why = f" — {md_escape(s.reason)}" if s.reason else ""
    return f"{rev}{title}{who}{why}"


def to_text(triage: Triage) -> str:
    """The filled checklist for a terminal: numbered boxes, values as they are."""
    ctx = triage.context
    if triage.green:
        return green_message(ctx) + "\n"
    out = [f"Triage: {ctx.builder} build {ctx.build_number} ({ctx.result.upper()})",
           f"  {ctx.build_url}", f"  branch {ctx.branch or 'unknown'}, revision "
           f"{ctx.revision or 'unknown'}", ""]
    if triage.failures:
        sections = [(f.test_id or f.failure.test_file, f.steps, f) for f in triage.failures]
    else:
        sections = [(f"infrastructure: {ctx.infra}", triage.steps, None)]
    for heading, steps, failure in sections:
        out += [f"== {heading}", ""]
        for n, step in enumerate(steps, 1):
            out.append(f"[ ] {n}. {step.title}")
            out += _indent(_links_to_text(step.text), "      ")
            extra = _attachment_markdown(step, failure, ctx)
            if extra:
                out += _indent(_links_to_text(_unescape_md(extra)), "      ")
            out.append("")
    if ctx.suspects or ctx.first_failing:
        out.append("== Analysis (later)")
        if ctx.first_failing:
            out.append(f"  first failing build: #{ctx.first_failing.number} "
                       f"{ctx.first_failing.url}")
        if ctx.last_good:
            out.append(f"  last good build: #{ctx.last_good.number} {ctx.last_good.url}")
        for n, s in enumerate(ctx.suspects, 1):
            out.append(f"  {n}. {s.revision[:12]} {s.title} ({s.reason})".rstrip())
    for note in ctx.notes:
        out.append(f"note: {note}")
    return "\n".join(out).rstrip() + "\n"


_MD_LINK = re.compile(r"\[([^\]\n]*)\]\(<?([^)\s>]*)>?\)")


def _links_to_text(text: str) -> str:
    return _MD_LINK.sub(lambda m: f"{m.group(1)} <{m.group(2)}>", text).replace("**", "")


def _unescape_md(text: str) -> str:
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)



# -- from the fleet analysis (bbwatch.analysis) ------------------------------------------------
_ERROR_LINE = re.compile(
    r"^\s*((?:[\w.]+(?:Error|Exception|Failure|Warning|Exit|Interrupt)\b.*)"
    r"|Fatal Python error:.*|Timeout \(.*|.*\btimed out\b.*|.*No space left on device.*)$"
)
_ISSUE_NUMBER = re.compile(r"/(?:issues|pull)/(\d+)(?:[/#?].*)?$")


def error_line(excerpt: str) -> str:
    """The most telling line of a log excerpt: the last exception line, else the last line."""
    lines = [ln for ln in (excerpt or "").splitlines() if ln.strip() and ln.strip() != "[...]"]
    for line in reversed(lines):
        if _ERROR_LINE.match(line):
            return line.strip()
    return lines[-1].strip() if lines else ""


def _candidates(problem: Any) -> tuple[Candidate, ...]:
    out = []
    for link in getattr(problem, "issues", ()) or ():
        url = link.url or ""
        found = _ISSUE_NUMBER.search(url)
        state = "closed" if "closed" in (link.reason or "") else "open"
        number = int(found.group(1)) if found else None
        title = re.sub(rf"^#{number}:\s*", "", link.title) if number else link.title
        # The analysis links issues only for failures it calls known: confident by definition.
        out.append(Candidate(title, url, number, state, link.reason or "", KNOWN_CONFIDENCE,
                             link.source))
    return tuple(out)


def add_candidates(ctx: TriageContext, tracker: Any, registry: Any = None) -> None:
    """Fill each failure's candidates with every match the matcher finds, weak ones included
    (the analysis keeps only confident ones for the known-failures page; a watcher deciding
    between "comment" and "file" wants to see the rest). ``tracker`` is the network edge."""
    from bbwatch.matching import rank
    from bbwatch.tracker import search_candidates

    for f in ctx.failures:
        failure = _matching_failure(ctx, f, f.test_ids[0] if f.test_ids else "")
        issues, note = search_candidates(tracker, failure) if tracker is not None else ([], None)
        if note and note not in ctx.notes:
            ctx.notes.append(note)
        known = {c.number for c in f.candidates if c.number}
        extra = [
            Candidate(m.issue.title, m.issue.url, m.issue.number, m.issue.state, m.reason,
                      m.confidence, m.source)
            for m in rank(failure, issues, registry)
            if m.issue.number not in known
        ]
        f.candidates = (*f.candidates, *extra)


def _suspects(problem: Any) -> list[SuspectChange]:
    return [
        SuspectChange(s.change.title, s.change.revision or "", s.change.author,
                      s.change.revlink or "", s.reason, s.score)
        for s in getattr(problem, "suspects", ()) or ()
    ]


def _links(occ: Any, base_url: str) -> tuple[BuildLink | None, BuildLink | None]:
    from bbwatch.analysis import build_url

    bid = occ.builder.builderid
    first = occ.first_failing
    first_link = BuildLink(first.number, build_url(base_url, bid, first.number))
    good = occ.streak.last_good if occ.streak else None
    good_link = BuildLink(good.number, build_url(base_url, bid, good.number)) if good else None
    return first_link, good_link


def _log_url(base_url: str, occ: Any, step: str = "test") -> str:
    try:
        from bbwatch.buildbot import log_url
    except ImportError:  # pragma: no cover
        return occ.build_url
    names = [s.name for s in occ.latest.steps]
    if step not in names:
        failed = [s for s in occ.latest.steps if s.result is not None and s.result.is_bad]
        if not failed:
            return occ.build_url
        step = failed[0].name
    return log_url(base_url, occ.builder.builderid, occ.latest.number, step)


def _base_context(occ: Any, base_url: str) -> TriageContext:
    first, good = _links(occ, base_url)
    result = occ.latest.result.word if occ.latest.result is not None else "unknown"
    worker = occ.worker
    return TriageContext(
        build_url=occ.build_url,
        builder=occ.builder.name,
        build_number=occ.latest.number,
        result=result,
        branch=occ.branch or "",
        revision=occ.latest.revision or "",
        worker=worker.name if worker else "",
        owner=(worker.admin or "") if worker else "",
        builder_url=occ.builder_url,
        log_url=_log_url(base_url, occ),
        first_failing=first,
        last_good=good,
    )


_OUTCOMES: dict[int, dict[str, tuple[str, str]]] = {}
_IDS: dict[int, dict[str, tuple[str, ...]]] = {}


def _outcomes(analysis: Any, buildid: int) -> dict[str, tuple[str, str]]:
    """test file -> (kind, first error message) from the build's test log, parsed once."""
    log = analysis.fleet.test_logs.get(buildid)
    if not log:
        return {}
    key = hash((buildid, len(log), log[-200:]))
    if key not in _OUTCOMES:
        from bbwatch import regrtest
        from bbwatch.matching import failures_from_run

        found: dict[str, tuple[str, str]] = {}
        ids: dict[str, tuple[str, ...]] = {}
        for f in failures_from_run(regrtest.parse_text(log)):
            if f.test_id and f.test_id not in ids.get(f.test_file, ()):
                ids[f.test_file] = (*ids.get(f.test_file, ()), f.test_id)
            kind = "flaky" if f.passed_on_rerun else f.kind
            prev = found.get(f.test_file)
            # The strongest outcome wins: a crash or timeout says more than one failed case.
            if prev is None or (prev[0] in ("failed", "flaky") and kind not in ("failed",
                                                                                 "flaky")):
                found[f.test_file] = (kind, f.message or (prev[1] if prev else ""))
        if len(_OUTCOMES) > 256:
            _OUTCOMES.clear()
            _IDS.clear()
        _OUTCOMES[key] = found
        _IDS[key] = ids
    return _OUTCOMES[key]


def _run_ids(analysis: Any, buildid: int, test_file: str) -> tuple[str, ...]:
    _outcomes(analysis, buildid)
    log = analysis.fleet.test_logs.get(buildid) or ""
    return _IDS.get(hash((buildid, len(log), log[-200:])), {}).get(test_file, ())


def _failure(problem: Any, occ: Any, analysis: Any) -> FailureContext:
    tests = analysis.tests.get(occ.latest.buildid)
    status = tests.status(problem.test_file) if tests is not None else None
    kind, message = _outcomes(analysis, occ.latest.buildid).get(problem.test_file, ("", ""))
    if status == "flaky":
        kind = "flaky"
    return FailureContext(
        test_file=problem.test_file,
        test_ids=tuple(occ.test_ids),
        kind=kind or "failed",
        message=message or error_line(occ.excerpt),
        excerpt=occ.excerpt,
        candidates=_candidates(problem),
        passed_on_rerun=kind == "flaky",
    )


_SEED = re.compile(r"Using random seed:? (\d+)")


def _seed(analysis: Any, buildid: int) -> str:
    found = _SEED.search(analysis.fleet.test_logs.get(buildid) or "")
    return found.group(1) if found else ""


def context_from_occurrence(problem: Any, occ: Any, analysis: Any) -> TriageContext:
    """One known-failures row (a problem on one builder) as a triage context."""
    ctx = _base_context(occ, analysis.fleet.base_url)
    ctx.seed = _seed(analysis, occ.latest.buildid)
    ctx.suspects = _suspects(problem)
    ctx.notes = list(getattr(analysis, "notes", ()) or ())
    if problem.group == "infra":
        ctx.infra = problem.kind
        ctx.excerpt = occ.excerpt
    elif problem.test_file:
        ctx.failures = [_failure(problem, occ, analysis)]
    return ctx


def contexts_from_analysis(analysis: Any) -> list[tuple[str, TriageContext]]:
    """(docname, context) for every known-failures row: the site's per-failure pages."""
    out: list[tuple[str, TriageContext]] = []
    seen: set[str] = set()
    for problem in analysis.problems:
        for p in [problem, *getattr(problem, "children", ())]:
            if p.group == "mass":
                continue
            for occ in p.occurrences:
                if occ.triage_docname in seen:
                    continue
                seen.add(occ.triage_docname)
                out.append((occ.triage_docname, context_from_occurrence(p, occ, analysis)))
    return out


def context_for_build(analysis: Any, builderid: int, number: int) -> TriageContext | None:
    """Every problem of one build merged into one context (the CLI's view of a build), or None
    when the analysis does not hold that build."""
    builds = analysis.fleet.builds.get(builderid, [])
    build = next((b for b in builds if b.number == number), None)
    if build is None:
        return None
    occurrences = [
        (p, occ)
        for problem in analysis.problems
        for p in [problem, *getattr(problem, "children", ())]
        if p.group != "mass"
        for occ in p.occurrences
        if occ.builder.builderid == builderid and occ.latest.number == number
    ]
    tests = [(p, o) for p, o in occurrences if p.group == "test" and p.test_file]
    infra = [(p, o) for p, o in occurrences if p.group == "infra"]
    if occurrences:
        ctx = _base_context(occurrences[0][1], analysis.fleet.base_url)
    else:
        ctx = _bare_context(analysis, builderid, build)
    ctx.notes = list(getattr(analysis, "notes", ()) or ())
    ctx.seed = _seed(analysis, build.buildid)
    suspects: dict[str, SuspectChange] = {}
    for p, occ in tests:
        ctx.failures.append(_failure(p, occ, analysis))
        for s in _suspects(p):
            suspects.setdefault(s.revision or s.title, s)
    if infra and not tests:
        p, occ = infra[0]
        ctx.infra = p.kind
        ctx.excerpt = occ.excerpt
    _add_flaky(ctx, analysis, build)
    ctx.suspects = sorted(suspects.values(), key=lambda s: -s.score)
    return ctx


def _bare_context(analysis: Any, builderid: int, build: Any) -> TriageContext:
    from bbwatch.analysis import branch_of, build_url, builder_url

    fleet = analysis.fleet
    builder = fleet.builder(builderid)
    worker = fleet.worker_for(builderid)
    name = builder.name if builder else str(builderid)
    return TriageContext(
        build_url=build_url(fleet.base_url, builderid, build.number),
        builder=name,
        build_number=build.number,
        result=build.result.word if build.result is not None else "running",
        branch=branch_of(builder) if builder else "",
        revision=build.revision or "",
        worker=worker.name if worker else "",
        owner=(worker.admin or "") if worker else "",
        builder_url=builder_url(fleet.base_url, builderid),
    )


def _add_flaky(ctx: TriageContext, analysis: Any, build: Any) -> None:
    """Tests that failed then passed on re-run make a build orange, not red: triage them too."""
    tests = analysis.tests.get(build.buildid)
    if tests is None:
        return
    have = {f.test_file for f in ctx.failures}
    log = analysis.fleet.test_logs.get(build.buildid, "")
    outcomes = _outcomes(analysis, build.buildid)
    for test_file in sorted(tests.flaky - have):
        excerpt = _excerpt_of(log, test_file)
        ctx.failures.append(FailureContext(
            test_file=test_file,
            test_ids=tuple(tests.test_ids.get(test_file, ()))
            or _run_ids(analysis, build.buildid, test_file),
            kind="flaky",
            message=outcomes.get(test_file, ("", ""))[1] or error_line(excerpt),
            excerpt=excerpt,
            passed_on_rerun=True,
        ))


def _excerpt_of(log: str, test_file: str) -> str:
    if not log:
        return ""
    from bbwatch.analysis import parse_log

    parsed = parse_log(log, True)
    return parsed.excerpts.get(test_file) or parsed.tail
