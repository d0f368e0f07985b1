"""The real-world corpus (tests/data/real): its cases are well-formed and sourced, it covers what
watchers paste, and the parser and the matcher meet their accuracy targets on it.

The figures come from ``bench/accuracy.py --json`` (run as a script, the way `make bench` runs
it), so the test and the benchmark can never disagree about what is measured.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from bbwatch.logs.regrtest import parse_file

from tests.conftest import REPO
from tests.realcorpus import LOGS, CorpusError, _case, load_cases, load_distractors

MIN_CASES = 60
ERAS = {f"3.{minor}" for minor in range(6, 16)}  # 3.6 ... 3.15
OUTCOME_SHAPES = {"fail", "error", "env_changed", "crash", "timeout", "refleak", "memory_blocks",
                  "file_descriptors", "worker_exit", "compile_error", "rerun_pass"}
PLATFORMS = ("Windows", "macOS", "FreeBSD", "s390x", "ARM", "WASI", "Android", "iOS", "Emscripten")
CUTS = {"cut_start", "cut_end", "elided"}


@pytest.fixture(scope="module")
def cases():
    return load_cases()


@pytest.fixture(scope="module")
def figures() -> dict:
    done = subprocess.run([sys.executable, str(REPO / "bench" / "accuracy.py"), "--json"],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_case_is_well_formed_and_sourced(cases) -> None:
    assert len(cases) >= MIN_CASES
    for case in cases:
        assert case.log_path.stat().st_size > 0, case.id
        repo = case.source.split("#")[0].split(":")[0]
        assert repo in ("python/cpython", "python/buildmaster-config"), case.id
        if "#" in case.source:
            number = int(case.source.split("#")[1])
            assert number == case.issue["number"], case.id
            assert f"/{number}" in case.url, case.id
        assert case.issue["title"].strip() == case.issue["title"], case.id
    assert not [p for p in LOGS.glob("*.log") if not p.with_suffix(".toml").exists()]


def test_the_corpus_covers_eras_outcomes_platforms_and_cuts(cases) -> None:
    assert ERAS <= {c.era for c in cases}
    shapes = {s for c in cases for s in c.shapes}
    assert OUTCOME_SHAPES <= shapes
    assert shapes & CUTS == CUTS
    platforms = " ".join(c.platform + " " + c.builder for c in cases)
    assert [p for p in PLATFORMS if p not in platforms] == []
    # excerpts where nothing failed keep precision honest
    assert sum(1 for c in cases if not c.failed) >= 10


def test_a_bad_case_is_refused_with_its_name(tmp_path) -> None:
    (tmp_path / "gh1-x.log").write_text("0:00:01 [1/1] test_os failed\n")
    (tmp_path / "gh1-x.toml").write_text(
        'source = "python/cpython"\nurl = "http://x"\ndate = "2024"\nera = "3.12"\n'
        'platform = "Linux"\nshapes = ["nonsense"]\n[issue]\nnumber = 1\ntitle = "t"\n'
        'state = "open"\nkind = "issue"\nfindable = true\n'
        '[expected]\nfailed = []\ncases = []\ntruncated = true\n')
    with pytest.raises(CorpusError) as info:
        _case(tmp_path / "gh1-x.toml")
    message = str(info.value)
    assert message.startswith("gh1-x: ")
    for problem in ("source", "https", "date", "nonsense"):
        assert problem in message


def test_distractors_are_real_cpython_titles() -> None:
    items = load_distractors()
    assert len(items) >= 200
    numbers = [i["number"] for i in items]
    assert len(numbers) == len(set(numbers))
    for item in items:
        assert item["source"] == f"python/cpython#{item['number']}"
        assert item["url"].startswith("https://github.com/python/cpython/")
        assert item["body"] == ""  # titles only: no prose is copied


def test_accuracy_meets_the_targets(figures: dict) -> None:
    assert figures["cases"] >= MIN_CASES
    for key in ("failed_precision", "failed_recall", "failed_f1", "case_recall",
                "match_top1", "match_top3"):
        assert 0.0 <= figures[key] <= 1.0
    assert figures["failed_f1"] >= figures["targets"]["failed_f1"] == 0.97
    assert figures["case_recall"] >= figures["targets"]["case_recall"] == 0.95
    assert figures["match_top3"] >= figures["targets"]["match_top3"] == 0.90
    assert figures["match_cases"] >= 20  # the top-3 share means something
    assert figures["tracker_issues"] >= 300


def test_lines_that_only_mention_a_test_never_make_it_failed(cases) -> None:
    # Precision, case by case: in the excerpts where a human reads no failure, nothing fails.
    quiet = [c for c in cases if not c.failed]
    assert quiet
    for case in quiet:
        assert parse_file(case.log_path).failed == [], case.id


def test_truncated_says_whether_the_final_result_line_was_seen(cases) -> None:
    wrong = [c.id for c in cases
             if parse_file(c.log_path).truncated != c.truncated
             and "Result: " in c.text]  # a summary header alone is no final result line
    assert wrong == []
