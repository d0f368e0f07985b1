"""Golden output of the log parser: what ``parse_log`` gives for committed sample logs.

Stored parses are keyed by ``PARSER_VERSION`` (``bbwatch.logs.parsed``), not by a hash of the
parser's source: so when the output changes for some log, the version must change with it, or a
warm build would keep serving the old parser's results. This test fails until it does.

To accept a change of parse output: bump ``PARSER_VERSION`` in ``ext/bbwatch/logs/parsed.py``,
then regenerate the golden files::

    BBWATCH_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_parse_golden.py

Regenerating refuses a changed output under the same version.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from bbwatch.logs.parsed import PARSER_VERSION, ParsedLog, parse_log
from bbwatch.source.codec import dump_json, load_json

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden" / "parse"
REAL = HERE.parent / "data" / "real" / "logs"
SAMPLES = sorted((HERE / "samples" / "regrtest").glob("*.log")) + [
    REAL / name for name in (
        "gh101634-raspbian-worker-thread-false-success.log",
        "gh103879-s390x-refleaks-warnings-log.log",
        "gh107219-win11-refleaks-deadlock-timeout-rerun.log",
        "gh109128-asan-summary-count-no-name.log",
        "gh110017-signal-process-crashed-bus-error.log",
        "gh110325-win10-local-311-sequential-asyncio.log",
    )
]
UPDATE = os.environ.get("BBWATCH_UPDATE_GOLDEN") == "1"
HOW = ("bump PARSER_VERSION in ext/bbwatch/logs/parsed.py, then regenerate the golden files: "
       "BBWATCH_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_parse_golden.py")


@dataclass
class Golden:
    parser_version: int
    parsed: ParsedLog


def golden_path(log: Path) -> Path:
    return GOLDEN / f"{log.parent.name}--{log.stem}.json"


@pytest.mark.parametrize("log", SAMPLES, ids=lambda p: p.stem)
def test_parse_output_is_the_golden_one(log: Path) -> None:
    got = parse_log(log.read_text(encoding="utf-8", errors="surrogateescape"), True)
    path = golden_path(log)
    old = load_json(path.read_bytes(), Golden) if path.is_file() else None
    if UPDATE:
        if old is not None and old.parsed != got and old.parser_version == PARSER_VERSION:
            pytest.fail(f"{log.name}: the parse changed but PARSER_VERSION did not: {HOW}")
        path.write_text(dump_json(Golden(PARSER_VERSION, got)), encoding="utf-8")
        return
    assert old is not None, f"no golden parse for {log.name}: regenerate (BBWATCH_UPDATE_GOLDEN=1)"
    if old.parsed != got:
        if old.parser_version == PARSER_VERSION:
            pytest.fail(f"{log.name}: parse_log's output changed, so stored parses would be "
                        f"stale: {HOW}")
        pytest.fail(f"{log.name}: PARSER_VERSION is bumped; regenerate the golden files "
                    "(BBWATCH_UPDATE_GOLDEN=1)")
    assert old.parser_version == PARSER_VERSION, (
        f"{log.name}: the golden files are of PARSER_VERSION {old.parser_version}, not "
        f"{PARSER_VERSION}: regenerate them (BBWATCH_UPDATE_GOLDEN=1)")


def test_every_golden_file_has_its_sample() -> None:
    """A sample renamed or removed leaves no golden file behind."""
    assert sorted(p.name for p in GOLDEN.glob("*.json")) == sorted(
        golden_path(log).name for log in SAMPLES)
