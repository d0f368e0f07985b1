"""Checklists as data: load ``checklists/*.yaml`` and validate them against one schema.

Every error names the file and the line (from PyYAML's node marks), e.g.
``checklists/triage.yaml:14: step 'search-file': unknown placeholder {test_flie}``.

A checklist file::

    id: triage                  # must equal the file name
    title: Triage a failing build
    description: |              # optional, MyST
      ...
    steps:
      - id: read-log            # unique in the file, lower-case words and dashes
        title: Read the test log
        body: |                 # MyST; {placeholders} are filled per failure
          Open the [test log]({log_url}) of {builder}.
        attach: search-method   # optional: what the filler shows beside this step

Placeholders have a kind that fixes where they may appear, so the filler can escape each value
for its context: ``text`` values in prose or code spans, ``url`` values only as link targets,
``block`` values only alone on a line inside a fenced block.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from bbwatch.errors import ChecklistError

# name -> kind. The filler (bbwatch.triage.fill) provides a value for every one of these.
PLACEHOLDERS: dict[str, str] = {
    # text
    "builder": "text",
    "branch": "text",
    "revision": "text",
    "result": "text",
    "worker": "text",
    "owner": "text",
    "build_number": "text",
    "test_file": "text",
    "test_class": "text",
    "test_method": "text",
    "test_id": "text",
    "test_ids": "text",
    "failure_kind": "text",
    "failure_line": "text",
    "suggested_title": "text",
    "labels": "text",
    "first_failing": "text",
    "last_good": "text",
    "seed": "text",
    "repo": "text",
    # url
    "build_url": "url",
    "builder_url": "url",
    "log_url": "url",
    "changes_url": "url",
    "first_failing_url": "url",
    "last_good_url": "url",
    "issue_url": "url",
    "new_issue_url": "url",
    "search_method_url": "url",
    "search_file_url": "url",
    "search_text_url": "url",
    "tracker_url": "url",
    # block
    "excerpt": "block",
    "issue_body": "block",
    "comment_text": "block",
    "reply_text": "block",
    "reproduce_command": "block",
}

# What a step may ask the filler to show beside it.
ATTACHMENTS = ("search-method", "search-file", "search-text", "candidates", "suspects")

CHECKLIST_KEYS = {"id": True, "title": True, "description": False, "steps": True}
STEP_KEYS = {"id": True, "title": True, "body": True, "attach": False}

PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    body: str
    attach: tuple[str, ...] = ()
    line: int = 0


@dataclass(frozen=True)
class Checklist:
    id: str
    title: str
    steps: tuple[Step, ...]
    description: str = ""
    path: str = ""

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)


def default_dir() -> Path:
    """The checklists shipped with the package (``bbwatch/triage/checklists/``).

    In the repository that folder is a symlink to ``checklists/`` at its root, the one editable
    copy (the handbook links to it); building the wheel follows the link and packs the files.
    """
    return Path(__file__).with_name("checklists")


def placeholders(text: str) -> Iterator[re.Match[str]]:
    """``{name}`` occurrences, skipping MyST syntax that also uses braces: roles
    (``{doc}`x```), directive fences (```` ```{note} ````, ``:::{note}``) and ``{{ subs }}``."""
    for match in PLACEHOLDER_RE.finditer(text):
        start, end = match.start(), match.end()
        before = text[start - 1] if start else ""
        after = text[end] if end < len(text) else ""
        if before == ":" or before == "{" or before.isalnum() or after == "}":
            continue
        if text[max(0, start - 2):start] == "``":
            continue  # ```{note}
        if after == "`" and before != "`":
            continue  # {role}`text`
        yield match


def load_checklists(directory: str | Path | None = None) -> dict[str, Checklist]:
    """Every ``*.yaml`` in ``directory`` (default: the shipped ones, ``default_dir()``), by id."""
    folder = Path(directory) if directory else default_dir()
    if not folder.is_dir():
        raise ChecklistError(folder, 0, "checklist folder not found")
    return {c.id: c for c in (load_checklist(p) for p in sorted(folder.glob("*.yaml")))}


def load_checklist(path: str | Path) -> Checklist:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ChecklistError(path, 0, f"cannot read: {exc}") from None
    return parse_checklist(text, path)


def parse_checklist(text: str, path: str | Path = "<string>") -> Checklist:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise ChecklistError(path, line, f"invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ChecklistError(path, 0, f"invalid YAML: {exc}") from None
    if not isinstance(root, yaml.MappingNode):
        raise ChecklistError(path, _line(root), "a checklist must be a mapping (id, title, steps)")
    fields = _mapping(root, CHECKLIST_KEYS, "checklist", path)
    checklist_id = _string(fields["id"], "id", path)
    if not _ID_RE.match(checklist_id):
        raise ChecklistError(path, _line(fields["id"]), f"invalid id {checklist_id!r}")
    stem = Path(str(path)).stem
    if str(path) != "<string>" and checklist_id != stem:
        raise ChecklistError(
            path, _line(fields["id"]), f"id {checklist_id!r} must match the file name {stem!r}"
        )
    title = _string(fields["title"], "title", path)
    _check_placeholders(title, fields["title"], "title", path)
    description = ""
    if "description" in fields:
        description = _string(fields["description"], "description", path)
        _check_placeholders(description, fields["description"], "description", path)
    steps_node = fields["steps"]
    if not isinstance(steps_node, yaml.SequenceNode) or not steps_node.value:
        raise ChecklistError(path, _line(steps_node), "steps must be a non-empty list")
    steps: list[Step] = []
    seen: dict[str, int] = {}
    for item in steps_node.value:
        step = _step(item, path)
        if step.id in seen:
            raise ChecklistError(
                path, step.line, f"duplicate step id {step.id!r} (first on line {seen[step.id]})"
            )
        seen[step.id] = step.line
        steps.append(step)
    return Checklist(checklist_id, title, tuple(steps), description, str(path))


def _step(node: yaml.Node, path: str | Path) -> Step:
    if not isinstance(node, yaml.MappingNode):
        raise ChecklistError(path, _line(node), "each step must be a mapping with id, title, body")
    fields = _mapping(node, STEP_KEYS, "step", path)
    step_id = _string(fields["id"], "step id", path)
    if not _ID_RE.match(step_id):
        raise ChecklistError(path, _line(fields["id"]), f"invalid step id {step_id!r}")
    what = f"step {step_id!r}"
    title = _string(fields["title"], f"{what} title", path)
    body = _string(fields["body"], f"{what} body", path)
    _check_placeholders(title, fields["title"], f"{what} title", path, allow_block=False)
    _check_placeholders(body, fields["body"], what, path)
    attach: tuple[str, ...] = ()
    if "attach" in fields:
        attach = _attach(fields["attach"], what, path)
    return Step(step_id, title, body, attach, _line(node))


def _attach(node: yaml.Node, what: str, path: str | Path) -> tuple[str, ...]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    values = []
    for item in items:
        value = _string(item, f"{what} attach", path)
        if value not in ATTACHMENTS:
            raise ChecklistError(
                path, _line(item),
                f"{what}: unknown attach {value!r} (expected one of {', '.join(ATTACHMENTS)})",
            )
        values.append(value)
    return tuple(values)


def _mapping(
    node: yaml.MappingNode, schema: dict[str, bool], what: str, path: str | Path
) -> dict[str, yaml.Node]:
    fields: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key not in schema:
            raise ChecklistError(
                path, _line(key_node),
                f"unknown {what} key {key!r} (expected {', '.join(schema)})",
            )
        if key in fields:
            raise ChecklistError(path, _line(key_node), f"duplicate {what} key {key!r}")
        fields[key] = value_node
    for key, required in schema.items():
        if required and key not in fields:
            raise ChecklistError(path, _line(node), f"{what} is missing {key!r}")
    return fields


def _string(node: yaml.Node, what: str, path: str | Path) -> str:
    if not isinstance(node, yaml.ScalarNode) or node.tag != _STR_TAG or not node.value.strip():
        raise ChecklistError(path, _line(node), f"{what} must be a non-empty string")
    return node.value


def _check_placeholders(
    text: str, node: yaml.Node, what: str, path: str | Path, allow_block: bool = True
) -> None:
    lines = text.split("\n")
    for match in placeholders(text):
        name = match.group(1)
        line_no = text.count("\n", 0, match.start())
        line = _line(node, line_no)
        kind = PLACEHOLDERS.get(name)
        if kind is None:
            raise ChecklistError(path, line, f"{what}: unknown placeholder {{{name}}}")
        source_line = lines[line_no]
        col = match.start() - (text.rfind("\n", 0, match.start()) + 1)
        before = source_line[:col]
        in_link = before.endswith(("](", "](<")) or (before.endswith("<") and kind == "url")
        if kind == "url" and not in_link:
            raise ChecklistError(
                path, line, f"{what}: {{{name}}} is a URL; use it as a link: [text]({{{name}}})"
            )
        if kind == "text" and in_link:
            raise ChecklistError(
                path, line, f"{what}: {{{name}}} is text, not a URL; it cannot be a link target"
            )
        alone = source_line.strip() == match.group(0) and _in_fence(lines, line_no)
        if kind == "block" and (not allow_block or not alone):
            raise ChecklistError(
                path, line, f"{what}: {{{name}}} must stand alone on a line inside a fenced block"
            )


def _in_fence(lines: list[str], index: int) -> bool:
    """Is ``lines[index]`` inside a fenced code block (``` or ~~~)?"""
    fence = ""
    for line in lines[:index]:
        stripped = line.lstrip()
        if not fence:
            found = re.match(r"(`{3,}|~{3,})", stripped)
            if found:
                fence = found.group(1)
        elif stripped.startswith(fence) and not stripped[len(fence):].strip(fence[0]).strip():
            fence = ""
    return bool(fence)


def _line(node: yaml.Node | None, offset: int = 0) -> int:
    """1-based line of ``node`` (plus ``offset`` lines into a multi-line scalar)."""
    if node is None:
        return 0
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        line += 1  # block scalars start on the line after the indicator
    return line + offset
