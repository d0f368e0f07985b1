"""Deterministic data for a CPython-sized Buildbot fleet, shaped like Buildbot 4.3's REST API v2.

Everything is derived from a seed, so two runs serve byte-identical resources. Build metadata
is generated up front (150 x 200 builds is a few MB of dicts); logs are generated on demand
and cached, because a fleet's logs are far bigger than its metadata. Key sets follow
``buildbot/data/*.py`` ``EntityType`` fields (see ``tests/test_faults.py`` for the check
against a real master).
"""

from __future__ import annotations

import functools
import hashlib
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from tests import hostile as hostile_payloads

T0 = 1767225600  # 2026-01-01T00:00:00Z: first build of every builder
BUILD_INTERVAL = 3600
BRANCHES = ("3.x", "3.14", "3.13", "3.12", "PR")
STEP_NAMES = ("git", "configure", "compile", "pythoninfo", "test", "clean")
TEST_STEP = STEP_NAMES.index("test")
MASTERID = 1

# (platform, worker, tags): 30 definitions x 5 branches = 150 builders, like buildbot.python.org.
BUILDER_DEFS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("AMD64 Debian root", "angelico-debian-amd64", ("stable", "tier-1")),
    ("AMD64 Ubuntu Shared", "bolen-ubuntu", ("stable", "tier-1", "shared")),
    (
        "AMD64 Fedora Stable Refleaks",
        "cstratak-fedora-stable-x86_64",
        ("stable", "tier-1", "refleak"),
    ),
    (
        "AMD64 Fedora Stable LTO + PGO",
        "cstratak-fedora-stable-x86_64",
        ("stable", "tier-1", "lto", "pgo", "nondebug"),
    ),
    ("AMD64 RHEL8 LTO", "cstratak-RHEL8-x86_64", ("stable", "tier-1", "lto", "nondebug")),
    ("AMD64 CentOS9 NoGIL", "itamaro-centos-aws", ("stable", "tier-1", "nogil")),
    ("AMD64 Windows10", "bolen-windows10", ("stable", "tier-1", "win64")),
    ("AMD64 Windows11 Non-Debug", "kloth-win11", ("stable", "tier-1", "win64", "nondebug")),
    ("aarch64 Ubuntu Oddballs", "stan-aarch64-ubuntu", ("stable", "tier-1", "xpickle", "tzdata")),
    (
        "AMD64 Windows Server 2025 Refleaks",
        "itamaro-win64-srv-22-aws",
        ("stable", "tier-1", "win64", "refleak"),
    ),
    (
        "PPC64LE Fedora Stable LTO + PGO",
        "cstratak-fedora-stable-ppc64le",
        ("stable", "tier-2", "lto", "pgo"),
    ),
    (
        "aarch64 Fedora Stable Clang Installed",
        "cstratak-fedora-stable-aarch64",
        ("stable", "tier-2", "clang", "installed"),
    ),
    ("aarch64 RHEL8 Refleaks", "cstratak-RHEL8-aarch64", ("stable", "tier-2", "refleak")),
    ("ARM64 macOS", "pablogsal-macos-m1", ("stable", "tier-2")),
    (
        "ARM64 MacOS M1 Refleaks NoGIL",
        "itamaro-macos-arm64-aws",
        ("stable", "tier-2", "refleak", "nogil"),
    ),
    (
        "x86-64 MacOS Intel ASAN NoGIL",
        "itamaro-macos-intel-aws",
        ("stable", "tier-2", "asan", "sanitizer", "nogil"),
    ),
    ("wasm32-wasi Non-Debug", "bcannon-wasi", ("stable", "tier-2", "wasm", "wasi", "nondebug")),
    ("ARM64 Windows Non-Debug", "linaro-win-arm64", ("stable", "tier-2", "win-arm64", "nondebug")),
    ("s390x RHEL9 Refleaks", "edelsohn-rhel9-z", ("stable", "tier-3", "refleak")),
    ("ARM Raspbian", "gps-raspbian", ("stable", "tier-3")),
    ("AMD64 FreeBSD14", "ware-freebsd", ("stable", "tier-3")),
    ("iOS ARM64 Simulator", "rkm-arm64-ios-simulator", ("stable", "tier-3", "iOS")),
    ("AMD64 Alpine Linux", "ware-alpine", ("stable",)),
    ("AMD64 Arch Linux Asan Debug", "pablogsal-arch-x86_64", ("stable", "asan", "sanitizer")),
    ("AMD64 Fedora Rawhide", "cstratak-fedora-rawhide-x86_64", ("unstable", "tier-1")),
    ("aarch64 Ubuntu 24.04 BigMem", "diegorusso-aarch64-bigmem", ("unstable", "tier-1", "bigmem")),
    ("AMD64 Arch Linux Valgrind", "pablogsal-arch-x86_64", ("unstable",)),
    (
        "PPC64LE Fedora Rawhide Clang",
        "cstratak-fedora-rawhide-ppc64le",
        ("unstable", "tier-3", "clang"),
    ),
    ("SPARCv9 Oracle Solaris 11.4", "kulikjak-solaris-sparcv9", ("unstable",)),
    ("AMD64 NixOS Unstable Perf", "ambv-nixos", ("unstable",)),
)

