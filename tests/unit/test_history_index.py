"""HistoryIndex.flakiness must give exactly what the straightforward history.flakiness gives.

The reference walks every build of every builder per test file; the index walks only builders
where the test failed or flaked. Random fleets share revisions across builders (rebuilds too),
mix fail/flaky/pass/not-ran/missing cells, neutral and running builds, revisions from
properties, from changes or none, and ``seen`` sets, so every evidence kind shows up.
"""

from __future__ import annotations

from bbwatch.logs.parsed import BuildTests
from bbwatch.models import Build, Change, Result
from bbwatch.triage import history
from bbwatch.triage.history import HistoryIndex
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import build

FILES = ("test_a", "test_b")
REVISIONS = tuple(c * 40 for c in "abcdef")
# Buildbot's codes, a running build (None) and a code the models do not know
RESULTS = (0, 0, 1, 2, 2, 3, 4, 5, 6, None, 99)

files = st.frozensets(st.sampled_from(FILES))
# a test step's verdict: missing from ``tests``, did not run, or ran with failed/flaky/seen
cell = st.one_of(
    st.just(None),
    st.builds(BuildTests, ran=st.just(False)),
    st.builds(BuildTests, ran=st.just(True), failed=files, flaky=files, seen=files),
    # passing builds, weighted up so isolated failures (pass, fail, pass) are common
    st.builds(BuildTests, ran=st.just(True), seen=files),
    st.builds(BuildTests, ran=st.just(True), seen=files),
)
# where a build's revision comes from: got_revision, revision property, a change, or nowhere
source = st.sampled_from(("got_revision", "revision", "change", "change", "none"))


@st.composite
def fleets(draw) -> tuple[dict[int, list[Build]], dict[int, BuildTests]]:
    builderids = draw(st.permutations([7, 3, 11, 5, 1]))[: draw(st.integers(1, 5))]
    hist: dict[int, list[Build]] = {}
    tests: dict[int, BuildTests] = {}
    buildid = 100
    for builderid in builderids:
        builds = []
        for number in range(1, draw(st.integers(0, 12)) + 1):
            buildid += 1
            result = draw(st.sampled_from(RESULTS))
            # builders mostly follow one shared sequence of revisions, sometimes rebuild or skip
            where = draw(source)
            rev = REVISIONS[draw(st.just(number) | st.integers(0, len(REVISIONS) - 1))
                            % len(REVISIONS)]
            build = Build(
                buildid=buildid,
                builderid=builderid,
                number=number,
                results=result,
                complete=result is not None and draw(st.booleans() | st.just(True)),
                properties={where: rev} if where in ("got_revision", "revision") else {},
                changes=[Change(buildid, rev if where == "change" else None, "dev", "c")],
            )
            builds.append(build)
            found = draw(cell)
            if found is not None:
                tests[buildid] = found
        hist[builderid] = builds[::-1]  # newest first, as the client returns them
    return hist, tests


def _same(got, want) -> None:
    assert got == want
    # the very same Build objects, not equal copies
    assert [id(e.build) for e in got[0]] == [id(e.build) for e in want[0]]


@settings(max_examples=200, deadline=None, database=None)
@given(fleets())
def test_index_flakiness_equals_the_reference_on_random_fleets(fleet):
    hist, tests = fleet
    index = HistoryIndex(hist, tests)
    for test_file in (*FILES, "test_never_seen"):
        _same(index.flakiness(test_file), history.flakiness(hist, tests, test_file))


def _builds(builderid: int, cells: list[tuple[str, str]]) -> list[Build]:
    """Completed SUCCESS/FAILURE builds oldest first from (status, revision); newest first."""
    return [
        build(builderid * 100 + n, builderid, n, 2 if status == "fail" else 0, revision=rev)
        for n, (status, rev) in enumerate(cells, start=1)
    ][::-1]


