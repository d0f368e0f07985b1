"""The real-world corpus (``tests/data/real``): load and validate its cases.

Used by the tests and by ``bench/accuracy.py``. ``python -m tests.realcorpus`` checks every
case's metadata and prints one line per problem (exit 1 if any).
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).parent / "data" / "real"
LOGS = ROOT / "logs"
DISTRACTORS = ROOT / "distractors.json"

SOURCE = re.compile(r"^[\w.-]+/[\w.-]+(#\d+|:[^@\s]+@[0-9a-f]{7,40})$")
DATE = re.compile(r"^\d{4}-\d\d(-\d\d)?$")
OUTCOMES = {"failed", "env_changed", "crashed", "timed_out", "leaked", "worker_bug"}
SHAPES = set("""progress summary fail error env_changed crash timeout refleak memory_blocks
file_descriptors worker_exit compile_error rerun_pass rerun_fail faulthandler warning_modified
uncaught_exception markdown_escaped elided windows_paths crlf ansi sequential cut_start cut_end
subtest sanitizer bisect""".split())


@dataclass
class RealCase:
    id: str
    log_path: Path
    source: str
    url: str
    date: str
    era: str
    platform: str
    builder: str
    shapes: list[str]
    issue: dict
    failed: list[str]
    cases: list[str]
    truncated: bool
    outcomes: dict[str, str] = field(default_factory=dict)
    rerun_passed: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.log_path.read_bytes().decode("utf-8", "replace")


class CorpusError(ValueError):
    pass


def _case(toml_path: Path) -> RealCase:
    cid = toml_path.stem
    log = toml_path.with_suffix(".log")
    try:
        meta = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CorpusError(f"{cid}: bad TOML: {exc}") from None
    problems = []
    if not log.exists():
        problems.append("no .log file")
    for key in ("source", "url", "date", "era", "platform", "shapes", "issue", "expected"):
        if key not in meta:
            problems.append(f"missing {key!r}")
    if problems:
        raise CorpusError(f"{cid}: " + "; ".join(problems))
    if not SOURCE.match(meta["source"]):
        problems.append(f"source {meta['source']!r} is not 'owner/repo#N' or 'owner/repo:path@sha'")
    if not str(meta["url"]).startswith("https://"):
        problems.append("url must be https://")
    if not DATE.match(str(meta["date"])):
        problems.append(f"date {meta['date']!r} is not YYYY-MM-DD")
    bad_shapes = set(meta["shapes"]) - SHAPES
    if bad_shapes:
        problems.append(f"unknown shapes {sorted(bad_shapes)}")
    issue = meta["issue"]
    for key in ("number", "title", "state", "kind", "findable"):
        if key not in issue:
            problems.append(f"issue: missing {key!r}")
    if issue.get("state") not in ("open", "closed"):
        problems.append("issue.state must be open or closed")
    if issue.get("kind") not in ("issue", "pr"):
        problems.append("issue.kind must be issue or pr")
    exp = meta["expected"]
    for key in ("failed", "cases", "truncated"):
        if key not in exp:
            problems.append(f"expected: missing {key!r}")
    bad_outcomes = set(exp.get("outcomes", {}).values()) - OUTCOMES
    if bad_outcomes:
        problems.append(f"expected.outcomes: unknown words {sorted(bad_outcomes)}")
    if set(exp.get("outcomes", {})) - set(exp.get("failed", [])):
        problems.append("expected.outcomes names a test that is not in expected.failed")
    if problems:
        raise CorpusError(f"{cid}: " + "; ".join(problems))
    return RealCase(
        id=cid, log_path=log, source=meta["source"], url=meta["url"], date=str(meta["date"]),
        era=str(meta["era"]), platform=meta["platform"], builder=meta.get("builder", ""),
        shapes=list(meta["shapes"]), issue=dict(issue), failed=sorted(exp["failed"]),
        cases=list(exp["cases"]), truncated=bool(exp["truncated"]),
        outcomes=dict(exp.get("outcomes", {})), rerun_passed=sorted(exp.get("rerun_passed", [])),
    )


def load_cases(root: Path = LOGS) -> list[RealCase]:
    return [_case(p) for p in sorted(root.glob("*.toml"))]


def load_distractors(path: Path = DISTRACTORS) -> list[dict]:
    if not path.exists():
        return []
    return json.loads(path.read_text(encoding="utf-8"))


def main() -> int:
    errors = 0
    n = 0
    for p in sorted(LOGS.glob("*.toml")):
        try:
            _case(p)
            n += 1
        except CorpusError as exc:
            print(exc)
            errors += 1
    for p in sorted(LOGS.glob("*.log")):
        if not p.with_suffix(".toml").exists():
            print(f"{p.stem}: .log without .toml")
            errors += 1
    try:
        d = load_distractors()
        for i, item in enumerate(d):
            for key in ("number", "title", "state", "url"):
                if key not in item:
                    print(f"distractors.json[{i}]: missing {key!r}")
                    errors += 1
    except json.JSONDecodeError as exc:
        print(f"distractors.json: {exc}")
        errors += 1
    print(f"{n} valid cases, {errors} problems", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
