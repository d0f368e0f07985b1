"""The last good fetch of each source, kept in the store (``bbwatch.source.store``) next to
the parsed-log cache and shown by the live pages when the master cannot be reached.

Two entries per source: ``live/<source>/fleet`` (the fleet without its raw test logs, since
the pages only need their parses; parses already in the parsed-log cache are referenced by
digest, not copied) and ``live/<source>/stamp`` (digest and fetch time), which lets an
unchanged fleet skip the rewrite. Both are written in one transaction.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field

from sphinx.util import logging

from bbwatch.logs.parsed import ParsedLog
from bbwatch.models import FleetData
from bbwatch.source.parsecache import ParsedLogCache

logger = logging.getLogger(__name__)


@dataclass
class LastFleet:
    digest: str
    fleet: FleetData  # without test_logs
    parsed: dict[int, ParsedLog] = field(default_factory=dict)  # those not in the cache
    parsed_refs: dict[int, str] = field(default_factory=dict)  # buildid -> log digest


@dataclass(frozen=True)
class Stamp:
    digest: str
    fetched_at: float


def _keys(source: str) -> tuple[str, str]:
    space = "live/" + hashlib.sha256(source.encode()).hexdigest()[:16]
    return f"{space}/fleet", f"{space}/stamp"


def save_last(
    parsed_cache: ParsedLogCache, source: str, fleet: FleetData,
    parsed: dict[int, ParsedLog], digest: str,
) -> None:
    """Keep this fetch for when the master is down: the fleet without its raw test logs,
    rewritten only when the digest says the data changed (else only the stamp)."""
    store = parsed_cache.store
    fleet_key, stamp_key = _keys(source)
    stamp = store.get(stamp_key, Stamp)
    values: dict[str, object] = {stamp_key: Stamp(digest, fleet.fetched_at)}
    # unchanged data in an intact entry is not written again (a damaged one is)
    if stamp is None or stamp.digest != digest or not store.intact(fleet_key):
        cached = parsed_cache.stored() & set(parsed)
        values[fleet_key] = LastFleet(
            digest,
            dataclasses.replace(fleet, test_logs={}),
            {bid: p for bid, p in parsed.items() if bid not in cached},
            {bid: parsed[bid].digest for bid in cached},
        )
    try:
        store.put_many(values)
    except OSError as exc:
        logger.info("bbwatch: could not keep the fleet in the cache store: %s", exc)


def load_last(
    parsed_cache: ParsedLogCache, source: str
) -> tuple[FleetData | None, dict[int, ParsedLog]]:
    """The last good fetch and its parsed logs; (None, {}) when absent or damaged.

    A referenced parse missing from ``parsed_cache`` leaves that build without its log, as a
    log that could not be fetched would."""
    fleet_key, stamp_key = _keys(source)
    last = parsed_cache.store.get(fleet_key, LastFleet)
    if last is None:
        return None, {}
    parsed = dict(last.parsed)
    for bid, log_sha in last.parsed_refs.items():
        found = parsed_cache.get(bid, log_sha)
        if found is not None:
            parsed[bid] = found
    fleet = last.fleet
    stamp = parsed_cache.store.get(stamp_key, Stamp)
    if stamp is not None and stamp.digest == last.digest:  # the same data, confirmed later
        fleet.fetched_at = stamp.fetched_at
    fleet.source = "cache"
    return fleet, parsed
