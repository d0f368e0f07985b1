"""Is it the test or the machine? Failures attributed to a sick worker.

A worker is *sick* when the builds of the builders it hosts fail on several unrelated test
files (``SICK_MIN_TESTS`` or more) that pass at the same revision on other workers, or fail
with infrastructure signatures (a full disk, memory exhausted, a killed process, clock skew,
name resolution) that the same revision does not show elsewhere. Its failures are then the
worker's, not the tests': ``analysis.analyse`` removes them from the test problems and from
the flakiness evidence and lists the worker once, under Infrastructure, with this evidence,
for a mail to its owner (``Worker.admin``, from the worker's info).

Failures that also happen on another worker at the same revision stay test failures: a sick
machine can still run into a real regression. Pure functions over the fleet and its parsed
test logs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import msgspec

from bbwatch.logs.parsed import BuildTests, ParsedLog
from bbwatch.models import Build, FleetData, Worker

SICK_MIN_TESTS = 2  # distinct test files failing only on this worker ...
SICK_MIN_SIGNATURES = 2  # ... or failures carrying an infrastructure signature
# What a machine, not a test, prints (first match names the evidence).
SIGNATURES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("disk full", re.compile(r"No space left on device|ENOSPC|Disk quota exceeded")),
    ("out of memory", re.compile(r"\bMemoryError\b|Cannot allocate memory|out of memory",
                                 re.I)),
    ("killed", re.compile(r"^Killed\b|\bSIGKILL\b|Exit code -9\b", re.M)),
    ("clock skew", re.compile(r"clock skew|clock_gettime.*(?:EINVAL|backwards)", re.I)),
    ("DNS", re.compile(r"Temporary failure in name resolution|Name or service not known|"
                       r"getaddrinfo failed|nodename nor servname", re.I)),
)


@dataclass(frozen=True)
class WorkerFailure:
    """One failure on the sick worker that the rest of the fleet does not share."""

    builderid: int
    build: Build
    test_file: str
    signature: str | None  # "disk full", "out of memory", ... or None
    passed_on: tuple[str, ...]  # other workers where the same revision passed this test

    @property
    def detail(self) -> str:
        parts = [f"{self.test_file} failed"]
        if self.signature:
            parts.append(f"({self.signature})")
        if self.passed_on:
            parts.append(f"but passed at the same revision on {', '.join(self.passed_on)}")
        return " ".join(parts)


@dataclass
class SickWorker:
    worker: Worker
    failures: list[WorkerFailure] = field(default_factory=list)

    @property
    def test_files(self) -> list[str]:
        return sorted({f.test_file for f in self.failures})

    @property
    def signatures(self) -> list[str]:
        return sorted({f.signature for f in self.failures if f.signature})

    @property
    def builderids(self) -> list[int]:
        return list(dict.fromkeys(f.builderid for f in self.failures))

    @property
    def attributed(self) -> set[tuple[int, str]]:
        """(buildid, test file) pairs that are the worker's fault."""
        return {(f.build.buildid, f.test_file) for f in self.failures}

    @property
    def summary(self) -> str:
        what = f"{len(self.test_files)} unrelated test files"
        if self.signatures:
            what += f" ({', '.join(self.signatures)})"
        return (f"{what} failed on its builders and passed at the same revisions on other "
                "workers")


def signature_of(text: str) -> str | None:
    for name, pattern in SIGNATURES:
        if pattern.search(text or ""):
            return name
    return None


def _revision_index(
    fleet: FleetData, tests: Mapping[int, BuildTests]
) -> dict[str, list[tuple[Worker | None, Build]]]:
    index: dict[str, list[tuple[Worker | None, Build]]] = {}
    for builderid, builds in fleet.builds.items():
        worker = fleet.worker_for(builderid)
        for build in builds:
            info = tests.get(build.buildid)
            if build.complete and build.revision and info is not None and info.ran:
                index.setdefault(build.revision, []).append((worker, build))
    return index


def find_sick_workers(
    fleet: FleetData, tests: Mapping[int, BuildTests], parsed: Mapping[int, ParsedLog]
) -> dict[str, SickWorker]:
    """Sick workers by name, with the failures attributed to each."""
    index = _revision_index(fleet, tests)
    found: dict[str, SickWorker] = {}
    for worker in fleet.workers:
        candidates: list[WorkerFailure] = []
        for builderid in worker.builderids:
            builds = fleet.builds.get(builderid, [])
            for build in builds:
                info = tests.get(build.buildid)
                if info is None or not info.ran or not info.failed or not build.revision:
                    continue  # nothing failed here: nothing to attribute
                log = parsed.get(build.buildid)
                others = [(w, b) for w, b in index.get(build.revision, ())
                          if w is not None and w.workerid != worker.workerid]
                for test_file in sorted(info.failed):
                    if any(tests[b.buildid].status(test_file) == "fail" for _, b in others):
                        continue  # the same revision fails elsewhere: the test's problem
                    excerpt = log.excerpts.get(test_file, "") if log else ""
                    signature = signature_of(excerpt)
                    # Passed elsewhere: only where the log shows the test ran (another builder
                    # may not run it); and gone by this builder's next verdict (a failure that
                    # stays is a breakage of this configuration or platform, not a sick machine)
                    passed = tuple(dict.fromkeys(
                        w.name for w, b in others if w is not None
                        and tests[b.buildid].status(test_file) == "pass"
                        and tests[b.buildid].shows(test_file)))
                    if signature or (passed and _gone_next(builds, build, tests, test_file)):
                        candidates.append(WorkerFailure(builderid, build, test_file, signature,
                                                        passed))
        files = {f.test_file for f in candidates if f.passed_on}
        signed = [f for f in candidates if f.signature]
        if len(files) >= SICK_MIN_TESTS or len(signed) >= SICK_MIN_SIGNATURES:
            found[worker.name] = SickWorker(worker, candidates)
    return found


def _gone_next(builds: list[Build], build: Build, tests: Mapping[int, BuildTests],
               test_file: str) -> bool:
    """The builder's next build with a test verdict (builds are newest first) passes it."""
    newer = [b for b in builds if b.number > build.number and b.complete]
    for later in sorted(newer, key=lambda b: b.number):
        status = tests[later.buildid].status(test_file) if later.buildid in tests else None
        if status is not None:
            return status == "pass"
    return False


def without_worker_failures(
    tests: Mapping[int, BuildTests], sick: Mapping[str, SickWorker]
) -> dict[int, BuildTests]:
    """``tests`` with the sick workers' failures taken out, so they are neither test problems
    nor flakiness evidence."""
    drop: dict[int, set[str]] = {}
    for worker in sick.values():
        for buildid, test_file in worker.attributed:
            drop.setdefault(buildid, set()).add(test_file)
    out = dict(tests)
    for buildid, files in drop.items():
        info = out[buildid]
        out[buildid] = msgspec.structs.replace(info, failed=info.failed - files,
                                               flaky=info.flaky - files)
    return out
