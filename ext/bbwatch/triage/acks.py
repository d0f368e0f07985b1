"""Acknowledgements: who has a problem, written down in a reviewed file (``docs/data/acks.toml``).

One ``[[ack]]`` table per acknowledgement: the problem's signature as the watcher saw it (the
test file or test id, ``test``, and its error, ``error``; or, for a build or infrastructure
problem, its key, ``problem``), who (``author``), when (``date``) and what (``kind``):
``"reported as #N"``, ``"on it"`` or ``"ignore until YYYY-MM-DD (reason)"``. Validated on load
like the registry (``bbwatch.triage.registry``); a mistake is an ``AckError`` naming the file,
the entry and its line.

An acknowledgement holds while the problem keeps its signature: it *expires* when the problem
now fails another test or with another error, when its ``reported as #N`` issue is closed, or
when an ``ignore until`` date has passed. ``evaluate`` pairs the file with an analysis; the live
pages, the digest and the watch-health figures read its ``AckReport``. Pure: the issues' states
come from the caller (``issue_states``).

The production file is ``docs/data/acks.toml``; the demo fleet's lives with the fleet
(``ext/bbwatch_fleet/demo-acks.toml``) and is chosen by configuration only: ``--acks`` or
``BBWATCH_ACKS`` for the CLI, ``bbwatch_acks`` or ``BBWATCH_ACKS`` for the site.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bbwatch.errors import BBWatchError
from bbwatch.triage.registry import holds_marker, read_data_file
from bbwatch.triage.rows import Analysis, Problem

ACKS_ENV = "BBWATCH_ACKS"
DEFAULT_ACKS = Path("docs", "data", "acks.toml")
REQUIRED = ("author", "date", "kind")
OPTIONAL = ("test", "problem", "error")
DEMO_MARKER = "# bbwatch: demo acknowledgements, never for production"
_REPORTED = re.compile(r"reported as #(\d+)")
_IGNORE = re.compile(r"ignore until (\d{4}-\d{2}-\d{2}) \((.+)\)")
KIND_FORMS = '"reported as #N", "on it" or "ignore until YYYY-MM-DD (reason)"'


class AckError(BBWatchError):
    """An acknowledgements file that cannot be used: ``path:line: ack N: what``."""


@dataclass(frozen=True)
class Ack:
    author: str
    date: dt.date
    kind: str  # "reported" | "on-it" | "ignore"
    text: str  # the kind as written: "reported as #130202"
    test: str | None = None  # test file or test id
    problem: str | None = None  # a problem key (build and infrastructure problems)
    error: str = ""  # a piece of the error line, as the watcher saw it
    issue: int | None = None  # reported as #N
    until: dt.date | None = None  # ignore until
    reason: str = ""  # why it is ignored
    line: int = 0

    @property
    def target(self) -> str:
        return self.test or self.problem or ""

    def describe(self) -> str:
        """``"reported as #130202 by Ada on 2026-12-04"``."""
        return f"{self.text} — {self.author}, {self.date.isoformat()}"


@dataclass
class Acks:
    acks: list[Ack] = field(default_factory=list)
    path: str | None = None


def default_acks_path(environ: Mapping[str, str] = os.environ) -> Path | None:
    """``$BBWATCH_ACKS`` if set, else ``docs/data/acks.toml`` of the current directory."""
    chosen = environ.get(ACKS_ENV, "").strip()
    if chosen:
        return Path(chosen)
    path = Path.cwd() / DEFAULT_ACKS
    return path if path.is_file() else None


def is_demo_acks(path: str | os.PathLike[str]) -> bool:
    return holds_marker(path, DEMO_MARKER)


def load_acks(path: str | os.PathLike[str]) -> Acks:
    path = Path(path)
    return parse_acks(read_data_file(path, AckError, "acknowledgements"), str(path))


def parse_acks(text: str, source: str = "<acks>") -> Acks:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AckError(f"{source}: invalid TOML: {exc}") from None
    unknown = sorted(set(data) - {"ack"})
    if unknown:
        raise AckError(f"{source}: unknown top-level key {unknown[0]!r} (allowed: [[ack]])")
    entries = data.get("ack", [])
    if not isinstance(entries, list):
        raise AckError(f"{source}: 'ack' must be an array of tables: write [[ack]]")
    lines = text.splitlines()
    starts = [i + 1 for i, ln in enumerate(lines) if re.match(r"\s*\[\[\s*ack\s*\]\]", ln)]
    out = [_entry(e, i + 1, source, lines, starts[i] if i < len(starts) else 0,
                  starts[i + 1] if i + 1 < len(starts) else None)
           for i, e in enumerate(entries)]
    return Acks(out, source)


def _entry(entry: Any, index: int, source: str, lines: list[str], start: int,
           end: int | None) -> Ack:
    def fail(message: str, key: str | None = None) -> AckError:
        line = start
        if key:
            for i, text in enumerate(lines[max(start - 1, 0):end], max(start - 1, 0)):
                if re.match(rf"\s*{re.escape(key)}\s*=", text):
                    line = i + 1
                    break
        return AckError(f"{source}:{line}: ack {index}: {message}")

    if not isinstance(entry, dict):
        raise fail("must be a table")
    unknown = sorted(set(entry) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise fail(f"unknown key {unknown[0]!r} (allowed: {', '.join(REQUIRED + OPTIONAL)})",
                   unknown[0])
    missing = [k for k in REQUIRED if k not in entry]
    if missing:
        raise fail(f"missing required key {missing[0]!r}")
    for key in ("author", "test", "problem", "error", "kind"):
        value = entry.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise fail(f"'{key}' must be a non-empty string", key)
    if ("test" in entry) == ("problem" in entry):
        raise fail("name the problem by 'test' (test file or test id) or by 'problem' (the "
                   "key shown on the known-failures page), not both and not neither")
    if "test" in entry and "error" not in entry:
        raise fail("'error' is required with 'test': a piece of the error line, so the "
                   "acknowledgement expires when the test fails for another reason")
    date = _date(entry["date"])
    if date is None:
        raise fail(f"'date' must be a date (YYYY-MM-DD), got {entry['date']!r}", "date")
    kind_text = " ".join(entry["kind"].split())
    issue = until = None
    reason = ""
    if found := _REPORTED.fullmatch(kind_text):
        kind, issue = "reported", int(found[1])
    elif kind_text == "on it":
        kind = "on-it"
    elif found := _IGNORE.fullmatch(kind_text):
        kind, reason = "ignore", found[2].strip()
        until = _date(found[1])
        if until is None:
            raise fail(f"'kind': {found[1]!r} is not a date (YYYY-MM-DD)", "kind")
    else:
        raise fail(f"'kind' must be {KIND_FORMS}, got {entry['kind']!r}", "kind")
    return Ack(author=entry["author"].strip(), date=date, kind=kind, text=kind_text,
               test=(entry.get("test") or "").strip() or None,
               problem=(entry.get("problem") or "").strip() or None,
               error=" ".join((entry.get("error") or "").split()), issue=issue, until=until,
               reason=reason, line=start)


def _date(value: Any) -> dt.date | None:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    return None


# --- signatures and evaluation ---------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """What identifies a problem for an acknowledgement: its tests and its error line."""

    key: str
    test_file: str | None
    test_ids: tuple[str, ...]
    error: str

    def describe(self) -> str:
        what = self.test_ids[0] if len(self.test_ids) == 1 else (self.test_file or self.key)
        return f"{what}: {self.error}" if self.error else what


_ERROR_LINE = re.compile(
    r"^\s*((?:[\w.]+(?:Error|Exception|Failure|Warning|Exit|Interrupt)\b.*)"
    r"|Fatal Python error:.*|Timeout \(.*|.*\btimed out\b.*|.*leaked \[.*|.*No space left.*"
    r"|.*altered the execution environment.*)$")


def error_line(excerpt: str) -> str:
    """The most telling line of an excerpt: the last exception line, else the last line."""
    lines = [ln.strip() for ln in (excerpt or "").splitlines()
             if ln.strip() and ln.strip() != "[...]"]
    found = next((ln for ln in reversed(lines) if _ERROR_LINE.match(ln)), None)
    return " ".join((found or (lines[-1] if lines else "")).split())


def signature(problem: Problem, analysis: Analysis) -> Signature:
    """The problem's signature now: its test ids and the error line of its latest build."""
    error = ""
    if problem.occurrences:
        latest = max(problem.occurrences, key=lambda o: o.latest.complete_at or 0)
        parsed = analysis.parsed.get(latest.latest.buildid)
        outcome = parsed.outcomes.get(problem.test_file or "") if parsed else None
        message = (outcome[1] if outcome else "") or ""
        error = " ".join(message.strip().splitlines()[-1].split()) if message.strip() else ""
        error = error or error_line(latest.excerpt)
    return Signature(problem.key, problem.test_file, problem.test_ids, error)


