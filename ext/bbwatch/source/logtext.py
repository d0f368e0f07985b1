"""Log text as bbwatch keeps it: the tail of a raw log within a byte cap, without Buildbot's
header, and which logs of a build anyone reads (the test step's stdio, steps that went wrong).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable

from bbwatch.models import Build, Log, Result, Step

DEFAULT_LOG_CAP = 8 * 1024 * 1024
# Buildbot >= 4.0 starts every raw stdio log with these lines; they are not the build's output.
_RAW_HEADERS = ("Builder: ", "Build number: ", "Worker name: ")


def tail_lines(chunks: Iterable[bytes], cap: int) -> tuple[str, bool]:
    """The last ``cap`` bytes of a byte stream as whole lines of text, and whether it was cut.

    Memory stays about ``cap`` plus one chunk. One byte more than the cap is kept, so a cut
    that falls exactly on a line start keeps that line; otherwise the partial first line goes.
    """
    keep = cap + 1
    kept: collections.deque[bytes] = collections.deque()
    size = 0
    for chunk in chunks:
        if not chunk:
            continue
        kept.append(chunk)
        size += len(chunk)
        while kept and size - len(kept[0]) >= keep:
            size -= len(kept.popleft())
    data = b"".join(kept)
    if len(data) <= cap:
        return data.decode("utf-8", errors="replace"), False
    data = data[len(data) - keep :]
    newline = data.find(b"\n")
    # Bytes after a newline start on a character boundary, so decoding is clean.
    text = data[newline + 1 :].decode("utf-8", errors="replace") if newline >= 0 else ""
    return text, True


def tail_text(chunks: Iterable[bytes], cap: int) -> str:
    """A raw log's text within ``cap``; Buildbot's header goes when the start was kept."""
    text, cut = tail_lines(chunks, cap)
    return text if cut else _strip_raw_header(text)


def _strip_raw_header(text: str) -> str:
    lines = text.split("\n", len(_RAW_HEADERS))
    strip = 0
    for prefix, line in zip(_RAW_HEADERS, lines, strict=False):
        if not line.startswith(prefix):
            break
        strip += 1
    if strip == 0:
        return text
    return "\n".join(lines[strip:]) if strip < len(lines) else ""


def stdio_of(step: Step | None) -> Log | None:
    if step is None:
        return None
    return next((lg for lg in step.logs if lg.slug == "stdio"), None)


def wants_logs(step: Step) -> bool:
    """Whether anyone reads this step's logs: the test step, and a step that went wrong.

    Listing the logs of every green git/configure/compile/clean step cost one request each
    per new build (6 where 1 or 2 are used); a complete build is cached as fetched, so this
    rule decides once and for all what a cached build holds.
    """
    if step.name == "test":
        return True
    return step.results not in (None, Result.SUCCESS, Result.SKIPPED)


def needs_test_log(build: Build) -> bool:
    """Whether the pages want this build's test log: its test step or the build went wrong."""
    step = build.step("test")
    if step is None:
        return False
    if step.results is not None and step.results != Result.SUCCESS:
        return True
    return build.results in (Result.WARNINGS, Result.FAILURE)
