"""The reviewed registry of known issues (``docs/data/known-issues.toml``).

One ``[[issue]]`` table per tracker issue: which tests it covers (test file, test id or glob),
optionally a message regex and a builder regex, the branches, its kind (``flaky``, ``failing``,
``infra``), when it was added, the link it was reviewed from (``evidence``) and free notes.
Everything is validated on load; a mistake is a ``RegistryError`` naming the file, the entry
and its line.

The production registry is ``docs/data/known-issues.toml``; the local demo fleet's registry
lives with the demo fleet (``ext/bbwatch_fleet/demo-known-issues.toml``, outside this package)
and is chosen by configuration only:
``--registry`` or ``BBWATCH_REGISTRY`` for the CLI, ``bbwatch_registry`` or
``BBWATCH_REGISTRY`` for the site.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bbwatch.domain import Failure
from bbwatch.errors import RegistryError

KINDS = ("flaky", "failing", "infra")
REQUIRED = ("number", "title", "kind", "tests", "added")
OPTIONAL = ("url", "message", "builders", "branches", "notes", "evidence")
TOP_LEVEL = ("repo", "issue")
DEFAULT_REPO = "python/cpython"
REGISTRY_ENV = "BBWATCH_REGISTRY"  # a registry path that replaces the default, CLI and site
# A line the demo fleet's registry carries (and no production one may): it marks the file
# whatever its path, so the site can refuse it for buildbot.python.org without importing the
# demo package.
DEMO_MARKER = "# bbwatch: demo registry, never for production"


@dataclass(frozen=True)
class KnownIssue:
    number: int
    url: str
    title: str
    kind: str  # "flaky" | "failing" | "infra"
    tests: tuple[str, ...]  # test file (test_os), test id (a dotted suffix is enough) or glob
    message: str | None = None  # regex searched in the failure's error message
    builders: str | None = None  # regex searched in the builder name
    branches: tuple[str, ...] = ()  # empty: every branch
    added: dt.date | None = None
    notes: str = ""
    evidence: str | None = None  # the link (issue, build, log) the entry was reviewed from
    line: int = 0  # where the entry starts in the file, for messages

    def covers_test(self, test_file: str, test_id: str | None) -> bool:
        """True if one of ``tests`` names the file, the id (or a dotted suffix of it), or globs."""
        names = {test_file}
        patterns = set(self.tests)
        if test_id:
            parts = test_id.split(".")
            # suffixes of two components or more: "FileTests.test_foo", not a bare "test_foo",
            # which could also be the name of a test file
            names.update(".".join(parts[i:]) for i in range(len(parts) - 1))
            if not any(p[:1].isupper() for p in parts):
                # an id recovered from a traceback has no class: compare without classes
                patterns.update(".".join(p for p in pattern.split(".") if not p[:1].isupper())
                                for pattern in self.tests)
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns for name in names)

    def matches(self, failure: Failure) -> bool:
        """Does this entry cover ``failure``? An unknown builder or branch does not exclude it."""
        if not self.covers_test(failure.test_file, failure.test_id):
            return False
        if self.message and not re.search(self.message, failure.message or ""):
            return False
        if self.builders and failure.builder and not re.search(self.builders, failure.builder):
            return False
        return not (self.branches and failure.branch and failure.branch not in self.branches)


@dataclass
class Registry:
    issues: list[KnownIssue] = field(default_factory=list)
    path: str | None = None
    repo: str = DEFAULT_REPO

    def match(self, failure: Failure) -> list[KnownIssue]:
        return [known for known in self.issues if known.matches(failure)]

    def get(self, number: int) -> KnownIssue | None:
        return next((known for known in self.issues if known.number == number), None)


def default_registry_path(environ: Mapping[str, str] = os.environ) -> Path | None:
    """``$BBWATCH_REGISTRY`` if set (relative to the current directory; it need not exist, so
    a typo is reported when it is loaded), else ``docs/data/known-issues.toml`` of the current
    directory (the handbook's checkout): the production registry, never the demo fleet's.
    The registry is the site's reviewed data, not the package's: an installed ``bbwatch`` run
    elsewhere is given it by path (``--registry`` or the environment)."""
    chosen = environ.get(REGISTRY_ENV, "").strip()
    if chosen:
        return Path(chosen)
    path = Path.cwd() / "docs" / "data" / "known-issues.toml"
    return path if path.is_file() else None


def holds_marker(path: str | os.PathLike[str], marker: str) -> bool:
    """Whether the data file at ``path`` has the line ``marker`` (demo files carry one)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(line.strip() == marker for line in text.splitlines())


def is_demo_registry(path: str | os.PathLike[str]) -> bool:
    """Whether the file at ``path`` is a demo registry (it holds the ``DEMO_MARKER`` line)."""
    return holds_marker(path, DEMO_MARKER)


def read_data_file(path: Path, error: type[Exception], what: str) -> str:
    """The text of a reviewed data file (registry, acknowledgements): a one-line ``error``
    naming the file when it is missing or unreadable."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: {what} file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read the {what}: {exc}") from None


def load_registry(path: str | os.PathLike[str]) -> Registry:
    path = Path(path)
    return parse_registry(read_data_file(path, RegistryError, "registry"), str(path))


def parse_registry(text: str, source: str = "<registry>") -> Registry:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{source}: invalid TOML: {exc}") from None
    unknown = sorted(set(data) - set(TOP_LEVEL))
    if unknown:
        line = _line_of_key(text.splitlines(), unknown[0], 0, None)
        raise RegistryError(
            f"{source}:{line}: unknown top-level key {unknown[0]!r} (allowed: repo, [[issue]])"
        )
    repo = data.get("repo", DEFAULT_REPO)
    if not isinstance(repo, str) or not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise RegistryError(f"{source}: 'repo' must look like OWNER/NAME, got {repo!r}")
    entries = data.get("issue", [])
    if not isinstance(entries, list):
        raise RegistryError(f"{source}: 'issue' must be an array of tables: write [[issue]]")
    lines = text.splitlines()
    starts = _entry_lines(lines)
    issues: list[KnownIssue] = []
    seen: dict[int, int] = {}
    for index, entry in enumerate(entries):
        start = starts[index] if index < len(starts) else _line_of_number(lines, entry)
        end = starts[index + 1] if index + 1 < len(starts) else None
        known = _entry(entry, index + 1, source, lines, start, end, repo)
        if known.number in seen:
            raise RegistryError(
                f"{source}:{start}: entry {index + 1} (#{known.number}): duplicate issue number "
                f"(already in the entry at line {seen[known.number]})"
            )
        seen[known.number] = start
        issues.append(known)
    return Registry(issues, source, repo)


def _entry_lines(lines: list[str]) -> list[int]:
    """1-based line of each ``[[issue]]`` header (tomllib keeps no positions)."""
    return [i + 1 for i, line in enumerate(lines) if re.match(r"\s*\[\[\s*issue\s*\]\]", line)]


def _line_of_number(lines: list[str], entry: Any) -> int:
    number = entry.get("number") if isinstance(entry, dict) else None
    for i, line in enumerate(lines):
        if re.search(rf"\bnumber\s*=\s*{re.escape(str(number))}\b", line):
            return i + 1
    return 0


def _line_of_key(lines: list[str], key: str, start: int, end: int | None) -> int:
    first = max(start - 1, 0)
    for i, line in enumerate(lines[first:end], first):
        if re.match(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=", line):
            return i + 1
    return start


def _entry(entry: Any, index: int, source: str, lines: list[str], start: int,
           end: int | None, repo: str) -> KnownIssue:
    number = entry.get("number") if isinstance(entry, dict) else None
    label = f"entry {index}" + (f" (#{number})" if isinstance(number, int) else "")

    def fail(message: str, key: str | None = None) -> RegistryError:
        line = _line_of_key(lines, key, start, end) if key else start
        return RegistryError(f"{source}:{line}: {label}: {message}")

    if not isinstance(entry, dict):
        raise fail("must be a table")
    unknown = sorted(set(entry) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        allowed = ", ".join(REQUIRED + OPTIONAL)
        raise fail(f"unknown key {unknown[0]!r} (allowed: {allowed})", unknown[0])
    missing = [key for key in REQUIRED if key not in entry]
    if missing:
        raise fail(f"missing required key {missing[0]!r}")
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        raise fail(f"'number' must be a positive integer, got {number!r}", "number")
    title = entry["title"]
    if not isinstance(title, str) or not title.strip():
        raise fail("'title' must be a non-empty string", "title")
    kind = entry["kind"]
    if kind not in KINDS:
        raise fail(f"'kind' must be one of {', '.join(KINDS)}, got {kind!r}", "kind")
    tests = entry["tests"]
    if isinstance(tests, str):
        tests = [tests]
    if (not isinstance(tests, list) or not tests
            or not all(isinstance(t, str) and t.strip() for t in tests)):
        raise fail("'tests' must be a non-empty list of test files, test ids or globs", "tests")
    added = entry["added"]
    if isinstance(added, str):
        try:
            added = dt.date.fromisoformat(added)
        except ValueError:
            raise fail(f"'added' must be a date (YYYY-MM-DD), got {added!r}", "added") from None
    if isinstance(added, dt.datetime) or not isinstance(added, dt.date):
        raise fail(f"'added' must be a date (YYYY-MM-DD), got {added!r}", "added")
    for key in ("message", "builders"):
        value = entry.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise fail(f"'{key}' must be a regular expression string", key)
        try:
            re.compile(value)
        except re.error as exc:
            raise fail(f"'{key}' is not a valid regular expression: {exc}", key) from None
    branches = entry.get("branches", [])
    if isinstance(branches, str):
        branches = [branches]
    if not isinstance(branches, list) or not all(isinstance(b, str) for b in branches):
        raise fail("'branches' must be a list of branch names", "branches")
    url = entry.get("url", f"https://github.com/{repo}/issues/{number}")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise fail(f"'url' must be an http(s) URL, got {url!r}", "url")
    notes = entry.get("notes", "")
    if not isinstance(notes, str):
        raise fail("'notes' must be a string", "notes")
    evidence = entry.get("evidence")
    if evidence is not None and (not isinstance(evidence, str)
                                 or not evidence.startswith(("https://", "http://"))):
        raise fail(f"'evidence' must be an http(s) URL, got {evidence!r}", "evidence")
    return KnownIssue(
        number=number, url=url, title=title.strip(), kind=kind,
        tests=tuple(t.strip() for t in tests), message=entry.get("message"),
        builders=entry.get("builders"), branches=tuple(branches), added=added,
        notes=notes.strip(), evidence=evidence, line=start,
    )