@dataclass(frozen=True)
class AckState:
    ack: Ack
    status: str  # "active" | "expired" | "gone" (no such problem now)
    problem_key: str | None = None
    why: str = ""  # why it expired


@dataclass
class AckReport:
    states: list[AckState] = field(default_factory=list)

    def for_problem(self, key: str) -> list[AckState]:
        return [s for s in self.states if s.problem_key == key]

    def active(self, key: str) -> list[Ack]:
        return [s.ack for s in self.for_problem(key) if s.status == "active"]

    def reported(self, key: str) -> bool:
        """Someone filed (or links) an issue for this problem, and it still holds."""
        return any(a.kind == "reported" for a in self.active(key))

    @property
    def gone(self) -> list[AckState]:
        return [s for s in self.states if s.status == "gone"]


def all_problems(analysis: Analysis) -> list[Problem]:
    """Every problem, mass failures' parts included."""
    return [p for top in analysis.problems for p in [top, *top.children]]


def _test_file_of(test: str, problems: list[Problem]) -> Problem | None:
    for p in problems:
        tf = p.test_file
        if tf and tf != "(test step)" and (
            test == tf or test.startswith(tf + ".") or f".{tf}." in f".{test}"):
            return p
    return None


def _names_test(test: str, sig: Signature) -> bool:
    if test == sig.test_file:
        return True
    return any(t == test or t.endswith("." + test) or test.endswith("." + t)
               for t in sig.test_ids)


