"""The known-issues registry: loading, validation errors with lines, rule matching, the page."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from bbwatch.domain import Failure
from bbwatch.errors import RegistryError
from bbwatch.triage.registry import KnownIssue, load_registry, parse_registry
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import REPO

DEMO_REGISTRY = REPO / "ext" / "bbwatch_fleet" / "demo-known-issues.toml"
DEMO_ISSUES = REPO / "ext" / "bbwatch_fleet" / "demo-issues.json"

GOOD = """\
repo = "python/cpython"

[[issue]]
number = 101
title = "test_os: FileTests.test_foo fails"
kind = "failing"
tests = ["test_os.FileTests.test_foo"]
added = 2026-11-20

[[issue]]
number = 102
url = "https://example.org/102"
title = "test_asyncio is flaky on ARM"
kind = "flaky"
tests = ["test_asyncio.*", "test_asyncio"]
message = "Timeout|timed out"
builders = "(?i)arm"
branches = ["3.x"]
added = "2026-11-21"
notes = "  slow workers  "
evidence = "https://buildbot.python.org/#/builders/1/builds/2"
"""


def test_loads_every_field():
    registry = parse_registry(GOOD, "known.toml")
    first, second = registry.issues
    assert first == KnownIssue(
        101, "https://github.com/python/cpython/issues/101", "test_os: FileTests.test_foo fails",
        "failing", ("test_os.FileTests.test_foo",), added=dt.date(2026, 11, 20), line=3,
    )
    assert (second.url, second.message, second.builders, second.branches, second.added,
            second.notes, second.evidence, second.line) == (
        "https://example.org/102", "Timeout|timed out", "(?i)arm", ("3.x",),
        dt.date(2026, 11, 21), "slow workers", "https://buildbot.python.org/#/builders/1/builds/2",
        10)


def _entry_with(extra: str, number: int = 7) -> str:
    return (f'[[issue]]\nnumber = {number}\ntitle = "t"\nkind = "flaky"\ntests = ["test_x"]\n'
            f"added = 2026-01-02\n{extra}\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # unknown key: the line of the key itself
        (_entry_with("") + _entry_with('tset = ["x"]', 8),
         r"^reg\.toml:14: entry 2 \(#8\): unknown key 'tset'"),
        (_entry_with('message = "(unclosed"'),
         r"^reg\.toml:7: entry 1 \(#7\): 'message' is not a valid regular expression"),
        (_entry_with('builders = "[a-"'),
         r"^reg\.toml:7: entry 1 \(#7\): 'builders' is not a valid regular expression"),
        (_entry_with("") + "\n" + _entry_with("", 7),
         r"^reg\.toml:9: entry 2 \(#7\): duplicate issue number \(already in the entry at "
         r"line 1\)"),
        (_entry_with("").replace('"flaky"', '"flakey"'),
         r"^reg\.toml:4: entry 1 \(#7\): 'kind' must be one of flaky, failing, infra, "
         r"got 'flakey'"),
        (_entry_with("").replace("2026-01-02", '"yesterday"'),
         r"^reg\.toml:6: entry 1 \(#7\): 'added' must be a date"),
        (_entry_with("").replace("2026-01-02", "2026-01-02T10:00:00"),
         r"^reg\.toml:6: entry 1 \(#7\): 'added' must be a date"),
        (_entry_with("").replace('tests = ["test_x"]', "tests = []"),
         r"^reg\.toml:5: entry 1 \(#7\): 'tests' must be a non-empty list"),
        (_entry_with("").replace('title = "t"\n', ""),
         r"^reg\.toml:1: entry 1 \(#7\): missing required key 'title'"),
        (_entry_with("").replace("number = 7", 'number = "7"'),
         r"^reg\.toml:2: entry 1: 'number' must be a positive integer"),
        (_entry_with('url = "javascript:alert(1)"'),
         r"^reg\.toml:7: entry 1 \(#7\): 'url' must be an http\(s\) URL"),
        (_entry_with('evidence = "javascript:alert(1)"'),
         r"^reg\.toml:7: entry 1 \(#7\): 'evidence' must be an http\(s\) URL"),
        (_entry_with('evidence = ["https://x"]'),
         r"^reg\.toml:7: entry 1 \(#7\): 'evidence' must be an http\(s\) URL"),
        (_entry_with('evidense = "https://x"'),
         r"^reg\.toml:7: entry 1 \(#7\): unknown key 'evidense' \(allowed: .*evidence"),
        ('colour = "red"\n' + _entry_with(""),
         r"^reg\.toml:1: unknown top-level key 'colour'"),
        ('[[issue]\nnumber = 1\n', r"^reg\.toml: invalid TOML: .*line 1"),
        ("issue = 3\n", r"^reg\.toml: 'issue' must be an array of tables"),
    ],
)
def test_validation_errors_name_file_entry_and_line(text, expected):
    with pytest.raises(RegistryError) as info:
        parse_registry(text, "reg.toml")
    message = str(info.value)
    assert re.search(expected, message), message
    assert "\n" not in message


def test_missing_file(tmp_path: Path):
    with pytest.raises(RegistryError, match="registry file not found"):
        load_registry(tmp_path / "none.toml")


@pytest.mark.parametrize(
    ("failure", "numbers"),
    [
        (Failure("test_os", "test.test_os.FileTests.test_foo"), [101]),
        (Failure("test_os", "test_os.FileTests.test_foo"), [101]),  # a suite without test.
        (Failure("test_os", "test.test_os.FileTests.test_bar"), []),
        (Failure("test_os", None, message="crashed"), []),
        # glob + file, message regex, builder regex, branch
        (Failure("test_asyncio", "test.test_asyncio.test_events.T.test_a",
                 "ARM64 Windows 3.x", "3.x", "Timeout (0:20:00)!", "timed_out"), [102]),
        (Failure("test_asyncio", None, "ARM64 Windows 3.x", "3.x", "Timeout (0:20:00)!"), [102]),
        (Failure("test_asyncio", None, "AMD64 Windows 3.x", "3.x", "Timeout (0:20:00)!"), []),
        (Failure("test_asyncio", None, "ARM64 Windows 3.14", "3.14", "Timeout (0:20:00)!"), []),
        (Failure("test_asyncio", None, "ARM64 Windows 3.x", "3.x", "AssertionError"), []),
        (Failure("test_asyncio", None, "ARM64 Windows 3.x", "3.x", None), []),
        # unknown builder/branch (a local log): the rule is not excluded
        (Failure("test_asyncio", None, None, None, "test_asyncio timed out"), [102]),
    ],
)
def test_rules_match_failures(failure, numbers):
    registry = parse_registry(GOOD, "known.toml")
    assert [k.number for k in registry.match(failure)] == numbers


def test_a_bare_method_name_is_not_a_test_file_pattern():
    known = KnownIssue(1, "https://x", "t", "failing", ("test_os",))
    assert known.covers_test("test_os", None)
    assert not known.covers_test("test_posix", "test.test_posix.PosixTests.test_os")


def test_demo_registry_is_valid_and_aligned_with_the_fleet():
    from bbwatch_fleet import scenarios

    registry = load_registry(DEMO_REGISTRY)
    assert {k.kind for k in registry.issues} == {"flaky", "failing"}
    by_kind = {s.kind: s for s in scenarios.SCENARIOS}

    def failure(kind: str, message: str, failure_kind: str = "failed") -> Failure:
        s = by_kind[kind]
        branch = scenarios.BRANCH_TAGS[scenarios.BUILDERS_BY_NAME[s.builder].branch]
        return Failure(s.test_file, s.test_id, s.builder, branch, message, failure_kind)

    flaky = failure("flaky", "AssertionError: first run fails: lost a race with the event loop")
    assert [k.kind for k in registry.match(flaky)] == ["flaky"]
    refleak = failure("refleak", "test_bbw_cache leaked [1, 1, 1] references, sum=3", "leaked")
    assert [k.kind for k in registry.match(refleak)] == ["failing"]
    timeout = failure("timeout", "Timeout (0:00:05)!", "timed_out")
    assert [k.kind for k in registry.match(timeout)] == ["failing"]
    still_red = scenarios.STILL_RED
    for builder in still_red.builders:
        f = Failure("test_bbw_os", still_red.test_ids[0], builder, "3.x",
                    "AssertionError: Lists differ: ['mode', 'mtime_ns', 'size'] != [...]")
        assert [k.kind for k in registry.match(f)] == ["failing"], builder
    # the crash and the env change stay unregistered, so the pages show "new" failures
    assert registry.match(failure("crash", "Fatal Python error: Aborted", "crashed")) == []
    assert registry.match(failure("env_changed", "os.environ was modified", "env_changed")) == []


# -- production and demo registries: what each may hold -------------------------------------
PRODUCTION = REPO / "docs" / "data" / "known-issues.toml"
# anywhere in the file (what ../shared/hooks/before-stop greps for, and the demo tracker)
DEMO_MARKERS = re.compile(r"test_bbw_|illustrative|local fleet|bbwatch-demo", re.IGNORECASE)
# in the entries (the header comment may say where the demo registry is)
DEMO_WORD = re.compile(r"\bdemo\b", re.IGNORECASE)


def _production_markers(text: str) -> list[str]:
    """The demo markers found in a production registry's text."""
    entries = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return ([m.group() for m in DEMO_MARKERS.finditer(text)]
            + [m.group() for m in DEMO_WORD.finditer(entries)])


