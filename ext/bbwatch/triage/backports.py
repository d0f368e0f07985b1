"""Backport-aware suspects: a change and its backports, linked by their commit titles.

CPython's backports keep the original's issue and pull request in their title:
``gh-130140: Join ... (#130141)`` on main becomes ``[3.14] gh-130140: Join ... (GH-130141)
(#130150)`` on 3.14 (miss-islington's format). When one problem fails on several branches and
its suspects are such a family, the page names the original and its backports on one line
instead of listing unrelated-looking changes per branch. Pure functions over ``Change``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bbwatch.models import Change

_BRANCH = re.compile(r"^\s*\[(?P<branch>\d+\.\d+)\]\s*")
_ISSUE = re.compile(r"\bgh-(\d+)\b", re.I)
_PR = re.compile(r"\((?:GH-|#)(\d+)\)")


@dataclass(frozen=True)
class ChangeRefs:
    change: Change
    branch: str | None  # "3.14" for a backport, None for the original
    issue: int | None  # gh-N
    prs: tuple[int, ...]  # GH-N (the original's PR, in a backport) and #N (its own PR)

    @property
    def own_pr(self) -> int | None:
        return self.prs[-1] if self.prs else None

    @property
    def original_pr(self) -> int | None:
        """The pull request this change carries: its own for an original, GH-N for a backport."""
        if self.branch is None:
            return self.own_pr
        return self.prs[0] if len(self.prs) > 1 else None


def refs_of(change: Change) -> ChangeRefs:
    title = change.title
    m = _BRANCH.match(title)
    issue = _ISSUE.search(title)
    return ChangeRefs(change, m["branch"] if m else None, int(issue[1]) if issue else None,
                      tuple(int(n) for n in _PR.findall(title)))


@dataclass
class BackportFamily:
    """An original change (when it is among the suspects) and its backports."""

    issue: int | None
    pr: int | None
    original: ChangeRefs | None = None
    backports: list[ChangeRefs] = field(default_factory=list)

    @property
    def branches(self) -> list[str]:
        return [r.branch for r in self.backports if r.branch]

    def describe(self) -> str:
        """``gh-130140 (#130141) and its backport to 3.14 (#130150)``."""
        name = f"gh-{self.issue}" if self.issue else f"#{self.pr}"
        head = f"{name} (#{self.pr})" if self.pr and self.issue else name
        if self.original is None:
            head = f"backports of {head}"
        parts = [f"{r.branch} (#{r.own_pr})" if r.own_pr else str(r.branch)
                 for r in self.backports]
        if not parts:
            return head
        word = "backport" if len(parts) == 1 else "backports"
        return (f"{head} and its {word} to {', '.join(parts)}" if self.original is not None
                else f"{head}: {', '.join(parts)}")


def backport_families(changes: Iterable[Change]) -> list[BackportFamily]:
    """Families of at least two changes (an original and a backport, or two backports) among
    ``changes``, in the order of their first member."""
    families: dict[tuple[str, int], BackportFamily] = {}
    for change in changes:
        refs = refs_of(change)
        key = ("pr", refs.original_pr) if refs.original_pr else (
            ("issue", refs.issue) if refs.issue else None)
        if key is None:
            continue
        family = families.setdefault(key, BackportFamily(refs.issue, refs.original_pr))
        if refs.branch is None:
            if family.original is None:
                family.original = refs
        elif all(b.change.changeid != change.changeid for b in family.backports):
            family.backports.append(refs)
    return [f for f in families.values()
            if f.backports and (f.original is not None or len(f.backports) > 1)]
