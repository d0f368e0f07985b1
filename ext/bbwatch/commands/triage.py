"""`bbwatch triage BUILD_URL`: the filled triage checklist for one build.

Fetches the build, its recent history and test logs, runs the same analysis as the site
(``bbwatch.triage.analysis``), matches known issues, and prints the checklist filled for that build:
text for a terminal, markdown to paste, html to print, json for tools.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import TextIO

from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.io import StringOutput
from docutils.utils import new_document
from docutils.writers import html5_polyglot

from bbwatch.commands import fail
from bbwatch.domain import Issue
from bbwatch.errors import BBWatchError, BuildbotError, ChecklistError, RegistryError, TrackerError
from bbwatch.models import Build, FleetData
from bbwatch.source.logtext import needs_test_log
from bbwatch.source.open import default_cache_dir, open_client
from bbwatch.source.snapshot import SnapshotSource
from bbwatch.source.sync import BuildbotClient
from bbwatch.source.urls import BuildRef, parse_build_url
from bbwatch.sphinxext import checklist_nodes
from bbwatch.sphinxext.checklists import STATIC, triage_tree
from bbwatch.triage.analysis import analyse
from bbwatch.triage.analysis_context import add_candidates, context_for_build
from bbwatch.triage.checklist import Checklist, load_checklists
from bbwatch.triage.context import TrackerLinks
from bbwatch.triage.fill import Triage, fill, missing_checklists
from bbwatch.triage.mdescape import visible
from bbwatch.triage.registry import Registry, default_registry_path, load_registry
from bbwatch.triage.render import to_json, to_markdown, to_text
from bbwatch.triage.tracker import FileTracker, GitHubTracker

FORMATS = ("text", "markdown", "json", "html")
TRACKERS = ("file", "github", "none")
DEFAULT_REPO = "python/cpython"
MAX_HISTORY_LOGS = 10  # test logs fetched from the history, besides the build's own


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "triage",
        help="print the triage checklist filled for one failing build",
        description="Fetch a build, parse its test log, match known issues and print the "
        "triage checklist filled for it. Exit 0 (also for a green build), 2 when the URL is "
        "not a build or the master cannot be reached.",
    )
    p.add_argument("build_url", metavar="BUILD_URL", help="a build's web UI or API URL")
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text (terminal), markdown (to paste), json (tools), html (to print)")
    p.add_argument("--tracker", choices=TRACKERS, default=None,
                   help="where to search issues: a JSON file (--issues), GitHub's search, or "
                   "none (default: file with --issues, else github)")
    p.add_argument("--issues", metavar="FILE.json", default=None,
                   help='issues for --tracker file: [{"number", "title", "state", "url"}]')
    p.add_argument("--repo", default=DEFAULT_REPO,
                   help=f"GitHub repository of the tracker (default {DEFAULT_REPO})")
    p.add_argument("--source", default=None,
                   help="where to fetch from: a master URL or snapshot:DIR (default: the "
                   "master of BUILD_URL)")
    p.add_argument("--registry", default=None,
                   help="known-issues registry (default: $BBWATCH_REGISTRY, else "
                   "docs/data/known-issues.toml if present)")
    p.add_argument("--history", type=int, default=20,
                   help="builds of the builder to look back through (default 20)")
    p.add_argument("--checklists", default=None, help="folder of checklist YAML files")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    p.add_argument("--cache-dir", default=None,
                   help="HTTP cache (default: $BBWATCH_CACHE_DIR, else ~/.cache/bbwatch)")
    p.add_argument("--no-cache", action="store_true", help="do not use the on-disk cache")
    p.set_defaults(func=run)


class Progress:
    """What the command is doing, on stderr: one rewritten line on a terminal, else one plain
    line per phase (so logs of scripted runs stay readable)."""

    def __init__(self, stream: TextIO | None = None, phases: int = 5) -> None:
        self.stream = stream if stream is not None else sys.stderr  # today's, not import time's
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.phases = phases
        self.n = 0

    def phase(self, text: str) -> None:
        self.n += 1
        if self.tty:
            self.stream.write(f"\r\x1b[2K[{self.n}/{self.phases}] {text}…")
        else:
            self.stream.write(f"bbwatch: {text}\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def run(args: argparse.Namespace) -> int:
    if args.history < 1:
        return fail(f"--history must be at least 1, got {args.history}")
    if args.timeout <= 0:
        return fail(f"--timeout must be positive, got {args.timeout}")
    try:
        ref = parse_build_url(args.build_url)
    except ValueError as exc:
        return fail(str(exc))
    try:
        checklists = load_checklists(args.checklists)
        missing = missing_checklists(checklists)
        if missing:
            folder = args.checklists or "checklists/"
            raise _Usage(f"{folder} has no {', '.join(f'{m}.yaml' for m in missing)}")
        tracker = _tracker(args)
        registry = _registry(args)
    except (ChecklistError, TrackerError, _Usage) as exc:
        return fail(str(exc))
    source = args.source or ref.base_url
    cache_dir = None if args.no_cache else (args.cache_dir or default_cache_dir())
    progress = Progress()
    try:
        # a snapshot source ignores the network settings (open_client)
        client = open_client(source, timeout=args.timeout, cache_dir=cache_dir)
    except (ValueError, BuildbotError, OSError) as exc:
        return fail(str(exc))
    try:
        fleet, build = _fetch(client, ref, args.history, progress)
        progress.phase("matching known issues")
        analysis = analyse(fleet, registry=registry, tracker=tracker)
        ctx = context_for_build(analysis, build.builderid, build.number)
        if ctx is None:  # pragma: no cover - the build is in the fleet we just built
            return fail("the build is missing from the fetched history")
        ctx.notes.extend(fleet.errors)
        add_candidates(ctx, tracker, registry)
        if ctx.infra is not None:
            ctx.excerpt = _failed_step_tail(client, build) or ctx.excerpt
        progress.phase("filling the checklist")
        triage = fill(ctx, checklists, _links(args))
    except BuildbotError as exc:
        progress.done()
        return fail(str(exc))
    except _Usage as exc:
        progress.done()
        return fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback, unless debugging
        progress.done()
        if os.environ.get("BBWATCH_DEBUG"):
            raise
        return fail(f"cannot triage this build ({type(exc).__name__}: {exc}); "
                    "set BBWATCH_DEBUG=1 for the traceback", 1)
    finally:
        client.close()
    progress.done()
    sys.stdout.write(render(triage, checklists, args.format))
    return 0


class _Usage(BBWatchError):
    """A clear one-line problem with the command line or its input files."""


def _tracker(args: argparse.Namespace) -> FileTracker | _Memo | None:
    kind = args.tracker or ("file" if args.issues else "github")
    if kind == "none":
        return None
    if kind == "file":
        if not args.issues:
            raise _Usage("--tracker file needs --issues FILE.json")
        return FileTracker(args.issues)
    cache_dir = None if args.no_cache else Path(args.cache_dir or default_cache_dir())
    return _Memo(GitHubTracker(args.repo, cache_dir=cache_dir, timeout=args.timeout))


class _Memo:
    """One answer per search per run: the analysis and the candidate listing ask the same
    questions, and GitHub's search API allows few requests a minute."""

    def __init__(self, tracker: GitHubTracker) -> None:
        self.tracker = tracker
        self.answers: dict[tuple[str, bool], list[Issue]] = {}

    def search(self, term: str, *, in_title: bool = True) -> list[Issue]:
        key = (term, in_title)
        if key not in self.answers:
            self.answers[key] = self.tracker.search(term, in_title=in_title)
        return list(self.answers[key])


