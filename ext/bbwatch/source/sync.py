"""The whole fleet, incrementally: ``BuildbotClient.fetch_fleet`` is everything the live pages
need from a master in one call, asking only what is new since last time.

Cold cache: builders, workers, the current newest buildid, then each builder's recent builds.
Warm cache: ``/builders``, ``/workers`` and ONE ``/builds?buildid__gt=<watermark>``; complete
builds already seen are read from the store in one query (the *window*, listed by the fleet
index). That
query starts at a build already cached (the *anchor*), so a master recreated at the same URL
(buildids restart at 1) is noticed and the client's epoch moves on (``ApiClient._new_epoch``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bbwatch.errors import BuildbotError
from bbwatch.models import Build, FleetData
from bbwatch.source.client import ApiClient
from bbwatch.source.logtext import needs_test_log, stdio_of
from bbwatch.source.urls import show


class BuildbotClient(ApiClient):
    """A master's REST API (``ApiClient``) plus the incremental fetch of the whole fleet."""

    def fetch_fleet(
        self,
        history: int = 20,
        branches: Sequence[str] = (),
        *,
        known_log: Callable[[int, str], bool] | None = None,
    ) -> FleetData:
        """Everything the live pages need, in one call.

        Cold cache: builders, workers, the current newest buildid, then each builder's recent
        builds. Warm cache: builders, workers and ONE ``/builds?buildid__gt=<watermark>``;
        complete builds already seen are read from the store (one query for the whole
        window, not one per build) and never asked for again.

        ``known_log(buildid, identity)``: return True when you already hold what you need
        from that complete build's test log (e.g. its parse, stored under the identity from
        ``FleetData.log_ids``); its text is then neither fetched nor read from the cache.

        Per-item failures land in ``FleetData.errors``; a master that is down, or
        goes away during the fetch, raises BuildbotError.
        """
        self._down = None
        self._in_fleet = True
        try:
            data = self._fetch_fleet(history, branches, known_log)
        finally:
            self._in_fleet = False
        if self._down:
            # Per-item errors would hide the real story: the master went away mid-fetch.
            raise BuildbotError("master went away during the fetch", self.base_url, self._down)
        return data

    def _fetch_fleet(
        self, history: int, branches: Sequence[str], known_log: Callable[[int, str], bool] | None
    ) -> FleetData:
        history = max(1, int(history))
        started = time.time()
        index_key = "fleet-index/" + hashlib.sha256(
            json.dumps(sorted(branches)).encode()
        ).hexdigest()[:12]
        index = _usable(self.cache.get(index_key, FleetIndex), history)
        watermark = index.watermark
        anchor = index.anchor
        # Ask from a build we already hold (the anchor), so its answer proves this is still
        # the master we cached: a recreated one reuses buildids for other builds.
        since = None
        if index.lists and watermark is not None:
            since = min(watermark, anchor.buildid - 1) if anchor else watermark
        # The warm fetch's three questions do not depend on each other: one round trip, not 3;
        # the cached window is read (one query) and decoded meanwhile.
        calls: list[Callable[[], Any]] = [
            self.builders, self.workers, functools.partial(self._load_window, index)
        ]
        if since is not None:
            calls.append(functools.partial(self._builds_since, since))
        builders, workers, window, *since_items = self._map(lambda call: call(), calls)
        wanted = [b for b in builders if not branches or b.branch in branches]
        wanted_ids = {b.builderid for b in wanted}
        errors: list[str] = []

        lists: dict[int, list[int]] = {
            bid: ids for bid, ids in index.lists.items() if bid in wanted_ids
        }
        new_items: list[dict[str, Any]] = []
        cold = [b.builderid for b in wanted if b.builderid not in lists]
        if lists and watermark is not None:
            new_items = since_items[0]
            if anchor and not _same_master(anchor, new_items):
                self._new_epoch()
                lists, new_items, window = {}, [], {}
                cold = [b.builderid for b in wanted]
                watermark = None
        if lists and watermark is not None:
            seen_max = max([watermark] + [int(i["buildid"]) for i in new_items])
        else:
            seen_max = self._newest_buildid()
        if cold:
            fetched = self._map(self._try_builds_of(history), cold)
            for bid, result in zip(cold, fetched, strict=True):
                if isinstance(result, BuildbotError):
                    errors.append(str(result))
                    continue
                lists[bid] = []
                new_items.extend(result)

        # Newest first per builder: cached complete ids plus whatever the master just told us.
        by_builder: dict[int, dict[int, dict[str, Any] | None]] = {bid: {} for bid in lists}
        for bid, ids in lists.items():
            for buildid in ids:
                by_builder[bid][buildid] = None  # None: read from the cache
        for item in new_items:
            try:
                bid, buildid = int(item["builderid"]), int(item["buildid"])
            except (KeyError, TypeError, ValueError):
                errors.append(f"unexpected build data: {self.api_url}builds: {show(item)[:80]}")
                continue
            if bid in by_builder:
                by_builder[bid][buildid] = item

        jobs: list[tuple[int, int, dict[str, Any] | None]] = []
        for bid, entries in by_builder.items():
            newest = sorted(entries, reverse=True)[:history]  # buildid order == number order
            jobs.extend((bid, buildid, entries[buildid]) for buildid in newest)

        def held(item: dict[str, Any] | None, buildid: int) -> Build | None:
            # a complete build is the same whether the master re-lists it or not
            if item is None or item.get("complete"):
                return window.get(buildid)
            return None

        def load(job: tuple[int, int, dict[str, Any] | None]) -> Build | BuildbotError:
            bid, buildid, item = job
            try:
                if item is None:
                    cached = self._cached_build(buildid)
                    if cached is not None:
                        return cached
                    found = self._get_json(f"builds/{buildid}", "builds", {"property": "*"})
                    if not found:
                        raise BuildbotError("build vanished", f"{self.api_url}builds/{buildid}")
                    item = found[0]
                return self._complete(item)
            except BuildbotError as exc:
                return exc

        # Builds of the window are taken here; only the rest go to the pool (threads for thousands
        # of dict look-ups cost more than the look-ups).
        results: list[Build | BuildbotError | None] = [held(j[2], j[1]) for j in jobs]
        rest = [i for i, r in enumerate(results) if r is None]
        for i, result in zip(rest, self._map(load, [jobs[i] for i in rest]), strict=True):
            results[i] = result

        builds: dict[int, list[Build]] = {bid: [] for bid in by_builder}
        keep: dict[int, list[int]] = {bid: [] for bid in by_builder}
        watermark_out = seen_max
        for (bid, buildid, item), result in zip(jobs, results, strict=True):
            assert result is not None
            if isinstance(result, BuildbotError):
                errors.append(str(result))
                complete = item is None or bool(item.get("complete"))
            else:
                builds[bid].append(result)
                complete = result.complete
            if complete:
                # Remembered even when its details failed: the next fetch reads the cache or
                # refetches just this build.
                keep[bid].append(buildid)
            else:
                # Running builds change: keep them above the watermark so they are asked again.
                watermark_out = min(watermark_out, buildid - 1)
        for bid in builds:
            builds[bid].sort(key=lambda b: b.number, reverse=True)

        test_logs, log_ids = self._fleet_test_logs(builds, errors, known_log)
        # The newest complete build at or below the watermark: the next fetch's proof.
        anchors = [
            b for bl in builds.values() for b in bl if b.complete and b.buildid <= watermark_out
        ]
        newest = max(anchors, key=lambda b: b.buildid, default=None)
        self._remember({index_key: FleetIndex(
            history=history, watermark=watermark_out, lists=keep,
            anchor=Anchor(newest.buildid, newest.builderid, newest.number, newest.started_at)
            if newest else None,
        )})
        return FleetData(
            base_url=self.base_url,
            fetched_at=started,
            builders=builders,
            workers=workers,
            builds={b.builderid: builds.get(b.builderid, []) for b in wanted},
            test_logs=test_logs,
            errors=errors,
            source="live",
            log_ids=log_ids,
        )

    def _try_builds_of(
        self, history: int
    ) -> Callable[[int], list[dict[str, Any]] | BuildbotError]:
        def fetch(bid: int) -> list[dict[str, Any]] | BuildbotError:
            try:
                return self._builds_of(bid, history)
            except BuildbotError as exc:
                return exc

        return fetch

    def _builds_since(self, watermark: int, page: int = 500) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            params = {
                "buildid__gt": str(watermark),
                "order": "-buildid",
                "limit": str(page),
                "property": "*",
            }
            if offset:
                params["offset"] = str(offset)
            batch = self._get_json("builds", "builds", params)
            items.extend(batch)
            if len(batch) < page:
                return items
            offset += page

    def _newest_buildid(self) -> int:
        items = self._get_json(
            "builds", "builds", {"order": "-buildid", "limit": "1", "field": "buildid"}
        )
        return int(items[0]["buildid"]) if items else 0

    def _load_window(self, index: FleetIndex) -> dict[int, Build]:
        """The complete builds of the last fetch's window, in one read of the store."""
        prefix = f"{self._epoch_prefix()}builds/"
        keys = [f"{prefix}{i}" for ids in index.lists.values() for i in ids]
        n = len(prefix)
        return {int(k[n:]): b for k, b in self.cache.get_many(keys, Build).items()}

    def log_identity(self, build: Build) -> str | None:
        """A name for a complete build's test log that no other log ever gets: its cache key
        (master epoch, log id, cap) and the build's start time, which a master recreated at
        the same URL (reusing ids) does not repeat. None while the build runs."""
        if not build.complete:
            return None
        log = stdio_of(build.step("test"))
        if log is None:
            return None
        return f"{self._epoch_prefix()}logs/{log.logid}-{self.log_cap_bytes}@{build.started_at}"

    def _fleet_test_logs(
        self,
        builds: dict[int, list[Build]],
        errors: list[str],
        known_log: Callable[[int, str], bool] | None = None,
    ) -> tuple[dict[int, str], dict[int, str]]:
        """(buildid -> test log text, buildid -> log identity) for the builds that need one;
        texts the caller says it knows (``known_log``) are skipped."""
        wanted: list[Build] = []
        idents: dict[int, str] = {}
        for build in (b for bl in builds.values() for b in bl if needs_test_log(b)):
            ident = self.log_identity(build)
            if ident is not None:
                idents[build.buildid] = ident
                if known_log is not None and known_log(build.buildid, ident):
                    continue
            wanted.append(build)

        def fetch(build: Build) -> str | BuildbotError | None:
            try:
                return self.test_log(build)
            except BuildbotError as exc:
                return exc

        logs: dict[int, str] = {}
        for build, result in zip(wanted, self._map(fetch, wanted), strict=True):
            if isinstance(result, BuildbotError):
                errors.append(str(result))
            elif result is not None:
                logs[build.buildid] = result
        return logs, idents


@dataclass(frozen=True)
class Anchor:
    """The newest complete build at or below the watermark, as the master first gave it."""

    buildid: int
    builderid: int
    number: int
    started_at: int | None


@dataclass(frozen=True)
class FleetIndex:
    """What the last fetch of one branch selection saw: the complete builds per builder
    (newest first), the highest buildid below which nothing changes any more, the anchor."""

    history: int
    watermark: int | None = None
    lists: dict[int, list[int]] = field(default_factory=dict)
    anchor: Anchor | None = None


def _same_master(anchor: Anchor, items: list[dict[str, Any]]) -> bool:
    """Whether the master still has the anchor build as we cached it."""
    for item in items:
        if item.get("buildid") == anchor.buildid:
            return (item.get("builderid"), item.get("number"), item.get("started_at")) == (
                anchor.builderid, anchor.number, anchor.started_at)
    return False


def _usable(index: FleetIndex | None, history: int) -> FleetIndex:
    """The stored index, or an empty one when absent (or damaged: the store dropped it),
    without a watermark, or shorter than the history wanted now (start over)."""
    if index is None or index.watermark is None or index.history < history:
        return FleetIndex(history)
    return index