def test_index_finds_every_evidence_kind_like_the_reference():
    # builder 1: isolated failure on r2 (r2 passed on builder 2, which runs the test),
    # a rebuild of r4 that passed, a re-run flake, and enough flips to count
    b1 = _builds(1, [("pass", "r1"), ("fail", "r2"), ("pass", "r3"), ("fail", "r4"),
                     ("pass", "r4"), ("flaky", "r5"), ("pass", "r6")])
    b2 = _builds(2, [("pass", "r1"), ("pass", "r2"), ("pass", "r3")])
    b3 = _builds(3, [("fail", "r2"), ("fail", "r3"), ("fail", "r4")])  # breakage: no evidence
    tests = {}
    for b in [*b1, *b2, *b3]:
        status = {1: dict(enumerate(["pass", "fail", "pass", "fail", "pass", "flaky", "pass"],
                                    start=1)),
                  2: {}, 3: {1: "fail", 2: "fail", 3: "fail"}}[b.builderid].get(b.number, "pass")
        tests[b.buildid] = BuildTests(
            True,
            failed=frozenset({"test_x"}) if status == "fail" else frozenset(),
            flaky=frozenset({"test_x"}) if status == "flaky" else frozenset(),
            seen=frozenset({"test_x"}) if b.builderid == 2 and b.number == 1 else frozenset(),
        )
    hist = {3: b3, 1: b1, 2: b2}
    want = history.flakiness(hist, tests, "test_x")
    assert sorted({e.kind for e in want[0]}) == ["flips", "rerun", "same-revision"]
    assert [s.builderid for s in want[1]] == [3, 1, 2]
    _same(HistoryIndex(hist, tests).flakiness("test_x"), want)


def test_a_revision_failing_on_every_builder_is_not_passed_elsewhere():
    # both builders run test_x and fail it, isolated, on r2 only: nobody passed r2, no flake;
    # a third builder that passed r2 without ever showing test_x running proves nothing either
    b1 = _builds(1, [("pass", "r1"), ("fail", "r2"), ("pass", "r3")])
    b2 = _builds(2, [("pass", "r1"), ("fail", "r2"), ("pass", "r3")])
    b3 = _builds(3, [("pass", "r2")])
    seen = frozenset({"test_x"})
    tests = {b.buildid: BuildTests(True, seen=seen if b.builderid != 3 else frozenset())
             for b in [*b1, *b2, *b3]}
    for b in (b1[1], b2[1]):
        tests[b.buildid] = BuildTests(True, failed=seen, seen=seen)
    hist = {1: b1, 2: b2, 3: b3}
    want = history.flakiness(hist, tests, "test_x")
    assert want[0] == []
    _same(HistoryIndex(hist, tests).flakiness("test_x"), want)
    # once builder 3's log shows test_x running, its pass on r2 makes both failures flaky
    tests[b3[0].buildid] = BuildTests(True, seen=seen)
    want = history.flakiness(hist, tests, "test_x")
    assert [(e.builderid, e.kind) for e in want[0]] == [(1, "same-revision"), (2, "same-revision")]
    _same(HistoryIndex(hist, tests).flakiness("test_x"), want)


def test_is_bad_and_is_good_from_codes_agree_with_the_result_enum():
    # history reads raw result codes instead of building a Result per build
    for code in (*range(7), 99, None):
        for complete in (True, False):
            build = Build(1, 1, 1, code, complete)
            result = build.result if complete else None
            assert history.is_bad(build) == bool(result is not None and result.is_bad)
            assert history.is_good(build) == (result == Result.SUCCESS)


def test_same_revision_evidence_follows_revisions_in_first_seen_order_not_builders():
    # builder 1 fails r3 alone, builder 2 fails r2 alone; both run test_x and pass elsewhere.
    # The reference lists same-revision evidence revision by revision (r2 before r3).
    b1 = _builds(1, [("pass", "r1"), ("pass", "r2"), ("fail", "r3"), ("pass", "r4")])
    b2 = _builds(2, [("pass", "r1"), ("fail", "r2"), ("pass", "r3")])
    seen = frozenset({"test_x"})
    tests = {b.buildid: BuildTests(True, seen=seen) for b in [*b1, *b2]}
    for b in (b1[1], b2[1]):  # newest first: b1's r3 and b2's r2
        tests[b.buildid] = BuildTests(True, failed=seen, seen=seen)
    hist = {1: b1, 2: b2}
    want = history.flakiness(hist, tests, "test_x")
    assert [(e.builderid, e.build.properties["got_revision"]) for e in want[0]] == [
        (2, "r2"), (1, "r3")]
    _same(HistoryIndex(hist, tests).flakiness("test_x"), want)