def _registry(args: argparse.Namespace) -> Registry | None:
    path = Path(args.registry) if args.registry else default_registry_path()
    if path is None:
        return None
    try:
        return load_registry(path)
    except RegistryError as exc:
        raise _Usage(str(exc)) from None
    except OSError as exc:
        raise _Usage(f"cannot read registry {path}: {exc.strerror or exc}") from None


def _links(args: argparse.Namespace) -> TrackerLinks:
    return TrackerLinks(repo=args.repo)


def _fetch(client: BuildbotClient | SnapshotSource, ref: BuildRef, history: int,
           progress: Progress) -> tuple[FleetData, Build]:
    """A one-builder FleetData ending at the requested build: the analysis sees the fleet as
    it was when that build finished."""

    progress.phase("fetching the build")
    builder, build = client.resolve(ref)
    if not build.complete:
        raise _Usage(f"{builder.name} build {build.number} is still running: triage it when "
                     "it has finished")
    progress.phase(f"fetching the last {history} builds of {builder.name}")
    errors: list[str] = []
    try:
        recent = [b for b in client.builds(builder.builderid, history) if b.number < build.number]
    except BuildbotError as exc:
        recent, errors = [], [f"history not fetched: {exc}"]
    builds = [build, *sorted(recent, key=lambda b: -b.number)]
    try:
        workers = client.workers()
    except BuildbotError as exc:
        workers = []
        errors.append(f"workers not fetched: {exc}")
    progress.phase("fetching test logs")
    logs: dict[int, str] = {}
    wanted = [build, *[b for b in recent if _needs_log(b)][:MAX_HISTORY_LOGS]]
    for b in wanted:
        try:
            text = client.test_log(b)
        except BuildbotError as exc:
            errors.append(f"test log of build {b.number} not fetched: {exc}")
            continue
        if text is not None:
            logs[b.buildid] = text
    fleet = FleetData(
        base_url=getattr(client, "base_url", ref.base_url),
        fetched_at=time.time(),
        builders=[builder],
        workers=workers,
        builds={builder.builderid: builds},
        test_logs=logs,
        errors=errors,
        source="snapshot" if type(client).__name__ == "SnapshotSource" else "live",
    )
    return fleet, build


