"""How well `bbwatch parse` and `bbwatch match` read real reports: the real-world corpus.

Runs the parser over every case of ``tests/data/real/logs`` (regrtest excerpts copied verbatim
from python/cpython issues and pull requests, each with the parse a human reads in it) and the
matcher, through ``bbwatch match``'s own ``match_report``, over every case that comes from an
issue a watcher searching by hand would find, with the real titles of all the corpus's issues
plus a few hundred other real python/cpython test issues (``distractors.json``) as the tracker.

The case's own issue is shown open while it is matched, as it was while the failure was on
the buildbots; the other titles keep their recorded state. Figures (micro-averaged):
- ``failed_precision`` / ``failed_recall`` / ``failed_f1``: the set of failed test files;
- ``case_recall``: FAIL/ERROR ids of the excerpt found among the parsed cases;
- ``match_top1`` / ``match_top3``: the case's issue ranked first / in the first three.
Targets: failed-test F1 >= 0.97, case recall >= 0.95, top-3 >= 0.90.

    python bench/accuracy.py [--json] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the corpus loader lives with the tests that share it

from bbwatch.commands.match import match_report  # noqa: E402
from bbwatch.logs.regrtest import parse_file  # noqa: E402
from bbwatch.triage.tracker import FileTracker, issue_from_dict  # noqa: E402

from tests.realcorpus import RealCase, load_cases, load_distractors  # noqa: E402

TARGETS = {"failed_f1": 0.97, "case_recall": 0.95, "match_top3": 0.90}


def _tracker(cases: list[RealCase]) -> FileTracker:
    """Every real title the corpus knows: its cases' issues and the distractors."""
    items: dict[int, dict] = {}
    for case in cases:
        issue = case.issue
        kind = "pull" if issue["kind"] == "pr" else "issues"
        items.setdefault(issue["number"], {
            "number": issue["number"], "title": issue["title"], "state": issue["state"],
            "url": f"https://github.com/python/cpython/{kind}/{issue['number']}",
        })
    for item in load_distractors():
        items.setdefault(item["number"], item)
    issues = [issue_from_dict(item, f"corpus[{n}]") for n, item in sorted(items.items())]
    return FileTracker.from_issues(issues, "tests/data/real")


def _match_rank(case: RealCase, run: object, tracker: FileTracker) -> int | None:
    """1-based rank of the case's issue among the candidates of its best-placed failure.

    The case's own issue is shown open, as it was while its failure was on the buildbots
    (most are closed today); every other issue keeps its state as recorded.
    """
    number = case.issue["number"]
    issues = [replace(i, state="open") if i.number == number else i for i in tracker.issues]
    tracker = FileTracker.from_issues(issues, tracker.path.as_posix())
    report = match_report(run, tracker, None, builder=case.builder or None)
    best = None
    for failure in report["failures"]:
        numbers = [c["number"] for c in failure["candidates"]]
        if case.issue["number"] in numbers:
            rank = numbers.index(case.issue["number"]) + 1
            best = rank if best is None else min(best, rank)
    return best


def measure(cases: list[RealCase]) -> dict:
    tp = fp = fn = 0
    case_found = case_total = 0
    tracker = _tracker(cases)
    top1 = top3 = match_cases = 0
    misses: list[dict] = []
    for case in cases:
        run = parse_file(case.log_path)
        got, want = set(run.failed), set(case.failed)
        tp += len(got & want)
        fp += len(got - want)
        fn += len(want - got)
        ids = {c.test_id for c in run.cases}
        found = [i for i in case.cases if i in ids]
        case_found += len(found)
        case_total += len(case.cases)
        miss: dict = {}
        if got != want:
            miss["failed"] = {"extra": sorted(got - want), "missing": sorted(want - got)}
        if len(found) < len(case.cases):
            miss["cases_missing"] = [i for i in case.cases if i not in ids]
        if case.issue["kind"] == "issue" and case.issue["findable"] and case.failed:
            match_cases += 1
            rank = _match_rank(case, run, tracker)
            top1 += rank == 1
            top3 += rank is not None and rank <= 3
            if rank != 1:
                miss["match_rank"] = rank
                miss["title"] = case.issue["title"]
        if miss:
            misses.append({"id": case.id, **miss})
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "cases": len(cases),
        "failed_precision": round(precision, 4),
        "failed_recall": round(recall, 4),
        "failed_f1": round(f1, 4),
        "case_recall": round(case_found / case_total, 4) if case_total else 1.0,
        "match_top1": round(top1 / match_cases, 4) if match_cases else 1.0,
        "match_top3": round(top3 / match_cases, 4) if match_cases else 1.0,
        "match_cases": match_cases,
        "tracker_issues": len(tracker.issues),
        "targets": TARGETS,
        "misses": misses,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--verbose", action="store_true", help="list every case that misses")
    args = parser.parse_args(argv)
    result = measure(load_cases())
    if not args.verbose:
        result.pop("misses")
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"accuracy on the real corpus: {result['cases']} cases, "
          f"{result['match_cases']} matched against {result['tracker_issues']} real titles")
    rows = [("failed_precision", None), ("failed_recall", None),
            ("failed_f1", TARGETS["failed_f1"]), ("case_recall", TARGETS["case_recall"]),
            ("match_top1", None), ("match_top3", TARGETS["match_top3"])]
    for key, target in rows:
        verdict = "" if target is None else (
            f"  target >= {target:.2f}  {'ok' if result[key] >= target else 'MISSED'}")
        print(f"  {key:<17} {result[key]:.3f}{verdict}")
    for miss in result.get("misses", []):
        print("  miss:", json.dumps(miss))
    return 0


if __name__ == "__main__":
    sys.exit(main())
