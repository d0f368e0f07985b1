"""Issue 16 point 3 in every output of `bbwatch triage` (text, markdown, json, html): the
reproduce command from the build's own command line, one section and one suggested issue per
failing test file (not per method), and the comment's quoted Markdown inside a longer fence."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from bbwatch.commands.triage import render
from bbwatch.triage.analysis import analyse
from bbwatch.triage.analysis_context import context_for_build
from bbwatch.triage.checklist import load_checklists
from bbwatch.triage.fill import fill, merge_by_file
from markdown_it import MarkdownIt

from tests.factories import FAIL, NOW, OK, add_builder, make_fleet

FORMATS = ("text", "markdown", "json", "html")
# what the FAIL log's head says: + .../python3.13 ... -m test ... --timeout=5 -j2 --randseed=42
REPRODUCE = ("./python -m test test_bb_fail -m test_error -m test_assert --randseed=42 "
             "--timeout=5 -v")


@pytest.fixture(scope="module")
def checklists():
    return load_checklists()


@pytest.fixture(scope="module")
def context():
    fleet = make_fleet()
    add_builder(fleet, 1, "AMD64 Debian 3.x", [OK, FAIL])
    ctx = context_for_build(analyse(fleet, now=NOW), 1, 2)
    assert ctx is not None
    return ctx


def split_per_method(ctx):
    """The same build as a caller may hand it in: one failure per failing method."""
    out = []
    for f in ctx.failures:
        out += [dataclasses.replace(f, test_ids=(t,)) for t in f.test_ids] or [f]
    return dataclasses.replace(ctx, failures=out)


def test_the_context_carries_the_builds_command_line(context):
    assert "--timeout=5" in context.test_command and "-j2" in context.test_command
    assert context.seed == "42"


def test_one_failure_per_test_file(context, checklists):
    split = split_per_method(context)
    assert [f.test_file for f in split.failures].count("test_bb_fail") == 2
    merged = merge_by_file(split.failures)
    assert [f.test_file for f in merged].count("test_bb_fail") == 1
    fail = next(f for f in merged if f.test_file == "test_bb_fail")
    assert fail.test_ids == ("test_bb_fail.FailTests.test_error",
                             "test_bb_fail.FailTests.test_assert")
    triage = fill(split, checklists)
    names = [f.failure.test_file for f in triage.failures]
    assert len(names) == len(set(names)) == 7  # six failing, one flaky
    filled = next(f for f in triage.failures if f.failure.test_file == "test_bb_fail")
    # one suggested issue for the file, naming the methods' class, not one of the methods
    assert filled.suggested_title.startswith("test_bb_fail: ")
    assert "test_error" not in filled.suggested_title
    assert "test_assert" not in filled.suggested_title
    assert filled.heading == "test_bb_fail (2 tests)"


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_has_one_section_per_file_and_the_reproduce_command(context, checklists,
                                                                         fmt):
    out = render(fill(split_per_method(context), checklists), checklists, fmt)
    if fmt == "json":
        data = json.loads(out)
        fails = [f for f in data["failures"] if f["test_file"] == "test_bb_fail"]
        assert len(fails) == 1
        assert fails[0]["reproduce"]["command"] == REPRODUCE
        assert any("-j2" in n for n in fails[0]["reproduce"]["notes"])
        assert fails[0]["test_ids"] == ["test_bb_fail.FailTests.test_error",
                                        "test_bb_fail.FailTests.test_assert"]
        return
    if fmt == "html":
        text = re.sub(r"<[^>]+>", "", out).replace("&#39;", "'").replace("&quot;", '"')
    else:
        text = out
    assert REPRODUCE in text
    if fmt == "text":
        assert text.count("== test_bb_fail") == 1
        assert "failing tests: test_bb_fail.FailTests.test_error, test_bb_fail.FailTests." \
               "test_assert" in text
    if fmt == "markdown":
        assert text.count("## `test_bb_fail (2 tests)`") == 1
        assert text.count("## `test_bb_fail") == 1
    if fmt == "html":  # one reproduce command per failing file
        assert "Reproduce locally" in text and text.count(REPRODUCE) == 1
        assert text.count("./python -m test test_bb_") == 7 + 1  # + the analysis part's


def _fences(text: str) -> list[tuple[int, str]]:
    return [(len(m[1]), m[2]) for m in re.finditer(r"^ *(`{3,})(\w*)$", text, flags=re.M)]


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_quoted_markdown_gets_a_longer_fence(context, checklists, fmt):
    out = render(fill(context, checklists), checklists, fmt)
    fences = _fences(out)
    outer = [n for n, info in fences if info == "markdown"]
    inner = [n for n, info in fences if info == "text"]
    assert outer and inner and min(outer) > max(inner)
    if fmt == "markdown":  # a CommonMark reader sees the whole comment inside one block
        blocks = [t for t in MarkdownIt("commonmark").parse(out)
                  if t.type == "fence" and t.info == "markdown"]
        assert blocks and all("```text" in b.content and b.content.rstrip().endswith("```")
                              for b in blocks)
        assert all("New failure on AMD64 Debian 3.x" in b.content for b in blocks)


def test_json_steps_text_nests_fences_too(context, checklists):
    data = json.loads(render(fill(context, checklists), checklists, "json"))
    step = next(s for s in data["failures"][0]["steps"] if "````markdown" in s["text"])
    assert "```text" in step["text"]