def _failed_step_tail(client: BuildbotClient | SnapshotSource, build: Build,
                      lines: int = 25) -> str:
    """The end of the first failed step's stdio (configure, compile...): the error is there.
    Empty when the master (or a snapshot, which keeps test logs only) cannot give it."""

    failed = [s for s in build.steps if s.result is not None and s.result.is_bad]
    if not failed or failed[0].name == "test":
        return ""
    log = next((lg for lg in failed[0].logs if lg.slug == "stdio"), None)
    if log is None:
        return ""
    try:
        text = client.log_text(log, 64 * 1024)
    except BuildbotError:
        return ""
    tail = text.rstrip().splitlines()[-lines:]
    return f"{failed[0].name} step, last lines of its log:\n" + "\n".join(tail) if tail else ""


def _needs_log(build: Build) -> bool:
    return bool(needs_test_log(build))


# -- output ------------------------------------------------------------------------------------
def render(triage: Triage, checklists: Mapping[str, Checklist], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(to_json(triage), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return to_markdown(triage)
    if fmt == "html":
        return standalone_html(triage, checklists)
    return to_text(triage)


def standalone_html(triage: Triage, checklists: Mapping[str, Checklist]) -> str:
    """A self-contained page to print: the same docutils tree as the site's per-failure page,
    written by docutils' HTML5 writer (every value escaped), with the print CSS inlined."""


    class Translator(html5_polyglot.HTMLTranslator):
        visit_checklist_checkbox = checklist_nodes.visit_checkbox_html
        visit_checklist_reset = checklist_nodes.visit_reset_html

    class Writer(html5_polyglot.Writer):
        def __init__(self) -> None:
            super().__init__()
            self.translator_class = Translator

    ctx = triage.context
    subject = ctx.failures[0].test_file if ctx.failures else (ctx.infra or "build")
    title = visible(f"Triage: {subject} on {ctx.builder} #{ctx.build_number}")
    settings = get_default_settings(html5_polyglot.Writer)
    settings.report_level = 5
    document = new_document("<triage>", settings)
    section = nodes.section(ids=["triage"])
    section += nodes.title(title, title)
    section += triage_tree(triage, checklists)
    section += _reproduce_section(triage)
    document += section
    writer = Writer()
    writer.write(document, StringOutput(encoding="unicode"))
    writer.assemble_parts()
    fragment = writer.parts["body"]
    css = "\n".join(_static(name) for name in ("print.css", "checklist.css"))
    script = _static("checklist.js").replace("</", "<\\/")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{escape(title)}</title>\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<style>\nbody {{ font-family: sans-serif; max-width: 52em; margin: 1em auto; "
        f"padding: 0 1em; }}\npre {{ background: #f6f6f6; padding: 0.5em; overflow-x: auto; }}\n"
        "span.docutils.literal, code { font-family: monospace; background: #f3f3f3; }\n"
        f"{css}\n</style>\n</head>\n<body>\n<main>\n{fragment}\n</main>\n"
        f"<script>\n{script}\n</script>\n</body>\n</html>\n"
    )


def _reproduce_section(triage: Triage) -> list[nodes.Node]:
    """Each failing test's reproduce command (the checklist's analysis part holds the first
    one's only): docutils text, escaped by the writer."""
    if not triage.failures:
        return []
    # screen only, like the analysis part on paper: the printed sheet is the report's
    section = nodes.section(ids=["reproduce-locally"],
                            classes=["bbwatch-reproduce", "bbwatch-screen-only"])
    section += nodes.title("Reproduce locally", "Reproduce locally")
    for f in triage.failures:
        name = visible(f.heading)
        section += nodes.paragraph("", "", nodes.literal(name, name))
        command = visible(f.values["reproduce_command"])
        section += nodes.literal_block(command, command, language="shell")
    return [section]


def _static(name: str) -> str:
    try:
        return (STATIC / name).read_text(encoding="utf-8")
    except OSError:
        return ""