def test_production_registry_holds_no_demo_entries():
    text = PRODUCTION.read_text(encoding="utf-8")
    assert _production_markers(text) == []
    registry = load_registry(PRODUCTION)
    demo = {k.number for k in load_registry(DEMO_REGISTRY).issues}
    assert not demo & {k.number for k in registry.issues}
    assert registry.repo == "python/cpython"
    for known in registry.issues:  # real, checkable entries only (the registry may be empty)
        assert known.url == f"https://github.com/python/cpython/issues/{known.number}", known
        assert known.evidence, f"#{known.number} has no evidence link"
        assert not known.tests == ("test_*",), f"#{known.number} covers every test"


def test_the_production_marker_check_can_fail():
    demo_text = DEMO_REGISTRY.read_text(encoding="utf-8")
    assert _production_markers(demo_text)
    # what the registry held before: a demo entry and an "illustrative" one
    for line in ('title = "test_bbw_os: DescribeTests.test_describe_keys fails"',
                 'notes = """Illustrative. Any test can fail this way"""',
                 'notes = "Local fleet. lookup() stores every call"',
                 'notes = "Demo: a made-up number"',
                 'url = "https://bbwatch-demo.invalid/issues/130201"'):
        assert _production_markers(PRODUCTION.read_text(encoding="utf-8") + line + "\n")


