"""Which issue covers this failure? Pure functions, shared by `bbwatch match` and the pages.

The watcher's procedure (search titles for the test method, then the test file, then full
text) becomes ``search_terms``; ``rank`` orders candidate issues (a reviewed registry rule
first, then titles naming the full id, ``Class.method``, the method, the class, the file, then
message similarity) and says why in words; ``suggest_title`` gives the title that the next
identical failure will find with its first search term.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bbwatch.domain import Failure, Issue, canonical_test_id, split_test_id
from bbwatch.triage.registry import KnownIssue, Registry
from bbwatch.triage.tracker import stem

KINDS = ("failed", "crashed", "timed_out", "env_changed", "leaked")
MAX_MESSAGE = 100
# A match at least this confident, on an open issue, makes a failure "known".
KNOWN_THRESHOLD = 0.7
CLOSED_PENALTY = 0.04  # keeps a closed issue just below an open one of the same rule

# Confidence of each rule, strongest first; gaps > CLOSED_PENALTY keep the order by confidence.
CONFIDENCE = {
    "registry": 0.95,
    "full id": 0.9,
    "Class.method": 0.85,
    "file and method": 0.8,  # "test_asyncio failed: flaky `test_sendfile_...`"
    "method": 0.75,
    "file (whole-file failure)": 0.7,  # crash, timeout, env change, leak, no test id
    # a package's sub-module failed and the title names only the package or only the module
    "part of the file (whole-file failure)": 0.65,
    "class": 0.6,
    "file": 0.45,
    "part of the file": 0.4,
    "message": 0.4,  # times the share of the message's words found in the issue
}



@dataclass
class Match:
    issue: Issue
    confidence: float
    reason: str
    source: str  # "registry" | "tracker"
    rule: str = ""  # key of CONFIDENCE that matched
    known_issue: KnownIssue | None = None  # the registry entry, for source == "registry"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "number": self.issue.number,
            "title": self.issue.title,
            "state": self.issue.state,
            "confidence": round(self.confidence, 3),
            "reason": self.reason,
            "url": self.issue.url,
            "comment_url": self.issue.comment_url,  # "also seen on <builder>" goes there
            "source": self.source,
            "rule": self.rule,
        }
        if self.known_issue is not None:
            data["kind"] = self.known_issue.kind
        return data



# -- messages ------------------------------------------------------------------------------
_MASKS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\x1b\[[0-9;]*m"), ""),
    # temp paths before numbers, so /tmp/test_python_123/x becomes <TMP>
    (re.compile(
        r"(?:/tmp|/var/tmp|/private/var/folders|/var/folders|/dev/shm)/[^\s'\",:)\]]*"
        r"|[A-Za-z]:\\(?:Users\\[^\\\s]+\\AppData\\Local\\)?Temp\\[^\s'\",:)\]]*"
        r"|\b(?:tmp|temp)[\w-]*[/\\][^\s'\",:)\]]*",
        re.I,
    ), "<TMP>"),
    # other absolute paths differ per worker (build area, user): keep the file name only
    (re.compile(r"(?<![\w.<>/\\])(?:[A-Za-z]:)?(?:[\\/][\w.+~@-]+){2,}"),
     lambda m: "<PATH>/" + re.split(r"[\\/]", m.group(0))[-1]),  # type: ignore[list-item]
    (re.compile(r"\b(?:pid|process|child process|thread id)[ =:]*\d+", re.I),
     lambda m: re.sub(r"\d+$", "<PID>", m.group(0))),  # type: ignore[list-item]
    (re.compile(r"\bat 0x[0-9a-f]+\b", re.I), "at <ADDR>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<HEX>"),
    # hashes and ids printed without 0x (a digit and a letter, so words and numbers stay)
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b"), "<HEX>"),
    (re.compile(r"(?<![\w<])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w>])", re.I), "<N>"),
]


_EXCEPTION_LINE = re.compile(
    r"^(?:[\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Failure)\b|Fatal Python error\b)"
)
_NOISE_LINE = re.compile(
    r"^(?:Traceback \(|File \"|(?:FAIL|ERROR|UNEXPECTED SUCCESS): |[=\-~^]{5,}|"
    r"(?:Current )?[Tt]hread 0x)"
)


def message_line(msg: str) -> str:
    """The line of a message, traceback or log excerpt that says what went wrong.

    A single line is itself; otherwise a ``Fatal Python error`` line, else the last exception
    line (a traceback's last word), else the first line that is not a header, a frame or a
    separator.
    """
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else ""
    fatal = [ln for ln in lines if ln.startswith("Fatal Python error")]
    if fatal:
        return fatal[0]
    exceptions = [ln for ln in lines if _EXCEPTION_LINE.match(ln)]
    if exceptions:
        return exceptions[-1]
    return next((ln for ln in lines if not _NOISE_LINE.match(ln)), lines[0])


def normalise_message(msg: str) -> str:
    """The error line of a message (``message_line``), what varies between runs masked, ≤ 100
    chars.

    Numbers → ``<N>``, hex and hashes → ``<HEX>``, ``at 0x…`` → ``at <ADDR>``, temp paths →
    ``<TMP>``, other absolute paths → ``<PATH>/<file name>``, pids → ``<PID>``; whitespace
    collapsed.
    """
    line = message_line(msg)
    for pattern, repl in _MASKS:
        line = pattern.sub(repl, line)  # type: ignore[arg-type]
    line = re.sub(r"\s+", " ", line).strip()
    if len(line) > MAX_MESSAGE:
        cut = line[:MAX_MESSAGE]
        # don't leave half a placeholder or half a word at the end
        cut = re.sub(r"\s*<[A-Z]*$", "", cut)
        line = cut.rsplit(" ", 1)[0] if " " in cut[60:] else cut
    return line


# -- the procedure -------------------------------------------------------------------------
def search_terms(f: Failure) -> list[str]:
    """Search terms in the procedure's order: method, ``Class.method``, class, file, message."""
    cls, method = split_test_id(f.test_id, f.test_file)
    terms: list[str] = []
    if method:
        terms.append(method)
        if cls:
            terms.append(f"{cls}.{method}")
    if cls:
        terms.append(cls)
    terms.append(f.test_file)
    terms.extend(_file_parts(f.test_file))
    if f.message:
        message = normalise_message(f.message)
        if message:
            terms.append(message)
    seen: set[str] = set()
    return [t for t in terms if t and not (t in seen or seen.add(t))]


_KIND_WORDS = {
    "failed": "fails",
    "crashed": "crashes",
    "timed_out": "times out",
    "env_changed": "alters the environment",
    "leaked": "leaks",
}


def suggest_title(f: Failure) -> str:
    """``test_x: Class.method fails on <builder>``, or ``test_x: <short message> on <builder>``."""
    cls, method = split_test_id(f.test_id, f.test_file)
    where = f" on {f.builder}" if f.builder else ""
    if method:
        name = f"{cls}.{method}" if cls else method
        # Flaky failures keep the convention's "fails on" too: the next watcher searches for
        # the method, and one wording makes duplicates easier to spot (docs/watching/flaky-tests).
        verb = _KIND_WORDS.get(f.kind, "fails")
        return f"{f.test_file}: {name} {verb}{where}"
    message = f.message or ""
    if message.startswith(f"{f.test_file} "):  # "test_x altered the ..." → "altered the ..."
        message = message[len(f.test_file) + 1 :]
    short = _short_message(message)
    if short:
        return f"{f.test_file}: {short}{where}"
    subject = f"{cls} " if cls else ""
    return f"{f.test_file}: {subject}{_KIND_WORDS.get(f.kind, 'fails')}{where}"


def _short_message(message: str, limit: int = 72) -> str:
    line = message_line(message)
    line = re.sub(r"\s+", " ", line)
    if len(line) > limit:
        line = line[: limit - 1].rsplit(" ", 1)[0] + "…"
    return line


def _file_parts(test_file: str) -> list[str]:
    """A package sub-module's own name, then the package's: titles say either.

    ``test_concurrent_futures.test_deadlock`` -> ``["test_deadlock",
    "test_concurrent_futures"]``; a plain test file has no parts.
    """
    if "." not in test_file:
        return []
    parts = test_file.split(".")
    return [parts[-1], parts[0]]


# -- ranking -------------------------------------------------------------------------------
_WORD = re.compile(r"\w+")
_TITLE_FILE = re.compile(r"^\s*(?:\[[^\]]*\]\s*)?(test_\w+)\s*:")


def _tokens(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _contains(title: str, needle: str) -> bool:
    """``needle`` appears in ``title`` as whole words (``test_os`` is not in ``test_ossaudio``)."""
    return _needle(needle).search(title.lower()) is not None


@functools.lru_cache(maxsize=4096)
def _needle(needle: str) -> re.Pattern[str]:
    # "test.test_regrtest.ArgsTestCase..." names test_regrtest too: allow the package prefix
    return re.compile(r"(?<![\w.])(?:test\.)?" + re.escape(needle.lower()) + r"(?![\w])")


# Words that say nothing about *which* failure it is: English glue and the usual exception names.
_GENERIC = frozenset(
    "a an and are as at be by for from in is it not of on or the to was with "
    "error exception traceback failed fails failure fatal python true false none "
    "assertionerror valueerror typeerror keyerror runtimeerror oserror".split()
)
MIN_MESSAGE_WORDS = 3  # fewer telling words than this: too little to compare


def message_similarity(message: str | None, issue: Issue) -> float:
    """Share of the normalised message's telling words found in the issue's title and body.

    Generic words (``AssertionError``, ``the``) and masked values don't count; a message with
    fewer than ``MIN_MESSAGE_WORDS`` telling words gives 0 (``AssertionError: 2 != 2.5``
    would otherwise equal every issue that quotes an AssertionError).
    """
    if not message:
        return 0.0
    words = _message_words(message)
    if len(words) < MIN_MESSAGE_WORDS:
        return 0.0
    return len(words & _issue_words(issue.title, issue.body)) / len(words)


@functools.lru_cache(maxsize=1024)
def _message_words(message: str) -> frozenset[str]:
    words = _tokens(re.sub(r"<[A-Z]+>", " ", normalise_message(message))) - _GENERIC
    return frozenset(stem(w) for w in words)


@functools.lru_cache(maxsize=8192)
def _issue_words(title: str, body: str) -> frozenset[str]:
    return frozenset(stem(w) for w in _tokens(f"{title}\n{body}"))


def message_query(message: str) -> str:
    """The telling words of a normalised message, in order: what to type in a full-text search
    ("" when fewer than two: then the whole message is the better query)."""
    words = list(dict.fromkeys(w for w in _WORD.findall(re.sub(r"<[A-Z]+>", " ", message).lower())
                               if w not in _GENERIC))
    return " ".join(words) if len(words) >= 2 else ""  # one word alone finds everything


def _title_rule(f: Failure, issue: Issue) -> tuple[str, str] | None:
    """(rule, the words that matched) for the strongest title rule, or None."""
    test_id = canonical_test_id(f.test_id)
    cls, method = split_test_id(test_id, f.test_file)
    title = issue.title
    if test_id and _contains(title, test_id):
        return "full id", test_id
    if cls and method and _contains(title, f"{cls}.{method}"):
        return "Class.method", f"{cls}.{method}"
    file_named = _file_named(f.test_file, title)
    if method and _contains(title, method):
        if file_named:
            return "file and method", f"{file_named}` and `{method}"
        return "method", method
    parts = _file_parts(f.test_file)
    part = parts[1] if parts and not file_named and _contains(title, parts[1]) else None
    whole_file = (not method and not cls) or f.kind != "failed"
    if whole_file and file_named:
        return "file (whole-file failure)", file_named
    if whole_file and part:
        return "part of the file (whole-file failure)", part
    if cls and _contains(title, cls):
        return "class", cls
    if file_named:
        return "file", file_named
    if part:
        return "part of the file", part
    return None


def _file_named(test_file: str, title: str) -> str | None:
    """How ``title`` names the test file: whole, or a sub-module by its own name (people say
    ``test_deadlock`` for ``test_concurrent_futures.test_deadlock``). The package alone is
    only a part: ``test_asyncio`` has dozens of modules."""
    if _contains(title, test_file):
        return test_file
    parts = _file_parts(test_file)
    if parts and _contains(title, parts[0]):
        return parts[0]
    return None


_TEST_NAME = re.compile(r"\b(test_\w+|test[A-Z]\w*)")


def _other_test_named(f: Failure, title: str) -> str | None:
    """A test method (not the file, not ours) that ``title`` names, if any."""
    _cls, method = split_test_id(f.test_id, f.test_file)
    if not method:
        return None  # a whole-file failure: any test the title names may be the one
    names = {f.test_file, method, *_file_parts(f.test_file)}
    for name in _TEST_NAME.findall(title):
        if name not in names and not f.test_file.startswith(name):
            return name
    return None


# What a title says about *how* a test failed and *where*, in the words real titles use: a
# title that says "hangs on Windows refleaks buildbot" is likelier the one for a timeout on
# "AMD64 Windows11 Refleaks 3.12" than one about the same test failing elsewhere.
_KIND_TITLE_WORDS = {
    "timed_out": re.compile(r"\b(?:hang|hangs|hung|timeouts?|timed out|deadlocks?|stuck)\b"),
    "crashed": re.compile(r"\b(?:crash\w*|segfaults?|segmentation|fatal|aborts?|sigkill|"
                          r"sigsegv|killed|overflows?)\b"),
    "leaked": re.compile(r"\b(?:leak\w*|refleak\w*|reference)\b"),
    "env_changed": re.compile(r"\b(?:env(?:ironment)? changed|altered|dangling|modified)\b"),
}  # "fails" is in nearly every title: it tells nothing
_FLAKY_TITLE_WORDS = re.compile(
    r"\b(?:flaky|random\w*|intermittent\w*|sometimes|sporadic\w*|unstable)\b")
# Builder families as titles name them (a title says "FreeBSD", the builder "AMD64 FreeBSD14").
_FAMILIES = {
    "windows": r"windows|win(?:32|64|10|11)?\b", "freebsd": r"freebsd", "macos": r"mac ?os|osx",
    "s390x": r"s390x", "arm64": r"arm64|aarch64", "arm": r"\barm(?:v7)?\b|raspbian|raspberry",
    "ppc64": r"ppc64", "refleaks": r"refleak|reference leak", "nogil": r"nogil|free.?thread",
    "wasm": r"wasi|wasm|emscripten", "android": r"android", "ios": r"\bios\b",
    "asan": r"\basan\b|address ?sanitizer", "tsan": r"\btsan\b|thread ?sanitizer",
    "fedora": r"fedora", "rhel": r"rhel|centos", "debian": r"debian", "ubuntu": r"ubuntu",
    "solaris": r"solaris", "aix": r"\baix\b", "pgo": r"\bpgo\b", "lto": r"\blto\b",
}
_FAMILY = {key: re.compile(pattern) for key, pattern in _FAMILIES.items()}
AGREEMENT_BONUS = 0.02  # per word of kind or family the title shares with the failure
MAX_AGREEMENT = 3


@functools.lru_cache(maxsize=4096)
def families(text: str) -> frozenset[str]:
    """Builder families named in a builder name or a title: ``{"windows", "refleaks"}``."""
    low = text.lower()
    return frozenset(key for key, pattern in _FAMILY.items() if pattern.search(low))


def _agreement(f: Failure, issue: Issue) -> list[str]:
    """What the title says that fits this failure: its kind, flakiness, builder family."""
    title = issue.title.lower()
    found = []
    kind = _KIND_TITLE_WORDS.get(f.kind)
    if kind and kind.search(title):
        found.append(_KIND_WORDS.get(f.kind, f.kind))
    if f.passed_on_rerun and _FLAKY_TITLE_WORDS.search(title):
        found.append("flaky")
    if f.builder:
        found.extend(sorted(families(f.builder) & families(issue.title)))
    return found


def _state_words(issue: Issue) -> str:
    return "issue is open" if issue.is_open else "issue is closed — maybe reopen"


def _tracker_match(f: Failure, issue: Issue) -> Match | None:
    similarity = message_similarity(f.message, issue)
    found = _title_rule(f, issue)
    if found:
        rule, words = found
        confidence = CONFIDENCE[rule]
        reason = f"title contains `{words}`"
        if rule == "full id":
            reason += " (the full test id)"
        named = _TITLE_FILE.match(issue.title)
        if rule in ("method", "class") and named and named.group(1) != f.test_file:
            # the same method name in another test file is usually another bug
            confidence *= 0.5
            reason += f", but it is about `{named.group(1)}`, not `{f.test_file}`"
        other = _other_test_named(f, issue.title) if rule.startswith("file") else None
        if other:
            # "test_x: T.test_other fails" is about another test of the same file
            confidence *= 0.5
            reason += f", but it names `{other}`"
    elif similarity >= 0.5:
        rule = "message"
        confidence = CONFIDENCE["message"] * similarity
        reason = f"issue text shares {similarity:.0%} of the words of the error message"
    else:
        return None
    agree = _agreement(f, issue)
    if agree:
        confidence += AGREEMENT_BONUS * min(len(agree), MAX_AGREEMENT)
        reason += f"; it says {', '.join(agree)}, like this failure"
    if not issue.is_open:
        confidence -= CLOSED_PENALTY
    return Match(issue, max(confidence, 0.0), f"{reason}; {_state_words(issue)}", "tracker", rule)


def _registry_match(known: KnownIssue, f: Failure, issues: dict[int, Issue]) -> Match:
    issue = issues.get(known.number) or Issue(known.number, known.title, "open", known.url)
    what = canonical_test_id(f.test_id) or f.test_file
    reason = f"reviewed registry entry ({known.kind}) covers `{what}`"
    if known.message:
        reason += " and its message"
    confidence = CONFIDENCE["registry"] - (0 if issue.is_open else CLOSED_PENALTY)
    return Match(issue, confidence, f"{reason}; {_state_words(issue)}", "registry", "registry",
                 known)


def rank(f: Failure, issues: Sequence[Issue], registry: Registry | None = None) -> list[Match]:
    """Candidate issues for ``f``, best first, each with a confidence in [0, 1] and a reason.

    Order: a registry rule, then titles containing the full id, ``Class.method``, the method,
    the class, the file, then message similarity; at equal rule an open issue ranks above a
    closed one (which is reported "closed — maybe reopen").
    """
    by_number = {issue.number: issue for issue in issues}
    matches: dict[int, Match] = {}
    if registry is not None:
        for known in registry.match(f):
            matches.setdefault(known.number, _registry_match(known, f, by_number))
    for issue in issues:
        if issue.number in matches:
            continue
        match = _tracker_match(f, issue)
        if match is not None:
            matches[issue.number] = match
    return sorted(
        matches.values(),
        key=lambda m: (
            -round(m.confidence, 6),
            not m.issue.is_open,
            -message_similarity(f.message, m.issue),
            -m.issue.number,
        ),
    )


def classify(f: Failure, matches: Sequence[Match]) -> str:
    """The failure's state: "known", "flaky" (known, and the registry or the re-run says
    flaky) or "new".

    Known means a registry entry covers it, or an open issue matches by the test method or
    better (confidence ≥ KNOWN_THRESHOLD). A closed match alone leaves the failure "new".
    """
    for m in matches:
        if m.source == "registry" or (m.issue.is_open and m.confidence >= KNOWN_THRESHOLD):
            registry_flaky = m.known_issue is not None and m.known_issue.kind == "flaky"
            return "flaky" if registry_flaky or f.passed_on_rerun else "known"
    return "new"
