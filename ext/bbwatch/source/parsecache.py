"""Completed builds' parsed test logs (``bbwatch.logs.parsed.ParsedLog``), kept in the store.

A completed build's test log never changes, so neither does its parse: a warm site build reads
it from here instead of running ``bbwatch.logs.regrtest`` over the log again. Each entry,
``parsed/v<PARSER_VERSION>/<source>/<buildid>`` in the store (``bbwatch.source.store``), holds
the sha256 of the log it came from, so a log that differs (another master reusing buildids,
another log cap) is parsed again, never served stale. An entry may also carry the log's
identity (``BuildbotClient.log_identity``): then ``lookup`` finds it without the log's text, so
a warm build need not even read the log. The first question reads all of the source's entries
in one query (the window: ``prune`` keeps only the builds still analysed).

``PARSER_VERSION`` (``bbwatch.logs.parsed``) is part of every key: a store written by another
parser is never read, and its entries are removed the first time a new version opens it. A
damaged entry is dropped by the store (``dropped``) and the log parsed again; a failed write
is noted in ``errors`` and costs only a parse next time.
"""

from __future__ import annotations

from dataclasses import dataclass

from bbwatch.logs.parsed import PARSER_VERSION, ParsedLog
from bbwatch.source.store import Store

PARSED = "parsed/"


@dataclass(frozen=True)
class Entry:
    digest: str  # sha256 of the log text the parse came from
    parsed: ParsedLog
    ident: str | None = None  # the log's identity, when the build's was known


class ParsedLogCache:
    """Completed builds' parsed test logs of one source (``namespace``) in ``store``."""

    def __init__(self, store: Store, namespace: str = "default") -> None:
        self.store = store
        self.space = store.space(f"{PARSED}v{PARSER_VERSION}/{namespace}")
        self.hits = 0
        self.misses = 0
        self.errors: list[str] = []  # failed writes (the parse was still used)
        # buildid -> log identity, recorded with entries written (or found) for those builds
        self.idents: dict[int, str] = {}
        self._entries: dict[int, Entry] | None = None

    @property
    def dropped(self) -> int:
        """Damaged entries found and deleted."""
        return self.store.dropped

    def _all(self) -> dict[int, Entry]:
        """buildid -> entry, read in one query the first time it is needed."""
        if self._entries is None:
            if self.store.meta("parser_version") != str(PARSER_VERSION):
                self._drop_other_versions()
            found = self.space.scan("", Entry)
            self._entries = {int(k): e for k, e in found.items() if k.isdigit()}
        return self._entries

    def stored(self) -> set[int]:
        """The builds whose parse is here."""
        return set(self._all())

    def get(self, buildid: int, digest: str) -> ParsedLog | None:
        """The cached parse of this build's log, if it was parsed from the same text."""
        entry = self._all().get(int(buildid))
        if entry is None or entry.digest != digest:  # other text: not ours to serve
            self.misses += 1
            return None
        known = self.idents.get(int(buildid))
        if known is not None and entry.ident != known:  # an older entry: let lookup() find it
            self.put(buildid, entry.parsed)
        self.hits += 1
        return entry.parsed

    def lookup(self, buildid: int, ident: str) -> ParsedLog | None:
        """The cached parse of the log named ``ident``, without its text."""
        entry = self._all().get(int(buildid))
        if entry is None or entry.ident != ident:
            self.misses += 1
            return None
        self.hits += 1
        return entry.parsed

    def put(self, buildid: int, parsed: ParsedLog) -> None:
        """Store (one transaction); a full or read-only disk only costs parsing again."""
        entry = Entry(parsed.digest, parsed, self.idents.get(int(buildid)))
        try:
            self.space.put(str(int(buildid)), entry)
        except OSError as exc:
            self.errors.append(f"cannot write parsed log {buildid}: {exc.strerror or exc}")
            return
        self._all()[int(buildid)] = entry

    def prune(self, keep: set[int]) -> int:
        """Delete the entries of builds not in ``keep`` (fallen out of the analysed history);
        return how many. Completed builds are otherwise cached forever."""
        try:
            removed = self.space.clear(keep=lambda k: k.isdigit() and int(k) in keep)
        except OSError:
            return 0
        if self._entries is not None:
            self._entries = {b: e for b, e in self._entries.items() if b in keep}
        return removed

    def _drop_other_versions(self) -> None:
        """A new parser version starts afresh: older versions' entries are never read again."""
        mine = f"{PARSED}v{PARSER_VERSION}/"
        try:
            self.store.clear(PARSED, keep=lambda k: k.startswith(mine))
            self.store.set_meta("parser_version", str(PARSER_VERSION))
        except OSError:
            pass  # they are never read (the version is in the key); removed next time
