"""What the local fleet's history contains, stated as data (the contract for integration tests).

``bbwatch fleet up`` builds the master config (``mastercfg.py``), the git repository
(``repo.py``) and the change feed (``feed.py``) from these tables, and
``tests/integration/test_fleet.py`` checks through the real REST API that the history matches
them. Other integration tests should look things up here instead of hard-coding names.

Conventions:
- Build numbers start at 1 on every builder; build ``n`` of a builder is the build of the
  ``n``-th push to its branch (builds of one builder run one at a time, oldest request first),
  except after a RETRY: Buildbot runs the retried request again as a later build (here the
  builder's last push is the one retried, so the retry is its next build number).
- Test ids are as regrtest prints them with ``--testdir``: ``test_bbw_calc.MeanTests.test_x``
  (no ``test.`` prefix, because the suite is not the stdlib's ``test`` package).
- Results use Buildbot's words in lower case: success, warnings, failure, exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bbwatch_fleet import sources

SUCCESS, WARNINGS, FAILURE, EXCEPTION = "success", "warnings", "failure", "exception"
RETRY = "retry"
RESULT_CODES = {SUCCESS: 0, WARNINGS: 1, FAILURE: 2, EXCEPTION: 4, RETRY: 5}

PROJECT = "cpython"
# Branch tag (CPython's BranchInfo.builder_tag) per branch of the history.
BRANCH_TAGS = {"main": "3.x", "3.14": "3.14", "PR": "PullRequest"}
PR_NUMBER = 130400
PR_REF = f"refs/pull/{PR_NUMBER}/merge"
# Change property set on the last commit of each push: only that change triggers builds.
PUSH_TIP = "push_tip"

CORE_TESTS = ("test_bbw_calc", "test_bbw_strings", "test_bbw_os")
REFLEAK_TESTS = (*CORE_TESTS, "test_bbw_cache")  # refleak builders hunt leaks in the cache
DEFAULT_TIMEOUT = 60  # regrtest --timeout, seconds (CPython's is 1200)


@dataclass(frozen=True)
class Worker:
    name: str
    max_builds: int
    started: bool = True  # False: declared in master.cfg but never started (disconnected)
    admin: str = "bbwatch local fleet <fleet@example.org>"  # worker info: the owner


@dataclass(frozen=True)
class Builder:
    name: str
    branch: str  # key of BRANCH_TAGS
    tags: tuple[str, ...]
    worker: str
    tests: tuple[str, ...] = CORE_TESTS
    env: dict[str, str] = field(default_factory=dict)
    configure_flags: tuple[str, ...] = ()
    timeout: int = DEFAULT_TIMEOUT
    prioritize: bool = False  # the master-side renderer that raises on one commit (EXCEPTION)
    # A sick machine (see SICK): build number -> (test file, error) the machine breaks
    sick: dict[int, tuple[str, str]] = field(default_factory=dict)
    results: tuple[str, ...] = ()  # expected result of build 1, 2, ... in order

    @property
    def stable(self) -> bool:
        return "stable" in self.tags


@dataclass(frozen=True)
class Commit:
    key: str
    title: str
    author: str  # "Name <email>"
    files: dict[str, str]  # path -> new full text
    body: str = ""


@dataclass(frozen=True)
class Push:
    branch: str  # git branch or ref the changes are reported on
    commits: tuple[str, ...]  # Commit keys, oldest first, sent together (one buildset)


@dataclass(frozen=True)
class Scenario:
    kind: str
    builder: str
    build: int  # build number on that builder
    result: str
    step: str = "test"
    test_file: str | None = None
    test_id: str | None = None
    # Substrings that occur in that step's stdio raw log (/api/v2/logs/<logid>/raw).
    log_lines: tuple[str, ...] = ()
    note: str = ""


WORKERS = (
    Worker("bbw-debian-amd64", max_builds=2),
    Worker("bbw-fedora-amd64", max_builds=2),
    Worker("bbw-win11-amd64", max_builds=2),
    Worker("bbw-arch-amd64", max_builds=1),  # killed once mid-build (RETRY), then restarted
    Worker("bbw-fedora-ppc64le", max_builds=1, started=False),
    # A volunteer's machine that is sick (full disk, short of memory): every build of both its
    # builders fails a different, unrelated test that passes at the same revision elsewhere.
    Worker("bbw-ubuntu-arm64", max_builds=1,
           admin="Ines Moreau <ines.moreau@example.org>"),
)
DISCONNECTED_WORKER = "bbw-fedora-ppc64le"
SICK_WORKER = "bbw-ubuntu-arm64"
ENOSPC, NOMEM = "ENOSPC", "MemoryError"  # the errors the sick machine raises (sources.SICK)

S, W, F, E, R = SUCCESS, WARNINGS, FAILURE, EXCEPTION, RETRY
LINUX, FEDORA, WIN = "bbw-debian-amd64", "bbw-fedora-amd64", "bbw-win11-amd64"

BUILDERS: tuple[Builder, ...] = (
    # --- main (3.x): 6 pushes ---
    Builder("AMD64 Debian root 3.x", "main", ("3.x", "stable", "tier-1"), LINUX,
            results=(S, F, F, S, F, F)),
    Builder("AMD64 Ubuntu Shared 3.x", "main", ("3.x", "stable", "tier-1", "shared"), LINUX,
            configure_flags=("--enable-shared",), results=(S, F, F, S, F, F)),
    Builder("AMD64 Fedora Stable Refleaks 3.x", "main",
            ("3.x", "stable", "tier-1", "refleak"), FEDORA, tests=REFLEAK_TESTS,
            env={"BBW_HUNT_REFLEAKS": "1"}, configure_flags=("--with-pydebug",),
            results=(S, F, F, F, F, F)),
    Builder("AMD64 Fedora Rawhide 3.x", "main", ("3.x", "unstable", "tier-1"), FEDORA,
            tests=(*CORE_TESTS, "test_bbw_locale"), results=(F, F, F, F, F, F)),
    Builder("AMD64 FreeBSD14 3.x", "main", ("3.x", "unstable", "tier-3"), LINUX,
            env={"BBW_PLATFORM": "freebsd"}, results=(S, F, F, S, F, F)),
    Builder("AMD64 Windows11 3.x", "main", ("3.x", "stable", "tier-1", "win64"), WIN,
            env={"BBW_PLATFORM": "windows"}, results=(S, F, F, S, F, F)),
    Builder("ARM64 Ubuntu 3.x", "main", ("3.x", "unstable", "tier-2"), SICK_WORKER,
            sick={1: ("test_bbw_strings", ENOSPC), 2: ("test_bbw_os", NOMEM),
                  3: ("test_bbw_strings", NOMEM), 4: ("test_bbw_os", ENOSPC),
                  5: ("test_bbw_strings", ENOSPC), 6: ("test_bbw_calc", NOMEM)},
            results=(F, F, F, F, F, F)),
    Builder("PPC64LE Fedora Stable LTO + PGO 3.x", "main",
            ("3.x", "stable", "tier-2", "lto", "pgo", "nondebug"), DISCONNECTED_WORKER,
            configure_flags=("--with-lto", "--enable-optimizations"), results=()),
    # --- 3.14: 4 pushes ---
    Builder("AMD64 Debian root 3.14", "3.14", ("3.14", "stable", "tier-1"), LINUX,
            tests=(*CORE_TESTS, "test_bbw_events"), results=(S, S, S, S)),
    Builder("AMD64 CentOS9 NoGIL 3.14", "3.14", ("3.14", "stable", "tier-1", "nogil"), FEDORA,
            tests=(*CORE_TESTS, "test_bbw_events"), env={"BBW_FLAKY": "1"},
            configure_flags=("--disable-gil",), results=(W, W, W, W)),
    Builder("AMD64 Windows11 Non-Debug 3.14", "3.14",
            ("3.14", "stable", "tier-1", "win64", "nondebug"), WIN,
            tests=(*CORE_TESTS, "test_bbw_net"), env={"BBW_PLATFORM": "windows"}, timeout=5,
            results=(S, F, S, F)),
    Builder("aarch64 CentOS10 LTO 3.14", "3.14",
            ("3.14", "unstable", "tier-2", "lto", "nondebug"), FEDORA,
            tests=(*CORE_TESTS, "test_bbw_parser"), env={"BBW_LTO": "1"},
            configure_flags=("--with-lto",), results=(F, F, F, F)),
    Builder("ARM64 macOS 3.14", "3.14", ("3.14", "stable", "tier-2"), LINUX,
            prioritize=True, results=(S, S, E, S)),
    Builder("AMD64 Arch Linux Asan 3.14", "3.14", ("3.14", "unstable", "asan", "sanitizer"),
            "bbw-arch-amd64", tests=(*CORE_TESTS, "test_bbw_memory"),
            env={"BBW_OOM_BUILD": "4"}, results=(S, S, S, R, S)),
    Builder("ARM64 Ubuntu 3.14", "3.14", ("3.14", "unstable", "tier-2"), SICK_WORKER,
            sick={1: ("test_bbw_os", NOMEM), 2: ("test_bbw_calc", ENOSPC),
                  3: ("test_bbw_strings", NOMEM), 4: ("test_bbw_os", ENOSPC)},
            results=(F, F, F, F)),
    # --- pull request 130400: 2 pushes ---
    Builder("AMD64 Windows PGO NoGIL PR", "PR",
            ("PullRequest", "unstable", "win64", "nogil", "nondebug", "pgo", "tier-1"), WIN,
            env={"BBW_PLATFORM": "windows"},
            configure_flags=("--enable-optimizations", "--disable-gil"), results=(S, F)),
    Builder("AMD64 Fedora Stable Refleaks PR", "PR",
            ("PullRequest", "stable", "tier-1", "refleak"), FEDORA, tests=REFLEAK_TESTS,
            env={"BBW_HUNT_REFLEAKS": "1"}, configure_flags=("--with-pydebug",),
            results=(S, F)),
)

_A = {
    "ada": "Ada Lindqvist <ada.lindqvist@example.org>",
    "bruno": "Bruno Okafor <bruno.okafor@example.org>",
    "chen": "Chen Wei <chen.wei@example.org>",
    "dora": "Dora Szabo <dora.szabo@example.org>",
    "emil": "Emil Novak <emil.novak@example.org>",
    "farah": "Farah Haddad <farah.haddad@example.org>",
    "miss-islington": "Miss Islington (bot) <miss-islington-bot@example.org>",
}


def _c(key: str, title: str, author: str, files: dict[str, str], body: str = "") -> Commit:
    return Commit(key, title, _A[author], files, body)


_CALC_TEST_MEDIAN = {"Lib/test/test_bbw_calc.py": sources.TEST_CALC_MEDIAN}
COMMITS: tuple[Commit, ...] = (
    # main
    _c("c1", "gh-130001: Add bbw_calc.median() (#130002)", "ada",
       {"Lib/bbw_calc.py": sources.CALC_MEDIAN, **_CALC_TEST_MEDIAN}),
    _c("c2", "gh-130010: Cache converted keys in bbw_cache.lookup() (#130011)", "bruno",
       {"Lib/bbw_cache.py": sources.CACHE_LEAK}),
    _c("c3", "gh-130020: Speed up bbw_calc.mean() (#130021)", "chen",
       {"Lib/bbw_calc.py": sources.CALC_REGRESSED},
       "Use floor division on the sum: avoids a float conversion."),
    _c("c4", "gh-130030: Add a NULL check to bbw_fill_timespec() (#130031)", "dora",
       {"Modules/bbw_timemodule.c": sources.TIMEMODULE_C_NULLCHECK}),
    _c("c5", "gh-130040: Use CLOCK_UPTIME_FAST on FreeBSD in bbw_timemodule.c (#130041)",
       "emil", {"Modules/bbw_timemodule.c": sources.TIMEMODULE_C_FREEBSD_BROKEN}),
    _c("c6", "gh-130050: Fix bbw_calc.mean() for empty and non-integer input (#130051)", "chen",
       {"Lib/bbw_calc.py": sources.CALC_MEDIAN},
       "Fix a regression introduced by gh-130020."),
    _c("c7", "gh-130060: Fix the FreeBSD build of bbw_timemodule.c (#130061)", "emil",
       {"Modules/bbw_timemodule.c": sources.TIMEMODULE_C_FREEBSD_FIXED}),
    _c("c8", "gh-130070: Report nanosecond mtime in bbw_os.describe() (#130071)", "farah",
       {"Lib/bbw_os.py": sources.OS_NS}),
    _c("c9", "gh-130080: Document that bbw_strings.wrap() keeps long words (#130081)", "ada",
       {"Lib/bbw_strings.py": sources.STRINGS_DOCS}),
    _c("c10", "gh-130090: Add bbw_strings.center() (#130091)", "dora",
       {"Lib/bbw_strings.py": sources.STRINGS_CENTER}),
    _c("c11", "gh-130140: Join wrapped lines with the platform's line separator (#130141)",
       "bruno", {"Lib/bbw_textsep.py": sources.TEXTSEP, "Lib/test/test_bbw_strings.py":
                 sources.TEST_STRINGS_SEP}),
    # 3.14 (backports)
    _c("d1", "[3.14] gh-130001: Add bbw_calc.median() (GH-130002) (#130100)", "miss-islington",
       {"Lib/bbw_calc.py": sources.CALC_MEDIAN, **_CALC_TEST_MEDIAN}),
    _c("d2", "[3.14] gh-129910: Retry bbw_net.fetch() on EAGAIN (GH-129911) (#130110)",
       "miss-islington", {"Lib/bbw_net.py": sources.NET_RETRY_FOREVER}),
    _c("d3", "[3.14] gh-129920: Give up after three EAGAIN in bbw_net.fetch() (GH-129921) "
       "(#130120)", "miss-islington", {"Lib/bbw_net.py": sources.NET_RETRY_FIXED}),
    _c("d4", "[3.14] gh-129930: Add the _bbwjson accelerator module (GH-129931) (#130121)",
       "miss-islington", {"Modules/_bbwjson.c": sources.JSONMODULE_C}),
    _c("d5", "[3.14] gh-130080: Document that bbw_strings.wrap() keeps long words (GH-130081) "
       "(#130130)", "miss-islington", {"Lib/bbw_strings.py": sources.STRINGS_DOCS}),
    _c("d6", "[3.14] gh-130140: Join wrapped lines with the platform's line separator "
       "(GH-130141) (#130150)", "miss-islington",
       {"Lib/bbw_textsep.py": sources.TEXTSEP, "Lib/test/test_bbw_strings.py":
        sources.TEST_STRINGS_SEP}),
    # pull request 130400 (based on main at c1)
    _c("e1", "gh-130400: Add bbw_strings.title()", "farah",
       {"Lib/bbw_strings.py": sources.STRINGS_TITLE,
        "Lib/test/test_bbw_strings.py": sources.TEST_STRINGS_TITLE}),
    _c("e2", "gh-130400: Use str.title() in bbw_strings.title()", "farah",
       {"Lib/bbw_strings.py": sources.STRINGS_TITLE_BROKEN}),
)
COMMITS_BY_KEY = {c.key: c for c in COMMITS}

# Where each line of commits starts: the base commit ("Initial import") or another commit.
LINES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "main": (None, ("c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10")),
    "3.14": (None, ("d1", "d2", "d3", "d4", "d5")),
    PR_REF: ("c1", ("e1", "e2")),
}
# Commits added to the tips of those lines later (committed after every line above, so the
# hashes of the commits above never change): the change c11 and its backport d6.
LATER_LINES: dict[str, tuple[str, tuple[str, ...]]] = {
    "main": ("c10", ("c11",)),
    "3.14": ("d5", ("d6",)),
}

# The order the changes reach the master; each push becomes one buildset on its branch.
PUSHES: tuple[Push, ...] = (
    Push("main", ("c1",)),
    Push("3.14", ("d1",)),
    Push(PR_REF, ("e1",)),
    Push("main", ("c2", "c3", "c4")),
    Push("3.14", ("d2",)),
    Push("main", ("c5",)),
    Push("3.14", ("d3", "d4")),
    Push(PR_REF, ("e2",)),
    Push("main", ("c6", "c7")),
    Push("3.14", ("d5", "d6")),
    Push("main", ("c8", "c9")),
    Push("main", ("c10", "c11")),
)

BUILDERS_BY_NAME = {b.name: b for b in BUILDERS}
GREEN_BUILDER = "AMD64 Debian root 3.14"
DISCONNECTED_BUILDER = "PPC64LE Fedora Stable LTO + PGO 3.x"
_MAIN_CORE = ("AMD64 Debian root 3.x", "AMD64 Ubuntu Shared 3.x",
              "AMD64 Fedora Stable Refleaks 3.x", "AMD64 Fedora Rawhide 3.x",
              "AMD64 FreeBSD14 3.x", "AMD64 Windows11 3.x",
              "ARM64 Ubuntu 3.x")  # the sick worker's builder fails it too: a real failure


@dataclass(frozen=True)
class Regression:
    """A failure introduced by one commit and (maybe) fixed by a later one."""

    test_ids: tuple[str, ...]
    builders: tuple[str, ...]
    introduced_by: str  # commit title
    first_bad_build: int  # build number, the same on every listed builder
    fixed_by: str | None  # commit title; None: still red at the end of the history
    first_good_build: int | None


def _title(key: str) -> str:
    return COMMITS_BY_KEY[key].title


REGRESSION = Regression(
    test_ids=("test_bbw_calc.MeanTests.test_mean_float", "test_bbw_calc.MeanTests.test_mean_empty"),
    builders=("AMD64 Debian root 3.x", "AMD64 Ubuntu Shared 3.x", "AMD64 FreeBSD14 3.x",
              "AMD64 Windows11 3.x"),
    introduced_by=_title("c3"), first_bad_build=2, fixed_by=_title("c6"), first_good_build=4)
# The still-red streak: builds 5 and 6 of every main builder fail test_describe_keys.
STILL_RED = Regression(
    test_ids=("test_bbw_os.DescribeTests.test_describe_keys",),
    builders=_MAIN_CORE, introduced_by=_title("c8"), first_bad_build=5,
    fixed_by=None, first_good_build=None)
# Builds whose blamelist (/api/v2/builds/<id>/changes) holds several commits: (builder,
# build number, titles). A build's changes run back to the previous *successful* build.
MULTI_COMMIT_BUILDS: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("AMD64 Debian root 3.x", 2, (_title("c2"), _title("c3"), _title("c4"))),
    ("AMD64 Debian root 3.x", 4, tuple(_title(k) for k in ("c2", "c3", "c4", "c5", "c6", "c7"))),
    ("ARM64 macOS 3.14", 3, (_title("d3"), _title("d4"))),
)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("fail", "AMD64 Debian root 3.x", 2, FAILURE, test_file="test_bbw_calc",
             test_id="test_bbw_calc.MeanTests.test_mean_float",
             log_lines=("FAIL: test_mean_float (test_bbw_calc.MeanTests.test_mean_float)",
                        "AssertionError: 2 != 2.5", "test_bbw_calc failed")),
    Scenario("error", "AMD64 Debian root 3.x", 2, FAILURE, test_file="test_bbw_calc",
             test_id="test_bbw_calc.MeanTests.test_mean_empty",
             log_lines=("ERROR: test_mean_empty (test_bbw_calc.MeanTests.test_mean_empty)",
                        "ZeroDivisionError")),
    Scenario("flaky", "AMD64 CentOS9 NoGIL 3.14", 1, WARNINGS, test_file="test_bbw_events",
             test_id="test_bbw_events.EventTests.test_wakeup_race",
             log_lines=("test test_bbw_events failed",
                        "Re-running test_bbw_events in verbose mode (matching: test_wakeup_race)",
                        "Result: FAILURE then SUCCESS"),
             note="fails on the first run, passes on the re-run; the same revision passes on "
                  "AMD64 Debian root 3.14"),
    Scenario("env_changed", "AMD64 Fedora Rawhide 3.x", 1, FAILURE, test_file="test_bbw_locale",
             test_id="test_bbw_locale.LocaleTests.test_setlocale_env",
             log_lines=("Warning -- os.environ was modified by test_bbw_locale",
                        "test_bbw_locale failed (env changed)", "ENV CHANGED")),
    Scenario("timeout", "AMD64 Windows11 Non-Debug 3.14", 2, FAILURE, test_file="test_bbw_net",
             test_id="test_bbw_net.FetchTests.test_fetch_eagain",
             log_lines=("Timeout (0:00:05)!", "test_bbw_net", "in fetch")),
    Scenario("crash", "aarch64 CentOS10 LTO 3.14", 1, FAILURE, test_file="test_bbw_parser",
             test_id="test_bbw_parser.ParserTests.test_parse_deep",
             log_lines=("Fatal Python error: Aborted",
                        "test_bbw_parser worker non-zero exit code (Exit code -6 (SIGABRT))")),
    Scenario("compile_failure", "AMD64 FreeBSD14 3.x", 3, FAILURE, step="compile",
             log_lines=("error: expected", "bbw_timemodule.c")),
    Scenario("refleak", "AMD64 Fedora Stable Refleaks 3.x", 4, FAILURE, test_file="test_bbw_cache",
             test_id="test_bbw_cache.CacheTests.test_lookup_leaks",
             log_lines=("beginning 6 repetitions",
                        "test_bbw_cache leaked [1, 1, 1] references, sum=3"),
             note="emulated: regrtest -R needs a debug build; the test repeats the call like -R "
                  "and prints CPython's line shape"),
    Scenario("exception", "ARM64 macOS 3.14", 3, EXCEPTION, step="test",
             note="a master-side renderer raises KeyError for Modules/_bbwjson.c"),
    Scenario("pr_failure", "AMD64 Windows PGO NoGIL PR", 2, FAILURE, test_file="test_bbw_strings",
             test_id="test_bbw_strings.TitleTests.test_title_apostrophe",
             log_lines=("FAIL: test_title_apostrophe",)),
    Scenario("retry", "AMD64 Arch Linux Asan 3.14", 4, RETRY,
             note="the worker process is SIGKILLed during the test step (an emulated OOM kill); "
                  "fleet up restarts the worker and Buildbot runs the same build request again "
                  "as build 5 (the builder's last push, so no other request can go first)"),
    Scenario("green", GREEN_BUILDER, 4, SUCCESS, note="every build succeeds"),
    Scenario("sick_worker", "ARM64 Ubuntu 3.x", 6, FAILURE, test_file="test_bbw_calc",
             test_id="test_bbw_calc.MeanTests.test_mean_int",
             log_lines=("MemoryError", "test_bbw_calc failed"),
             note=f"worker {SICK_WORKER} (two builders) fails another test in every build, "
                  "with No space left on device or MemoryError; the same revisions pass "
                  "those tests on the other workers"),
    Scenario("backport", "AMD64 Windows11 Non-Debug 3.14", 4, FAILURE,
             test_file="test_bbw_strings", test_id="test_bbw_strings.JoinTests.test_join_lines",
             log_lines=("FAIL: test_join_lines", "AssertionError"),
             note="gh-130140 (c11, main) and its 3.14 backport (d6) break the same test on the "
                  "Windows builders of both branches"),
    Scenario("disconnected", DISCONNECTED_BUILDER, 0, "", step="",
             note=f"worker {DISCONNECTED_WORKER} is never started; the builder has no builds"),
)


SCENARIOS_BY_KIND = {s.kind: s for s in SCENARIOS}
# The change and its backport that break test_bbw_strings on main and on 3.14 (Windows only).
BACKPORT = Regression(
    test_ids=("test_bbw_strings.JoinTests.test_join_lines",),
    builders=("AMD64 Windows11 3.x", "AMD64 Windows11 Non-Debug 3.14"),
    introduced_by=_title("c11"), first_bad_build=6, fixed_by=None, first_good_build=None)
BACKPORT_TITLES = (_title("c11"), _title("d6"))
SICK_BUILDERS = tuple(b.name for b in BUILDERS if b.sick)


def scenario(kind: str) -> Scenario:
    """The scenario of that kind, e.g. ``scenario("flaky").builder``."""
    return SCENARIOS_BY_KIND[kind]


def builders_for_branch(branch: str) -> list[Builder]:
    """Builders (with a started worker) that build ``branch`` (a key of BRANCH_TAGS)."""
    return [b for b in BUILDERS if b.branch == branch and b.results]


def push_branch_key(push: Push) -> str:
    return "PR" if push.branch.startswith("refs/pull/") else push.branch


def expected_build_count() -> int:
    return sum(len(b.results) for b in BUILDERS)
