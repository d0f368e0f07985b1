"""Issue 16 point 4: acknowledgements (validated like the registry) and when they expire."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from bbwatch.triage.acks import AckError, evaluate, issue_states, load_acks, parse_acks
from bbwatch.triage.analysis import analyse
from bbwatch.triage.tracker import FileTracker

from tests.conftest import REPO
from tests.factories import FAIL, NOW, OK, add_builder, make_fleet

TODAY = dt.date(2027, 1, 15)


def ack(**keys: str) -> str:
    body = {"author": '"Ada"', "date": "2027-01-14", **keys}
    return "[[ack]]\n" + "".join(f"{k} = {v}\n" for k, v in body.items())


def fleet_analysis():
    fleet = make_fleet()
    add_builder(fleet, 1, "AMD64 Debian 3.x", [OK, FAIL])
    return analyse(fleet, now=NOW)


def test_production_file_is_empty_and_valid():
    found = load_acks(REPO / "docs" / "data" / "acks.toml")
    assert found.acks == []


def test_demo_file_is_valid_and_marked():
    path = REPO / "ext" / "bbwatch_fleet" / "demo-acks.toml"
    assert load_acks(path).acks
    assert "# bbwatch: demo acknowledgements, never for production" in path.read_text()


def test_the_three_kinds():
    found = parse_acks(
        ack(test='"test_bb_fail"', error='"KeyError"', kind='"reported as #12"')
        + ack(test='"test_bb_crash"', error='"Aborted"', kind='"on it"')
        + ack(problem='"infra:disconnected:w"',
              kind='"ignore until 2027-02-01 (the owner is on holiday)"')).acks
    assert [(a.kind, a.issue) for a in found] == [("reported", 12), ("on-it", None),
                                                 ("ignore", None)]
    assert found[2].until == dt.date(2027, 2, 1)
    assert found[2].reason == "the owner is on holiday"
    assert found[0].line == 1 and found[1].line == 7


@pytest.mark.parametrize("keys, message", [
    ({"test": '"t"', "error": '"E"', "kind": '"fixed"'}, "'kind' must be"),
    ({"test": '"t"', "error": '"E"', "kind": '"ignore until soon (x)"'}, "'kind' must be"),
    ({"test": '"t"', "kind": '"on it"'}, "'error' is required"),
    ({"kind": '"on it"'}, "by 'test'"),
    ({"test": '"t"', "problem": '"k"', "error": '"E"', "kind": '"on it"'}, "not both"),
    ({"test": '"t"', "error": '"E"', "kind": '"on it"', "who": '"x"'}, "unknown key 'who'"),
    ({"test": '"t"', "error": '"E"', "kind": '"on it"', "date": '"yesterday"'}, "'date'"),
])
def test_mistakes_name_the_file_entry_and_line(keys, message):
    text = "# header\n\n" + ack(test='"ok"', error='"E"', kind='"on it"') + "\n" + ack(**keys)
    with pytest.raises(AckError) as err:
        parse_acks(text, "acks.toml")
    assert str(err.value).startswith("acks.toml:") and "ack 2" in str(err.value)
    assert message in str(err.value)


def test_missing_author_is_an_error():
    with pytest.raises(AckError, match="missing required key 'author'"):
        parse_acks('[[ack]]\ndate = 2027-01-01\nkind = "on it"\nproblem = "k"\n')


def test_active_while_the_signature_holds():
    analysis = fleet_analysis()
    acks = parse_acks(ack(test='"test_bb_fail.FailTests.test_assert"', error='"KeyError"',
                          kind='"reported as #12"'))
    report = evaluate(acks, analysis, TODAY)
    (state,) = report.states
    assert state.status == "active" and state.problem_key == "test:test_bb_fail"
    assert report.reported("test:test_bb_fail")


def test_expires_on_another_error_or_another_test():
    analysis = fleet_analysis()
    other_error = parse_acks(ack(test='"test_bb_fail"', error='"TypeError"', kind='"on it"'))
    (state,) = evaluate(other_error, analysis, TODAY).states
    assert state.status == "expired" and "another error" in state.why
    assert "KeyError: 'missing'" in state.why  # what it fails with now
    other_test = parse_acks(ack(test='"test_bb_fail.FailTests.test_gone"', error='"KeyError"',
                                kind='"on it"'))
    (state,) = evaluate(other_test, analysis, TODAY).states
    assert state.status == "expired" and "another test" in state.why


def test_expires_when_the_issue_is_closed_or_the_date_passed():
    analysis = fleet_analysis()
    acks = parse_acks(ack(test='"test_bb_fail"', error='"KeyError"', kind='"reported as #12"')
                      + ack(test='"test_bb_crash"', error='"Aborted"',
                            kind='"ignore until 2027-01-10 (waiting)"'))
    report = evaluate(acks, analysis, TODAY, {12: "closed"})
    assert [s.status for s in report.states] == ["expired", "expired"]
    assert "issue #12 is closed" in report.states[0].why
    assert "2027-01-10" in report.states[1].why
    assert not report.reported("test:test_bb_fail")
    report = evaluate(acks, analysis, dt.date(2027, 1, 9), {12: "open"})
    assert [s.status for s in report.states] == ["active", "active"]


def test_an_ack_for_a_problem_that_is_gone():
    analysis = fleet_analysis()
    acks = parse_acks(ack(test='"test_nothing"', error='"E"', kind='"on it"'))
    assert [s.status for s in evaluate(acks, analysis, TODAY).states] == ["gone"]


def test_issue_states_from_a_file_tracker(tmp_path: Path):
    tracker = FileTracker(REPO / "ext" / "bbwatch_fleet" / "demo-issues.json")
    states = issue_states(tracker)
    assert states[130205] == "closed" and states[130202] == "open"
    assert issue_states(None) == {}
