"""Markdown that shows values as they are: escaping by context, and filling checklist bodies.

Checklist bodies are MyST with ``{placeholders}`` (``bbwatch.triage.checklist``); values come from
masters, logs and trackers and may hold anything. :func:`fill_markdown` puts each value in
escaped for where it stands (link target, code span, prose, fenced block); :func:`fill_text`
puts raw values in, for terminals and JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import quote

from bbwatch.triage.checklist import PLACEHOLDERS, placeholders

# Inline markup, entities, GitHub mentions (@), references (#), emoji (:x:) and math ($).
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>&!|~$@#:])")
# What starts a block when it begins a line: lists, headings' setext underline, numbers.
_MD_LINE_START = re.compile(r"(?<=\n)(\s*)([-+=]|\d+(?=[.)]))")


def md_escape(text: str, line_start: bool = True) -> str:
    """Text that markdown shows as is: markup characters backslash-escaped (CommonMark allows
    it for any ASCII punctuation), line breaks kept as hard breaks. ``line_start=False`` for
    text that follows other text on its line (no list marker to defuse at its start)."""
    escaped = _MD_SPECIAL.sub(r"\\\1", text.replace("\r\n", "\n"))
    if line_start:
        escaped = "\n" + escaped
    escaped = _MD_LINE_START.sub(lambda m: m.group(1) + _escape_start(m.group(2)), escaped)
    if line_start:
        escaped = escaped[1:]
    return escaped.replace("\n", "\\\n")


def _escape_start(token: str) -> str:
    return token + "\\" if token.isdigit() else "\\" + token


def code_span(text: str) -> str:
    """A markdown code span holding ``text`` verbatim, whatever backticks it contains."""
    text = re.sub(r"\s*\n\s*", " ", text)
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    # CommonMark strips one space each side when both are present; pad to keep them.
    pad = text[:1] == "`" or text[-1:] == "`" or (text[:1] == text[-1:] == " " and text.strip())
    space = " " if pad else ""
    return f"{fence}{space}{text}{space}{fence}"


def fenced(text: str, info: str = "") -> str:
    """A fenced block holding ``text`` verbatim: the fence is longer than any inside."""
    # Only a run of the same character, indented 0-3 spaces, could close the fence.
    runs = [len(r) for r in re.findall(r"^ {0,3}(`{3,})", text, flags=re.M)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def url_target(url: str) -> str:
    """A link destination markdown cannot misread (no spaces, brackets or parentheses)."""
    if not url.startswith(("http://", "https://")):
        return "#"
    return quote(url, safe=":/?#[]@!$&'*+,;=%~-._").replace("(", "%28").replace(")", "%29")


def fill_text(template: str, values: Mapping[str, str]) -> str:
    """Placeholders replaced by their raw values (for terminals and JSON). A fenced block of
    the template gets a fence longer than any inside its value, so a Markdown value holding
    its own fenced block (the comment's excerpt) does not end it early."""
    return _fill(template, values,
                 lambda name, match, text, ind="": _block_value(values, name, match, ind),
                 lambda name, match, text: values.get(name, match.group(0)))


def fill_markdown(template: str, values: Mapping[str, str]) -> str:
    """Placeholders replaced by values escaped for where they stand: link targets encoded,
    code spans re-fenced, prose backslash-escaped, blocks verbatim inside longer fences."""
    return _fill(template, values,
                 lambda name, match, text, ind="": _block_value(values, name, match, ind),
                 lambda name, match, text: _inline_value(values, name, match, text))


def _fill(template: str, values: Mapping[str, str], block: Callable[..., str],
          inline: Callable[[str, re.Match[str], str], str]) -> str:
    out: list[str] = []
    lines = template.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        opener = re.match(r"^(\s*)(`{3,}|~{3,})(.*)$", line)
        if opener:
            indent, fence, info = opener.groups()
            j = i + 1
            while j < len(lines) and not re.match(
                rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[j]
            ):
                j += 1
            inner = "\n".join(lines[i + 1:j])
            content = _substitute(
                inner, lambda name, match, text, ind=indent: block(name, match, text, ind))
            char = re.escape(fence[0])
            runs = [len(r) for r in re.findall(rf"^\s*({char}{{3,}})", content, flags=re.M)]
            new_fence = fence[0] * max(len(fence), max(runs, default=0) + 1)
            out.append(f"{indent}{new_fence}{info}")
            out.extend(content.split("\n") if inner or content else [])
            if j < len(lines):
                out.append(f"{indent}{new_fence}")
            i = j + 1
            continue
        out.append(_substitute(line, inline))
        i += 1
    return "\n".join(out)


def _block_value(values: Mapping[str, str], name: str, match: re.Match[str], indent: str) -> str:
    value = values.get(name, match.group(0))
    return value.replace("\n", "\n" + indent) if indent else value


def _inline_value(values: Mapping[str, str], name: str, match: re.Match[str], text: str) -> str:
    value = values.get(name)
    if value is None:
        return match.group(0)
    if PLACEHOLDERS.get(name) == "url":
        return url_target(value)
    start, end = match.start(), match.end()
    if text[start - 1:start] == "`" and text[end:end + 1] == "`":
        return "\0CODE\0" + value  # re-fenced by _substitute once the span is known
    line_start = not text[text.rfind("\n", 0, start) + 1:start].strip()
    return md_escape(value, line_start)


def _substitute(template: str, replace: Callable[[str, re.Match[str], str], str]) -> str:
    pieces: list[str] = []
    last = 0
    for match in placeholders(template):
        name = match.group(1)
        if name not in PLACEHOLDERS:
            continue
        value = replace(name, match, template)
        start, end = match.start(), match.end()
        if value.startswith("\0CODE\0"):
            # `{name}` -> a code span fenced for the value; drop the template's backticks.
            pieces.append(template[last:start - 1])
            pieces.append(code_span(value[len("\0CODE\0"):]))
            last = end + 1
            continue
        pieces.append(template[last:start])
        pieces.append(value)
        last = end
    pieces.append(template[last:])
    return "".join(pieces)


# C0 controls (but tab and line breaks) and DEL: a master's ESC or NUL must not reach a page or
# a terminal. Bidi overrides and isolates could reorder what a reader sees.
_CONTROLS = {c: 0x2400 + c for c in range(32) if chr(c) not in "\t\n\r"} | {0x7F: 0x2421}
_BIDI = {0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069}
_VISIBLE = {**_CONTROLS, **{c: f"<U+{c:04X}>" for c in _BIDI}}


def visible(text: str) -> str:
    """Control characters as their Unicode control pictures (ESC -> ␛), bidi controls as
    ``<U+202E>``: shown, never obeyed."""
    return text.translate(_VISIBLE)