def test_demo_registry_is_marked_and_links_nowhere_real():
    text = DEMO_REGISTRY.read_text(encoding="utf-8")
    header = text.split("[[issue]]", 1)[0]
    assert "DEMO registry" in header and "demo numbers" in header.lower()
    registry = load_registry(DEMO_REGISTRY)
    assert registry.issues
    for known in registry.issues:
        assert known.url == f"https://bbwatch-demo.invalid/issues/{known.number}", known
        assert known.notes.startswith("Demo (local fleet)"), known
        assert "github.com" not in known.url
    issues = json.loads(DEMO_ISSUES.read_text(encoding="utf-8"))
    assert {k.number for k in registry.issues} <= {i["number"] for i in issues}
    assert all(i["url"] == f"https://bbwatch-demo.invalid/issues/{i['number']}"
               for i in issues)


def test_no_demo_data_under_docs():
    data = REPO / "docs" / "data"
    for path in data.rglob("*"):
        if path.is_file() and path != PRODUCTION:
            text = path.read_text(encoding="utf-8", errors="replace")
            assert "test_bbw_" not in text and "bbwatch-demo" not in text, path


# the demo file, whose entries are the realistic ones to mutate
SHIPPED = DEMO_REGISTRY.read_text()


@settings(max_examples=150, deadline=None)
@given(st.one_of(
    st.text(max_size=300),
    # the shipped file with one line dropped or replaced: the realistic editing mistakes
    st.tuples(st.integers(0, SHIPPED.count("\n")), st.text(max_size=40)).map(
        lambda t: "\n".join(line if i != t[0] else t[1]
                            for i, line in enumerate(SHIPPED.splitlines()))),
))
def test_any_text_loads_or_gives_a_one_line_registry_error(text):
    try:
        registry = parse_registry(text, "known.toml")
    except RegistryError as exc:
        assert str(exc).startswith("known.toml") and "\n" not in str(exc)
    else:
        for known in registry.issues:
            assert known.kind in ("flaky", "failing", "infra") and known.tests


# -- the handbook page ---------------------------------------------------------------------
@pytest.fixture
def built(app):
    app.build()
    return app


page = pytest.mark.sphinx("html", testroot="registry", freshenv=True)


@page
def test_page_renders_every_entry_escaped(built):
    html = (built.outdir / "index.html").read_text()
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>debian" not in html
    assert "fails &lt;script&gt;alert('x')&lt;/script&gt; &amp; more" in html  # no smartquotes
    assert "See &lt;img src=x onerror=alert(1)&gt; &amp; ask the owner." in html
    assert 'href="https://github.com/python/cpython/issues/4242"' in html
    assert 'href="https://tracker.example/issues/17?a=1&amp;b=2"' in html
    # the evidence link, escaped like every other string from the file
    assert ('<a class="reference external" href="https://buildbot.python.org/#/builders/345/'
            'builds/8123?a=1&amp;b=&lt;2&gt;">evidence</a>') in html
    assert html.count(">evidence</a>") == 1  # only the entry that has one
    assert 'id="known-issue-4242"' in html
    assert "3 reviewed entries (1 flaky, 1 failing, 1 infra)" in html
    assert "branches 3.x, 3.14" in html and "all branches" in html
    assert "2026-11-22" in html


@page
def test_kind_option_filters(built):
    html = (built.outdir / "index.html").read_text()
    assert "1 reviewed entries (1 flaky, 0 failing, 0 infra)" in html


@page
def test_broken_registry_is_a_warning_naming_file_and_line(built):
    warnings = built.warning.getvalue()
    assert re.search(r"broken\.toml:13: entry 2 \(#2\): 'message' is not a valid regular "
                     r"expression.*\[bbwatch\.data\]", warnings), warnings
    assert "index" not in warnings.split("broken.rst")[0]  # the good page warns about nothing
    assert re.search(r"badkind\.rst:\d+: ERROR: .*expected kinds among flaky, failing, "
                     r"infra, got 'flakey'", warnings, re.S), warnings
    html = (built.outdir / "broken.html").read_text()
    assert "The known issues registry cannot be shown" in html
    assert "Traceback" not in html