def evaluate(acks: Acks | None, analysis: Analysis, today: dt.date,
             issue_states: Mapping[int, str] | None = None) -> AckReport:
    """Each acknowledgement paired with the problem it names, and whether it still holds."""
    report = AckReport()
    if acks is None:
        return report
    problems = [p for p in all_problems(analysis) if p.group != "mass"]
    states = issue_states or {}
    for ack in acks.acks:
        if ack.problem:
            problem = next((p for p in problems if p.key == ack.problem), None)
        else:
            problem = _test_file_of(ack.test or "", problems)
        if problem is None:
            report.states.append(AckState(ack, "gone"))
            continue
        sig = signature(problem, analysis)
        why = ""
        if ack.test and not _names_test(ack.test, sig):
            why = f"the problem now fails another test ({sig.describe()})"
        elif ack.error and ack.error not in sig.error:
            why = f"the problem now fails with another error ({sig.error or 'none shown'})"
        elif ack.kind == "reported" and states.get(ack.issue or 0) == "closed":
            why = f"issue #{ack.issue} is closed"
        elif ack.kind == "ignore" and ack.until is not None and ack.until < today:
            why = f"ignored until {ack.until.isoformat()}, which has passed"
        report.states.append(AckState(ack, "expired" if why else "active", problem.key, why))
    return report


def issue_states(tracker: object) -> dict[int, str]:
    """Issue number -> "open" | "closed", from a tracker that holds its issues (a file
    tracker); {} when it only answers searches (their states are not known here)."""
    issues = getattr(tracker, "issues", None) or ()
    return {i.number: i.state for i in issues if getattr(i, "number", None)}