TEST_MODULES = (
    "test_asyncio.test_tasks",
    "test_os",
    "test_socket",
    "test_ssl",
    "test_subprocess",
    "test_threading",
    "test_multiprocessing_spawn.test_processes",
    "test_concurrent_futures",
    "test_gdb.test_backtrace",
    "test_ftplib",
    "test_imaplib",
    "test_logging",
    "test_signal",
    "test_selectors",
    "test_httplib",
    "test_urllib2_localnet",
    "test_zoneinfo",
    "test_time",
    "test_capi.test_misc",
    "test_sys",
    "test_regrtest",
    "test_tarfile",
    "test_zipfile",
    "test_pathlib",
    "test_shutil",
    "test_venv",
    "test_tools.test_freeze",
    "test_xml_etree",
)
PASSING_MODULES = tuple(f"test_mod{i:03d}" for i in range(440))

AUTHORS = (
    ("Victor Stinner", "vstinner@python.org"),
    ("Serhiy Storchaka", "storchaka@gmail.com"),
    ("Petr Viktorin", "encukou@gmail.com"),
    ("Sam Gross", "colesbury@gmail.com"),
    ("Hugo van Kemenade", "hugovk@users.noreply.github.com"),
    ("Pablo Galindo", "pablogsal@gmail.com"),
    ("Erlend E. Aasland", "erlend@python.org"),
    ("Bénédikt Tran", "picnixz@users.noreply.github.com"),
)


def _rng(*parts: object) -> random.Random:
    return random.Random(":".join(map(str, parts)))


def _sha(*parts: object) -> str:
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()


@dataclass
class BuildSpec:
    """What a generated build is: enough to produce its resources and its logs."""

    buildid: int
    builderid: int
    number: int
    started_at: int
    duration: int
    results: int  # 0 success, 1 warnings (flaky), 2 failure, 4 exception
    failed_step: int  # index into STEP_NAMES of the step that decided the result
    failing_tests: tuple[str, ...]  # test ids (module.Class.test) that failed
    rerun_passed: bool  # WARNINGS: failed then passed when re-run
    revision: str
    change: dict[str, object]


