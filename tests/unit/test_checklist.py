"""Checklist data: the shipped files are valid; bad files fail with the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest
from bbwatch.checklist import (
    PLACEHOLDERS,
    ChecklistError,
    load_checklist,
    load_checklists,
    placeholders,
)

REQUIRED = ("triage", "new-issue", "analysis", "infrastructure", "first-week")

GOOD = """\
id: demo
title: Demo
steps:
  - id: one
    title: First
    body: |
      Open [the build]({build_url}) of {builder}.
  - id: two
    title: Second
    body: |
      Look at `{test_id}`:

      ```text
      {excerpt}
      ```
"""


def write(tmp_path: Path, text: str, name: str = "demo.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_checklists_are_valid_and_complete():
    checklists = load_checklists()
    assert set(REQUIRED) <= set(checklists)
    triage = checklists["triage"]
    # The watcher's procedure, in its order.
    assert [s.id for s in triage.steps] == [
        "read-log", "search-method", "search-file", "search-text", "file-or-comment", "reply",
    ]
    for checklist in checklists.values():
        assert checklist.steps and all(s.title and s.body for s in checklist.steps)


def test_good_file_loads(tmp_path):
    checklist = load_checklist(write(tmp_path, GOOD))
    assert checklist.id == "demo"
    assert [s.id for s in checklist.steps] == ["one", "two"]
    assert checklist.steps[0].line == 4
    names = [m.group(1) for m in placeholders(checklist.steps[1].body)]
    assert names == ["test_id", "excerpt"]


def test_roles_and_directives_are_not_placeholders():
    text = "See {doc}`x` and\n```{note}\nhi\n```\n:::{tip}\n:::\n{builder} `{test_id}` {{ sub }}"
    assert [m.group(1) for m in placeholders(text)] == ["builder", "test_id"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (GOOD.replace("  - id: two", "  - id: one"), 8, "duplicate step id 'one'"),
        (GOOD.replace("{builder}", "{bulider}"), 7, "unknown placeholder {bulider}"),
        (GOOD.replace("`{test_id}`", "`{nope}`"), 11, "unknown placeholder {nope}"),
        (GOOD.replace("    title: Second\n", "    title: Second\n    colour: red\n"), 10,
         "unknown step key 'colour'"),
        (GOOD.replace("title: Demo\n", "title: Demo\nauthor: me\n"), 3,
         "unknown checklist key 'author'"),
        (GOOD.replace("title: Demo\n", ""), 1, "checklist is missing 'title'"),
        (GOOD.replace("  - id: two\n", "  - \n"), 9, "is missing 'id'"),
        (GOOD.replace("    title: First\n", ""), 4, "is missing 'title'"),
        (GOOD.replace("id: demo", "id: other"), 1, "must match the file name"),
        (GOOD.replace("({build_url})", "({builder})"), 7, "is text, not a URL"),
        (GOOD.replace("[the build]({build_url})", "{build_url}"), 7, "is a URL"),
        (GOOD.replace("      {excerpt}", "      see {excerpt}"), 14, "must stand alone"),
        (GOOD.replace("    title: First\n", "    title: First\n    attach: magic\n"), 6,
         "unknown attach 'magic'"),
        (GOOD.replace("    title: Second", "    title: [a, b]"), 9, "must be a non-empty string"),
        (GOOD.replace("steps:\n", "steps: [\n"), 4, "invalid YAML"),
        ("- just\n- a list\n", 1, "must be a mapping"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(ChecklistError) as info:
        load_checklist(path)
    assert info.value.line == line, str(info.value)
    assert message in info.value.message
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_every_placeholder_used_by_shipped_data_is_known():
    for checklist in load_checklists().values():
        for step in checklist.steps:
            for match in placeholders(step.body + step.title):
                assert match.group(1) in PLACEHOLDERS


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ChecklistError, match="not found"):
        load_checklists(tmp_path / "nope")
