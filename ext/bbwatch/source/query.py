"""``find_builds``, written once (``FindBuilds``): the client sends the query to the master as
REST parameters (``BuildQuery.params``), a snapshot runs it over its recorded builds
(``BuildQuery.apply``).

Buildbot's filter syntax: ``builderid=3``, ``complete=True``, ``results__ne=0``,
``buildid__gt=123``, ``builderid__in=[1, 2]`` (a list repeats the parameter); ``order`` is a
field name, ``-`` first for descending; ``limit`` at least 1, or None for all.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bbwatch.errors import BuildbotError
from bbwatch.models import Build

# the fields a narrowed query always keeps: what a Build needs
REQUIRED_FIELDS = ("buildid", "builderid", "number", "complete")

_OPS: dict[str, Callable[[object, list[object]], bool]] = {
    "eq": lambda a, vs: any(a == v for v in vs),
    "ne": lambda a, vs: all(a != v for v in vs),
    "in": lambda a, vs: a in vs,
    "notin": lambda a, vs: a not in vs,
    "lt": lambda a, vs: a is not None and a < vs[0],  # type: ignore[operator]
    "le": lambda a, vs: a is not None and a <= vs[0],  # type: ignore[operator]
    "gt": lambda a, vs: a is not None and a > vs[0],  # type: ignore[operator]
    "ge": lambda a, vs: a is not None and a >= vs[0],  # type: ignore[operator]
}


def query_value(value: object) -> str:
    """Buildbot's query syntax: booleans as true/false, everything else as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class BuildQuery:
    """One ``find_builds`` call: filters as (name, values), order, limit and fields."""

    filters: tuple[tuple[str, tuple[object, ...]], ...] = ()
    order: tuple[str, ...] = ("-buildid",)
    limit: int | None = 100
    fields: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        order: str | Sequence[str] = "-buildid",
        limit: int | None = 100,
        fields: Sequence[str] = (),
        filters: dict[str, object] | None = None,
    ) -> BuildQuery:
        many = (list, tuple, set, frozenset)
        return cls(
            filters=tuple(
                (name, tuple(value) if isinstance(value, many) else (value,))
                for name, value in (filters or {}).items()
            ),
            order=(order,) if isinstance(order, str) else tuple(order),
            limit=None if limit is None else max(1, int(limit)),
            fields=tuple(fields),
        )

    def params(self) -> list[tuple[str, str]]:
        """The query as Buildbot's REST parameters (``GET /api/v2/builds?...``); without
        ``fields``, every property comes with the builds."""
        params = [(name, query_value(v)) for name, values in self.filters for v in values]
        params += [("order", o) for o in self.order]
        if self.limit is not None:
            params.append(("limit", str(self.limit)))
        if self.fields:
            wanted = list(self.fields) + [f for f in REQUIRED_FIELDS if f not in self.fields]
            params += [("field", f) for f in wanted]
        else:
            params.append(("property", "*"))
        return params

    def apply(self, builds: Iterable[Build]) -> list[Build]:
        """The same query over builds in memory, answered as the master does: copies, without
        steps or changes; an operator Buildbot has but this does not raises BuildbotError."""
        rows = [copy.deepcopy(b) for b in builds]
        for name, values in self.filters:
            field, _, op = name.partition("__")
            test = _OPS.get(op or "eq")
            if test is None:
                raise BuildbotError("unsupported filter", f"__{op}",
                                    "use " + " ".join(_OPS))
            rows = [b for b in rows if test(getattr(b, field, None), list(values))]
        for key in reversed(self.order):
            field = key.lstrip("-")
            rows.sort(key=lambda b: (getattr(b, field) is None, getattr(b, field) or 0),
                      reverse=key.startswith("-"))
        for b in rows:  # like the master: no steps or changes in a query result
            b.steps, b.changes = (), ()
        return rows if self.limit is None else rows[: self.limit]


class FindBuilds:
    """``find_builds`` for a source of builds: the client (``_find`` asks the master) and a
    snapshot (``_find`` applies the query to its recorded builds) share this signature."""

    def find_builds(
        self,
        *,
        order: str | Sequence[str] = "-buildid",
        limit: int | None = 100,
        fields: Sequence[str] = (),
        **filters: object,
    ) -> list[Build]:
        """Builds across builders, filtered (steps and changes NOT filled).

        ``filters`` are Buildbot's query filters: ``builderid=3``, ``complete=True``,
        ``results__ne=0``, ``buildid__gt=123``, ``builderid__in=[1, 2]`` (a list repeats the
        parameter). E.g. recent failures: ``find_builds(complete=True, results=2,
        order="-complete_at", limit=100)``. ``fields`` narrows the JSON (keep the ids).
        """
        return self._find(BuildQuery.of(order, limit, fields, filters))

    def _find(self, query: BuildQuery) -> list[Build]:
        raise NotImplementedError