@dataclass
class Fleet:
    """A generated fleet. Thread-safe: the server reads it from many handler threads."""

    builders: int = 150
    builds: int = 200
    seed: int = 1
    log_kb: int = 200
    hostile: bool = False
    builder_rows: list[dict[str, object]] = field(default_factory=list)
    worker_rows: list[dict[str, object]] = field(default_factory=list)
    specs: dict[int, BuildSpec] = field(default_factory=dict)  # buildid -> spec
    by_builder: dict[int, list[int]] = field(default_factory=dict)  # builderid -> buildids
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._make_builders_and_workers()
        for k in range(self.builds):
            for b in range(1, self.builders + 1):
                self._add_build(b, k * self.builders + b)
        self._log_cache = functools.lru_cache(maxsize=128)(self._make_log)
        self._num_lines: dict[int, int] = {}

    # -- generation -------------------------------------------------------------------------
    def _make_builders_and_workers(self) -> None:
        worker_names: dict[str, int] = {}
        configured: dict[int, list[int]] = {}
        for b in range(1, self.builders + 1):
            platform, worker, tags = BUILDER_DEFS[(b - 1) % len(BUILDER_DEFS)]
            branch = BRANCHES[((b - 1) // len(BUILDER_DEFS)) % len(BRANCHES)]
            cycle = (b - 1) // (len(BUILDER_DEFS) * len(BRANCHES))
            if cycle:  # more builders than defs x branches: keep names unique
                platform = f"{platform} #{cycle + 1}"
            name = f"{platform} {branch}"
            tag = "PullRequest" if branch == "PR" else branch
            if self.hostile and b in hostile_payloads.HOSTILE_BUILDERS:
                name = hostile_payloads.builder_name(b)
                worker = hostile_payloads.worker_name(b)
            workerid = worker_names.setdefault(worker, len(worker_names) + 1)
            configured.setdefault(workerid, []).append(b)
            self.builder_rows.append(
                {
                    "builderid": b,
                    "name": name,
                    "masterids": [MASTERID],
                    "description": None,
                    "description_format": None,
                    "description_html": None,
                    "projectid": None,
                    "tags": [tag, *tags],
                }
            )
        for worker, workerid in worker_names.items():
            admin = "Buildbot Owner <owner@example.org>"
            self.worker_rows.append(
                {
                    "workerid": workerid,
                    "name": worker,
                    # a few workers are offline, like on any large fleet
                    "connected_to": [] if workerid % 11 == 0 else [{"masterid": MASTERID}],
                    "configured_on": [
                        {"builderid": b, "masterid": MASTERID} for b in configured[workerid]
                    ],
                    "workerinfo": {
                        "admin": admin,
                        "host": f"{worker}.example.org",
                        "version": "4.3.0",
                        "access_uri": None,
                    },
                    "paused": False,
                    "pause_reason": None,
                    "graceful": False,
                }
            )
        self.worker_of = {b: wid for wid, bs in configured.items() for b in bs}

    def _builder_kind(self, builderid: int) -> str:
        """Healthy, flaky or broken: the mix that makes a fleet worth watching."""
        roll = _rng(self.seed, "kind", builderid).random()
        return "broken" if roll < 0.08 else "flaky" if roll < 0.35 else "healthy"

    def _add_build(self, builderid: int, buildid: int) -> BuildSpec:
        numbers = self.by_builder.setdefault(builderid, [])
        number = len(numbers)
        rng = _rng(self.seed, "build", builderid, number)
        kind = self._builder_kind(builderid)
        branch = self.builder_rows[builderid - 1]["tags"][0]
        # broken builders fail from 80% of their history on (a streak the pages must show)
        broken_now = kind == "broken" and number >= self.builds * 0.8
        roll = rng.random()
        results, failed_step, tests, rerun_passed = 0, -1, (), False
        if roll < 0.01:
            results, failed_step = 4, TEST_STEP
        elif roll < 0.02:
            results, failed_step = 2, STEP_NAMES.index("compile")
        elif broken_now or roll < 0.05:
            results, failed_step = 2, TEST_STEP
            mod = TEST_MODULES[(builderid * 7 + (0 if broken_now else number)) % len(TEST_MODULES)]
            tests = (f"test.{mod}.{_class(mod)}.test_{_word(rng)}",)
        elif kind == "flaky" and roll < 0.25:
            results, failed_step, rerun_passed = 1, TEST_STEP, True
            mod = TEST_MODULES[rng.randrange(len(TEST_MODULES))]
            tests = (f"test.{mod}.{_class(mod)}.test_{_word(rng)}",)
        started = T0 + number * BUILD_INTERVAL + builderid * 7
        k = number  # same commit across one branch's builders at the same round
        author, email = AUTHORS[_rng(self.seed, "author", branch, k).randrange(len(AUTHORS))]
        revision = _sha(self.seed, branch, k)
        module = TEST_MODULES[k % len(TEST_MODULES)]
        comments = f"gh-{120000 + k}: Fix {module} on {branch} (#{130000 + k})"
        if self.hostile and builderid in hostile_payloads.HOSTILE_BUILDERS:
            author, email = hostile_payloads.AUTHOR, "evil@example.org"
            comments = hostile_payloads.COMMIT_MESSAGE
            if results in (0, 4):
                results, failed_step = 2, TEST_STEP
            tests = (hostile_payloads.TEST_ID,)
        change = {
            "changeid": buildid,
            "parent_changeids": [buildid - self.builders] if number else [],
            "author": f"{author} <{email}>",
            "committer": f"{author} <{email}>",
            "files": [f"Lib/{TEST_MODULES[k % len(TEST_MODULES)].replace('.', '/')}.py"],
            "comments": comments,
            "revision": revision,
            "when_timestamp": started - 60,
            "branch": "main" if branch == "3.x" else branch,
            "category": None,
            "revlink": f"https://github.com/python/cpython/commit/{revision}",
            "properties": {},
            "repository": "https://github.com/python/cpython",
            "project": "",
            "codebase": "",
            "sourcestamp": {
                "ssid": buildid,
                "revision": revision,
                "branch": branch,
                "repository": "https://github.com/python/cpython",
                "project": "",
                "codebase": "",
                "patch": None,
                "created_at": started - 60,
            },
        }
        spec = BuildSpec(
            buildid,
            builderid,
            number,
            started,
            1500 + rng.randrange(1500),
            results,
            failed_step,
            tests,
            rerun_passed,
            revision,
            change,
        )
        self.specs[buildid] = spec
        numbers.append(buildid)
        return spec

    def add_builds(self, n: int) -> list[int]:
        """Append ``n`` completed builds, one per builder round-robin (the warm10 scenario)."""
        with self.lock:
            added = []
            for i in range(n):
                builderid = i % self.builders + 1
                buildid = max(self.specs) + 1
                added.append(self._add_build(builderid, buildid).buildid)
            return added

    # -- resources --------------------------------------------------------------------------
    def build_row(self, spec: BuildSpec, properties: bool = False) -> dict[str, object]:
        state = {
            0: "build successful",
            1: "warnings test (warnings)",
            2: f"failed {STEP_NAMES[spec.failed_step]} (failure)",
            4: "exception interrupted",
        }
        row: dict[str, object] = {
            "buildid": spec.buildid,
            "number": spec.number,
            "builderid": spec.builderid,
            "buildrequestid": spec.buildid + 500000,
            "workerid": self.worker_of[spec.builderid],
            "masterid": MASTERID,
            "started_at": spec.started_at,
            "complete": True,
            "complete_at": spec.started_at + spec.duration,
            "locks_duration_s": 0,
            "results": spec.results,
            "state_string": state[spec.results],
            "properties": {},
        }
        if properties:
            row["properties"] = self.properties(spec)
        return row

    def properties(self, spec: BuildSpec) -> dict[str, list[object]]:
        builder = self.builder_rows[spec.builderid - 1]
        worker = self.worker_rows[self.worker_of[spec.builderid] - 1]
        return {
            "buildername": [builder["name"], "Builder"],
            "buildnumber": [spec.number, "Build"],
            "workername": [worker["name"], "Worker"],
            "got_revision": [spec.revision, "Git"],
            "revision": [spec.revision, "Build"],
            "branch": [spec.change["branch"], "Build"],
        }

    def steps(self, spec: BuildSpec) -> list[dict[str, object]]:
        rows = []
        t = spec.started_at
        for i, name in enumerate(STEP_NAMES):
            stepid = spec.buildid * 10 + i
            if spec.failed_step >= 0 and spec.failed_step < i < len(STEP_NAMES) - 1:
                results, state = 3, f"{name} (skipped)"  # steps after a failed one are skipped
            elif i == spec.failed_step:
                results = spec.results
                state = f"{'failed ' if results == 2 else ''}{name} ({_word_of(results)})"
            else:
                results, state = 0, name
            dur = spec.duration // len(STEP_NAMES)
            rows.append(
                {
                    "stepid": stepid,
                    "number": i,
                    "name": name,
                    "buildid": spec.buildid,
                    "started_at": t,
                    "locks_acquired_at": t,
                    "complete": True,
                    "complete_at": t + dur,
                    "results": results,
                    "state_string": state,
                    "urls": [],
                    "hidden": False,
                }
            )
            t += dur
        return rows

    def log_row(self, logid: int) -> dict[str, object] | None:
        spec = self.spec_for_log(logid)
        if spec is None:
            return None
        lines = self._num_lines.get(logid)
        if lines is None:  # generating a log is the expensive part: count its lines once
            lines = self._num_lines[logid] = self.log_text(logid).count("\n")
        return {
            "logid": logid,
            "name": "stdio",
            "slug": "stdio",
            "stepid": logid,
            "complete": True,
            "num_lines": lines,
            "type": "s",
        }

    def spec_for_log(self, logid: int) -> BuildSpec | None:
        """One stdio log per step, and logid == stepid == buildid * 10 + step number."""
        buildid, step = divmod(logid, 10)
        spec = self.specs.get(buildid)
        return spec if spec is not None and step < len(STEP_NAMES) else None

    def log_text(self, logid: int) -> str:
        return self._log_cache(logid)

    def _make_log(self, logid: int) -> str:
        spec = self.spec_for_log(logid)
        assert spec is not None
        step = logid % 10
        builder = self.builder_rows[spec.builderid - 1]
        worker = self.worker_rows[self.worker_of[spec.builderid] - 1]
        # Buildbot >= 4.0 prefixes stdio raw output with these three lines.
        head = [
            f"Builder: {builder['name']}",
            f"Build number: {spec.number}",
            f"Worker name: {worker['name']}",
        ]
        head += _command_header(STEP_NAMES[step], str(worker["name"]), self.hostile)
        if step != TEST_STEP or spec.failed_step < TEST_STEP and spec.failed_step >= 0:
            body = [f"{STEP_NAMES[step]}: done"] * 20
        else:
            body = list(_regrtest_lines(spec, self.seed, self.log_kb * 1024, self.hostile))
        return "\n".join(head + body) + "\n"


def _class(mod: str) -> str:
    return mod.rsplit(".", 1)[-1].replace("test_", "").title().replace("_", "") + "Tests"


_WORDS = ("fork", "timeout", "close", "cancel", "leak", "race", "signal", "reuse", "bind", "ssl")


def _word(rng: random.Random) -> str:
    return f"{rng.choice(_WORDS)}_{rng.choice(_WORDS)}"


def _word_of(results: int) -> str:
    return {0: "success", 1: "warnings", 2: "failure", 3: "skipped", 4: "exception"}[results]


def _command_header(step: str, worker: str, hostile: bool) -> list[str]:
    """What buildbot-worker writes before a command's output: argv, cwd and the environment."""
    lines = [
        "make buildbottest TESTOPTS=-j2 --junit-xml test-results.xml  TESTTIMEOUT=1200"
        if step == "test"
        else f"{step} command",
        f" in dir /buildbot/buildarea/3.x.{worker}/build (timeout 4800 secs)",
        " watching logfiles {}",
        f" argv: [b'make', b'{step}']",
        " environment:",
        "  BUILDBOT=1",
        "  HOME=/home/buildbot",
        "  LANG=C.UTF-8",
        "  PATH=/usr/local/bin:/usr/bin:/bin",
        f"  PWD=/buildbot/buildarea/3.x.{worker}/build",
        f"  USER={worker}",
    ]
    if hostile:
        lines += [f"  {line}" for line in hostile_payloads.ENV_LINES]
    lines.append(" using PTY: False")
    return lines


def _regrtest_lines(spec: BuildSpec, seed: int, size: int, hostile: bool) -> Iterator[str]:
    """A 3.13-style ``--slow-ci`` run, padded with passing tests to about ``size`` bytes."""
    rng = _rng(seed, "log", spec.buildid)
    yield "./python -E  -m test --slow-ci --timeout=1200 -j2 --junit-xml test-results.xml -j10"
    yield "== CPython 3.15.0a2+ (heads/main:" + spec.revision[:10] + ") [GCC 14.2.0]"
    yield "== Linux-6.12.0-amd64-x86_64-with-glibc2.41 little-endian"
    yield "== Python build: debug"
    yield "== CPU count: 8"
    yield "== encodings: locale=UTF-8 FS=utf-8"
    yield "== resources: all"
    yield f"Using random seed: {rng.randrange(10**7)}"
    failing = {t.rsplit(".", 2)[0] for t in spec.failing_tests}
    mods = sorted(failing) + list(PASSING_MODULES)
    total = len(mods)
    yield (
        f"0:00:00 load avg: 1.23 Run {total} tests in parallel using 10 worker processes "
        "(timeout: 20 min, worker timeout: 25 min)"
    )
    written = 0
    i = 0
    fail_at = {m: rng.randrange(1, total) for m in failing}
    bad = 0
    # Interleave the failing modules among the passing ones, at the positions regrtest printed.
    order = list(PASSING_MODULES)
    for mod, pos in sorted(fail_at.items(), key=lambda kv: kv[1]):
        order.insert(min(pos, len(order)), mod)
    for i, mod in enumerate(order, 1):
        ts = f"0:{i // 60:02d}:{i % 60:02d} load avg: {1 + (i % 50) / 10:.2f}"
        if mod in failing:
            bad += 1
            yield f"{ts} [{i:3d}/{total}/{bad}] {mod.removeprefix('test.')} failed (1 failure)"
            yield from _failure_block(spec, mod, hostile)
        else:
            line = f"{ts} [{i:3d}/{total}/{bad}] {mod} passed"
            written += len(line) + 1
            yield line
    # Padding: warnings and verbose output that real logs are full of.
    n = 0
    while written < size:
        line = (
            f"Warning -- Unraisable exception: test_mod{n % 440:03d} "
            f"(iteration {n}) ResourceWarning: unclosed <socket fd={n % 1024}>"
        )
        written += len(line) + 1
        n += 1
        yield line
    yield from _summary(spec, failing, total, hostile)


def _failure_block(
    spec: BuildSpec, mod: str, hostile: bool, rerun: bool = False
) -> Iterator[str]:
    for test in spec.failing_tests:
        if not test.startswith(mod):
            continue
        name = test.rsplit(".", 1)[-1]
        cls = test.rsplit(".", 1)[0]
        yield "=" * 70
        yield f"FAIL: {name} ({test})"
        yield "-" * 70
        yield "Traceback (most recent call last):"
        yield f'  File "/buildbot/Lib/{mod.replace(".", "/")}.py", line 123, in {name}'
        yield "    self.assertEqual(result, expected)"
        if hostile:
            yield from hostile_payloads.LOG_LINES if not rerun else hostile_payloads.RERUN_LINES
        yield f"AssertionError: 1 != 2 ({cls})"
        yield ""


def _summary(spec: BuildSpec, failing: set[str], total: int, hostile: bool) -> Iterator[str]:
    short = sorted(m.removeprefix("test.") for m in failing)
    ok = total - len(short)
    if not short:
        yield "== Tests result: SUCCESS =="
        yield ""
        yield f"All {total} tests OK."
        yield ""
        yield "Total duration: 25 min 3 sec"
        yield f"Total tests: run={total * 90} skipped=1,234"
        yield f"Total test files: run={total}/{total}"
        yield "Result: SUCCESS"
        return
    yield "== Tests result: FAILURE =="
    yield ""
    yield f"{ok} tests OK."
    yield ""
    yield f"{len(short)} test{'s' if len(short) > 1 else ''} failed:"
    yield "    " + " ".join(short)
    yield ""
    yield (
        f"0:25:00 load avg: 1.00 Re-running {len(short)} failed tests in verbose mode "
        "in subprocesses"
    )
    for j, mod in enumerate(short, 1):
        state = "passed" if spec.rerun_passed else "failed (1 failure)"
        yield f"0:25:01 load avg: 1.00 [{j}/{len(short)}] {mod} {state}"
        names = ", ".join(t.rsplit(".", 1)[-1] for t in spec.failing_tests if "test." + mod in t)
        yield f"Re-running {mod} in verbose mode (matching: {names})"
        if not spec.rerun_passed:
            yield from _failure_block(spec, "test." + mod, hostile, rerun=True)
    final = "FAILURE then SUCCESS" if spec.rerun_passed else "FAILURE then FAILURE"
    if not spec.rerun_passed:
        yield f"{len(short)} test{'s' if len(short) > 1 else ''} failed again:"
        yield "    " + " ".join(short)
        yield ""
    yield f"== Tests result: {final} =="
    yield ""
    yield f"{len(short)} re-run test{'s' if len(short) > 1 else ''}:"
    yield "    " + " ".join(short)
    yield ""
    if not spec.rerun_passed:
        yield f"{len(short)} test{'s' if len(short) > 1 else ''} failed:"
        yield "    " + " ".join(short)
        yield ""
        yield f"{ok} tests OK."
    else:
        yield f"All {total} tests OK."
    yield ""
    yield "Total duration: 25 min 3 sec"
    failures = 0 if spec.rerun_passed else len(short)
    yield f"Total tests: run={total * 90} failures={failures} skipped=1,234"
    yield f"Total test files: run={total}/{total} failed={failures} rerun={len(short)}"
    yield f"Result: {final}"


HUGE_BLOCK_LINES = 10_000  # of 100 bytes each: 1 MB blocks


def huge_log_blocks(megabytes: int) -> Iterator[bytes]:
    """A ``megabytes`` MB log (10**6 bytes each) in 1 MB blocks, ending in a regrtest summary.

    The blocks are built once and repeated: a 500 MB log costs the server nothing to make.
    """
    line = "Warning -- huge log line, repeated to make a log bigger than any cap: " + "x" * 29
    block = ((line + "\n") * HUGE_BLOCK_LINES).encode()
    summary = "\n" + "\n".join(("== Tests result: FAILURE ==", "1 test failed:", "    test_huge",
                         "Result: FAILURE")) + "\n"
    last = block[: len(block) - len(summary)] + summary.encode()
    for _ in range(megabytes - 1):
        yield block
    yield last
