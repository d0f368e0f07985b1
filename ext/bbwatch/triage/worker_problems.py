"""The fleet picture's rows for sick workers (``bbwatch.triage.workers``): one Infrastructure
problem per sick worker, absorbing the worker's other infrastructure rows (a full disk is one
of its symptoms), with the evidence as its excerpt."""

from __future__ import annotations

from collections.abc import Mapping

from bbwatch.models import FleetData
from bbwatch.triage import history
from bbwatch.triage.rows import Problem, occurrence
from bbwatch.triage.workers import SickWorker

EVIDENCE_LINES = 12


def sick_worker_problems(
    fleet: FleetData, sick: Mapping[str, SickWorker], problems: list[Problem]
) -> list[Problem]:
    """``problems`` with one infra problem per sick worker, replacing the worker's own
    infrastructure rows (other than a disconnection)."""
    if not sick:
        return problems
    absorbed: set[str] = set()
    made: list[Problem] = []
    for name, worker in sorted(sick.items()):
        problem = Problem(key=f"infra:sick-worker:{name}", group="infra", kind="sick-worker",
                          title=f"sick worker {name}", test_file=None, occurrences=[],
                          classification="infra")
        evidence = [f"{_builder_name(fleet, f.builderid)} build #{f.build.number}: {f.detail}"
                    for f in sorted(worker.failures, key=lambda f: (f.builderid, f.build.number))]
        text = "\n".join([worker.summary + ":", *evidence[-EVIDENCE_LINES:]])
        for builderid in worker.builderids:
            builder = fleet.builder(builderid)
            builds = fleet.builds.get(builderid, [])
            mine = [f.build for f in worker.failures if f.builderid == builderid]
            if builder is None or not mine:
                continue
            latest = max(mine, key=lambda b: b.number)
            problem.occurrences.append(occurrence(
                fleet, builder, latest, history.builder_streak(builds), "sick-worker", (),
                text))
        for other in problems:
            if other.group == "infra" and other.kind != "disconnected" and any(
                    w.name == name for w in other.workers):
                absorbed.add(other.key)
        made.append(problem)
    return [*(p for p in problems if p.key not in absorbed), *made]


def _builder_name(fleet: FleetData, builderid: int) -> str:
    builder = fleet.builder(builderid)
    return builder.name if builder else str(builderid)
