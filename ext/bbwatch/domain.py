"""Domain types that several stages share: the issue a tracker returns, the failure matching
reads, and the rules for unittest test ids both of them use.

A ``Failure`` is made from a parsed log (``bbwatch.logs``), from the fleet analysis or a
triage context (``bbwatch.triage``); an ``Issue`` comes from a tracker or the registry. They
live here, at the bottom, so those stages share them without importing one another. This
module imports nothing from bbwatch.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    number: int
    title: str
    state: str  # "open" | "closed"
    url: str
    labels: tuple[str, ...] = ()
    body: str = ""

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    @property
    def comment_url(self) -> str:
        """Where to add "also seen on <builder>: <build URL>" (GitHub's comment box anchor)."""
        return f"{self.url}#new_comment_field" if self.url else ""


@dataclass(frozen=True)
class Failure:
    test_file: str
    test_id: str | None = None
    builder: str | None = None
    branch: str | None = None
    message: str | None = None
    kind: str = "failed"  # failed|crashed|timed_out|env_changed|leaked
    passed_on_rerun: bool = False  # failed, then passed when re-run: flaky on this revision

    @property
    def test_class(self) -> str | None:
        return split_test_id(self.test_id, self.test_file)[0]

    @property
    def test_method(self) -> str | None:
        return split_test_id(self.test_id, self.test_file)[1]


# -- test ids ---------------------------------------------------------------------------
_OLD_ID = re.compile(r"^(?P<name>\w+) \((?P<path>[\w.]+)\)")


def canonical_test_id(test_id: str | None) -> str | None:
    """``test_foo (test.test_os.FileTests)`` (≤3.10) → ``test.test_os.FileTests.test_foo``."""
    if not test_id:
        return None
    test_id = test_id.strip()
    m = _OLD_ID.match(test_id)
    if m:
        name, path = m["name"], m["path"]
        return path if path.endswith("." + name) else f"{path}.{name}"
    return test_id.split(" ", 1)[0]  # drop a trailing "(i=1)" subtest description


@functools.lru_cache(maxsize=4096)
def split_test_id(
    test_id: str | None, test_file: str | None = None
) -> tuple[str | None, str | None]:
    """(class, method) of a unittest id; either may be None.

    The method is the last component when it does not look like a class (CamelCase); the class
    is the nearest CamelCase component before it. Module parts (``test.test_os``, package
    sub-modules) are neither.
    """
    test_id = canonical_test_id(test_id)
    if not test_id:
        return None, None
    parts = [p for p in test_id.split(".") if p]
    if "_FailedTest" in parts:  # unittest's stand-in for a module that failed to import
        return None, None
    if test_file and test_file in parts:
        parts = parts[parts.index(test_file) + 1 :]
    if not parts:
        return None, None
    method = None if _is_class(parts[-1]) else parts[-1]
    classes = [p for p in (parts[:-1] if method else parts) if _is_class(p)]
    cls = classes[-1] if classes else None
    if method and not cls and len(parts) == 1 and method == test_file:
        method = None
    return cls, method


def _is_class(name: str) -> bool:
    return name[:1].isupper() or name.startswith("_") and name[1:2].isupper()
