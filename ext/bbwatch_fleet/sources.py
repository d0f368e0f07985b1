"""The scripted CPython-like source tree: every file version the fleet's commits write.

Each constant is the full text of one file at one point of the history; ``repo.py`` writes them
in the commits listed in ``scenarios.COMMITS``. The tests under ``Lib/test/`` are what the
``test`` step really runs with regrtest, so which tests fail is a function of the commit.
"""

from __future__ import annotations

# --- build system: a tiny configure + Makefile that really runs the C compiler -------------

CONFIGURE = r"""#!/bin/sh
# Stand-in for CPython's configure: checks the C compiler and writes Makefile.
set -e
CFLAGS="-O0 -Wall"
for arg in "$@"; do
    case "$arg" in
        --with-pydebug) CFLAGS="$CFLAGS -DPy_DEBUG";;
        --with-lto) CFLAGS="$CFLAGS -DBBW_LTO";;
        --enable-optimizations) CFLAGS="$CFLAGS -DBBW_PGO";;
        --disable-gil) CFLAGS="$CFLAGS -DPy_GIL_DISABLED";;
        --enable-shared) CFLAGS="$CFLAGS -fPIC";;
        *) echo "configure: WARNING: unrecognized option: $arg";;
    esac
done
case "${BBW_PLATFORM:-linux}" in
    freebsd) CFLAGS="$CFLAGS -DBBW_PLATFORM_FREEBSD";;
    windows) CFLAGS="$CFLAGS -DBBW_PLATFORM_WINDOWS";;
esac
CC="${CC:-cc}"
echo "checking for gcc... $CC"
command -v "$CC" >/dev/null || { echo "configure: error: no acceptable C compiler found"; exit 1; }
echo "checking for --with-pydebug... $(echo "$CFLAGS" | grep -q Py_DEBUG && echo yes || echo no)"
sed -e "s|@CC@|$CC|" -e "s|@CFLAGS@|$CFLAGS|" Makefile.pre.in > Makefile
echo "configure: creating Makefile"
"""

MAKEFILE_PRE_IN = """# Generated from Makefile.pre.in by configure.
CC=@CC@
CFLAGS=@CFLAGS@
PYTHON?=python3
OBJS=Modules/bbw_timemodule.o Modules/bbw_mathmodule.o

all: $(OBJS)
\t@echo "Build finished: $(OBJS)"

.c.o:
\t$(CC) $(CFLAGS) -c $< -o $@

# Like CPython's `make pythoninfo` (test.pythoninfo), trimmed to a few cheap lines.
pythoninfo:
\t$(PYTHON) -c "import platform, sys; print('Python debug information'); \\
\tprint('sys.version:', sys.version); print('sys.executable:', sys.executable); \\
\tprint('platform.platform:', platform.platform()); \\
\tprint('sys.flags.dev_mode:', sys.flags.dev_mode)"

distclean:
\trm -f $(OBJS) Makefile
"""

MATHMODULE_C = """/* bbw_math: C accelerators for Lib/bbw_calc.py. */
#include <stddef.h>

double
bbw_sum(const double *values, size_t n)
{
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        total += values[i];
    }
    return total;
}
"""

TIMEMODULE_C = """/* bbw_time: monotonic clock helpers. */
#include <time.h>

double
bbw_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
"""

# gh-130030: adds a NULL check (harmless).
TIMEMODULE_C_NULLCHECK = """/* bbw_time: monotonic clock helpers. */
#include <stddef.h>
#include <time.h>

double
bbw_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int
bbw_fill_timespec(struct timespec *ts)
{
    if (ts == NULL) {
        return -1;
    }
    return clock_gettime(CLOCK_MONOTONIC, ts);
}
"""

# gh-130040: a FreeBSD-only code path with a typo: the compile step fails on FreeBSD only.
TIMEMODULE_C_FREEBSD_BROKEN = TIMEMODULE_C_NULLCHECK + """
#ifdef BBW_PLATFORM_FREEBSD
double
bbw_uptime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_UPTIME_FAST, &ts)
    return (double)ts.tv_sec;
}
#endif
"""

# gh-130060: the FreeBSD build is fixed.
TIMEMODULE_C_FREEBSD_FIXED = TIMEMODULE_C_NULLCHECK + """
#ifdef BBW_PLATFORM_FREEBSD
double
bbw_uptime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec;
}
#endif
"""

JSONMODULE_C = """/* _bbwjson: accelerator for Lib/bbw_json.py. */
#include <stddef.h>

size_t
bbw_json_depth(const char *text)
{
    size_t depth = 0, best = 0;
    for (; *text; text++) {
        if (*text == '[' || *text == '{') {
            if (++depth > best) {
                best = depth;
            }
        }
        else if (*text == ']' || *text == '}') {
            depth--;
        }
    }
    return best;
}
"""

# --- Lib/: the modules under test --------------------------------------------------------

CALC = '''"""Small statistics helpers."""


def mean(values):
    values = list(values)
    if not values:
        raise ValueError("mean() requires at least one data point")
    return sum(values) / len(values)
'''

CALC_MEDIAN = CALC + '''

def median(values):
    values = sorted(values)
    if not values:
        raise ValueError("median() requires at least one data point")
    mid = len(values) // 2
    if len(values) % 2:
        return values[mid]
    return (values[mid - 1] + values[mid]) / 2
'''

# gh-130020: "speed up" mean(): floor division and no empty check -> FAIL + ERROR.
CALC_REGRESSED = '''"""Small statistics helpers."""


def mean(values):
    values = list(values)
    return sum(values) // len(values)


def median(values):
    values = sorted(values)
    if not values:
        raise ValueError("median() requires at least one data point")
    mid = len(values) // 2
    if len(values) % 2:
        return values[mid]
    return (values[mid - 1] + values[mid]) / 2
'''

STRINGS = '''"""Text helpers."""


def wrap(text, width):
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return lines
'''

STRINGS_DOCS = STRINGS.replace(
    '"""Text helpers."""', '"""Text helpers.\n\nwrap() never splits a word longer than width."""'
)

STRINGS_TITLE = STRINGS + '''

def title(text):
    return " ".join(word[:1].upper() + word[1:] for word in text.split(" "))
'''

# PR update: handles apostrophes wrongly (uses str.title()).
STRINGS_TITLE_BROKEN = STRINGS + '''

def title(text):
    return text.title()
'''

STRINGS_CENTER = STRINGS_DOCS + '''

def center(text, width):
    return text.center(width)
'''

OS = '''"""File description helpers."""

import os


def describe(path):
    st = os.stat(path)
    return {"size": st.st_size, "mtime": st.st_mtime, "mode": st.st_mode}
'''

# gh-130070: renames a key callers rely on -> test_describe_keys FAILs (not fixed).
OS_NS = '''"""File description helpers."""

import os


def describe(path):
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "mode": st.st_mode}
'''

CACHE = '''"""A lookup cache."""

_CACHE = {}


def lookup(key):
    if key not in _CACHE:
        _CACHE[key] = str(key).upper()
    return _CACHE[key]
'''

# gh-130010: caches every call under a fresh key: the cache grows on each call (a leak).
CACHE_LEAK = '''"""A lookup cache."""

import itertools

_CACHE = {}
_CALLS = itertools.count()


def lookup(key):
    value = str(key).upper()
    _CACHE[(key, next(_CALLS))] = value
    return value
'''

NET = '''"""Network helpers (the tests use a fake socket)."""

import errno


def fetch(sock, size):
    try:
        return sock.recv(size)
    except BlockingIOError as exc:
        raise TimeoutError(errno.EAGAIN, "resource temporarily unavailable") from exc
'''

# [3.14] gh-129910: retries EAGAIN forever -> the test hangs until regrtest's --timeout.
NET_RETRY_FOREVER = '''"""Network helpers (the tests use a fake socket)."""

import time


def fetch(sock, size):
    while True:
        try:
            return sock.recv(size)
        except BlockingIOError:
            time.sleep(0.05)
'''

NET_RETRY_FIXED = '''"""Network helpers (the tests use a fake socket)."""

import errno
import time


def fetch(sock, size, retries=3):
    for _ in range(retries):
        try:
            return sock.recv(size)
        except BlockingIOError:
            time.sleep(0.01)
    raise TimeoutError(errno.EAGAIN, "resource temporarily unavailable")
'''

PARSER = '''"""A nested-list parser; the C accelerator aborts on too deep input."""

import os


def parse_depth(text, limit=100):
    depth = best = 0
    for char in text:
        if char == "[":
            depth += 1
            best = max(best, depth)
        elif char == "]":
            depth -= 1
    if best > limit and os.environ.get("BBW_LTO") == "1":
        # Emulates the LTO-miscompiled C accelerator: a stack overflow guard that aborts.
        os.abort()
    return best
'''

# gh-130140 (c11) and its backport (d6): join lines with the platform's separator; the test
# that comes with it assumes "\n", so it fails on the (emulated) Windows builders only.
TEXTSEP = '''"""Line separators for the text helpers."""
import os

# The fleet emulates Windows with BBW_PLATFORM=windows (os.linesep is "\\n" on this host).
LINESEP = "\\r\\n" if os.environ.get("BBW_PLATFORM") == "windows" else "\\n"


def join(lines):
    return LINESEP.join(lines)
'''

# --- Lib/test/: the regrtest suite --------------------------------------------------------

_HEADER = '''import importlib.util
import os
import sys
import unittest

LIB = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(name):
    # Import Lib/<name>.py without touching sys.path (regrtest would report "env changed").
    spec = importlib.util.spec_from_file_location(name, os.path.join(LIB, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
'''

TEST_CALC = _HEADER + '''
bbw_calc = load("bbw_calc")


class MeanTests(unittest.TestCase):
    def test_mean_int(self):
        self.assertEqual(bbw_calc.mean([1, 2, 3]), 2)

    def test_mean_float(self):
        self.assertEqual(bbw_calc.mean([1, 2, 3, 4]), 2.5)

    def test_mean_empty(self):
        with self.assertRaises(ValueError):
            bbw_calc.mean([])


if __name__ == "__main__":
    unittest.main()
'''

TEST_CALC_MEDIAN = TEST_CALC.replace(
    '\n\nif __name__', '''

class MedianTests(unittest.TestCase):
    def test_median_odd(self):
        self.assertEqual(bbw_calc.median([3, 1, 2]), 2)

    def test_median_even(self):
        self.assertEqual(bbw_calc.median([4, 1, 3, 2]), 2.5)


if __name__''')

TEST_STRINGS = _HEADER + '''
bbw_strings = load("bbw_strings")


class WrapTests(unittest.TestCase):
    def test_wrap(self):
        self.assertEqual(bbw_strings.wrap("a bb ccc", 4), ["a bb", "ccc"])

    def test_wrap_long_word(self):
        self.assertEqual(bbw_strings.wrap("abcdefgh", 3), ["abcdefgh"])


if __name__ == "__main__":
    unittest.main()
'''

TEST_STRINGS_SEP = TEST_STRINGS.replace(
    '\n\nif __name__', '''

bbw_textsep = load("bbw_textsep")


class JoinTests(unittest.TestCase):
    def test_join_lines(self):
        self.assertEqual(bbw_textsep.join(["a", "bb"]), "a\\nbb")


if __name__''')

TEST_STRINGS_TITLE = TEST_STRINGS.replace(
    '\n\nif __name__', '''

class TitleTests(unittest.TestCase):
    def test_title(self):
        self.assertEqual(bbw_strings.title("hello world"), "Hello World")

    def test_title_apostrophe(self):
        self.assertEqual(bbw_strings.title("don't panic"), "Don't Panic")


if __name__''')

TEST_OS = _HEADER + '''
import tempfile

bbw_os = load("bbw_os")


class DescribeTests(unittest.TestCase):
    def test_describe_keys(self):
        with tempfile.NamedTemporaryFile() as f:
            self.assertEqual(sorted(bbw_os.describe(f.name)), ["mode", "mtime", "size"])

    def test_describe_size(self):
        with tempfile.NamedTemporaryFile() as f:
            f.write(b"abc")
            f.flush()
            self.assertEqual(bbw_os.describe(f.name)["size"], 3)


if __name__ == "__main__":
    unittest.main()
'''

# Refleak hunting: regrtest's real ``-R 3:3`` needs a debug build (sys.gettotalrefcount), which
# the fleet's Python is not; on refleak builders (BBW_HUNT_REFLEAKS=1) this test repeats the
# call the way -R does, measures the cache growth, and reports it in CPython's line shape.
TEST_CACHE = _HEADER + '''
bbw_cache = load("bbw_cache")


class CacheTests(unittest.TestCase):
    def test_lookup(self):
        self.assertEqual(bbw_cache.lookup("abc"), "ABC")
        self.assertEqual(bbw_cache.lookup("abc"), "ABC")

    def test_lookup_leaks(self):
        if os.environ.get("BBW_HUNT_REFLEAKS") != "1":
            self.skipTest("refleak hunting only on refleak builders")
        deltas = []
        for _ in range(6):
            before = len(bbw_cache._CACHE)
            bbw_cache.lookup("abc")
            deltas.append(len(bbw_cache._CACHE) - before)
        print("beginning 6 repetitions", file=sys.stderr)
        print("123456", file=sys.stderr)
        print("......", file=sys.stderr)
        leaks = deltas[3:]
        if any(leaks):
            line = f"test_bbw_cache leaked {leaks} references, sum={sum(leaks)}"
            print(line, file=sys.stderr)
            self.fail(line)


if __name__ == "__main__":
    unittest.main()
'''

TEST_FLAKY = _HEADER + '''
MARKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".bbw_events_ran")


class EventTests(unittest.TestCase):
    def test_wakeup_race(self):
        # Fails the first time it runs in a checkout on builders that set BBW_FLAKY=1, passes
        # when regrtest re-runs it (a fresh process sees the marker file).
        if os.environ.get("BBW_FLAKY") == "1" and not os.path.exists(MARKER):
            with open(MARKER, "w") as f:
                f.write("ran\\n")
            self.fail("first run fails: lost a race with the event loop")


if __name__ == "__main__":
    unittest.main()
'''

TEST_ENVCHANGED = _HEADER + '''

class LocaleTests(unittest.TestCase):
    def test_setlocale_env(self):
        # Bug on purpose: sets an environment variable and never restores it.
        os.environ["BBW_LC_CTYPE"] = "C.UTF-8"
        self.assertEqual(os.environ["BBW_LC_CTYPE"], "C.UTF-8")


if __name__ == "__main__":
    unittest.main()
'''

TEST_NET = _HEADER + '''
bbw_net = load("bbw_net")


class FakeSocket:
    def __init__(self, replies):
        self.replies = list(replies)

    def recv(self, size):
        reply = self.replies.pop(0) if self.replies else BlockingIOError()
        if isinstance(reply, Exception):
            raise reply
        return reply[:size]


class FetchTests(unittest.TestCase):
    def test_fetch(self):
        self.assertEqual(bbw_net.fetch(FakeSocket([b"data"]), 2), b"da")

    def test_fetch_eagain(self):
        with self.assertRaises(TimeoutError):
            bbw_net.fetch(FakeSocket([]), 2)


if __name__ == "__main__":
    unittest.main()
'''

TEST_CRASH = _HEADER + '''
from test import support

bbw_parser = load("bbw_parser")


class ParserTests(unittest.TestCase):
    def test_parse_shallow(self):
        self.assertEqual(bbw_parser.parse_depth("[[]]"), 2)

    def test_parse_deep(self):
        # On LTO builders the accelerator aborts the process (Fatal Python error: Aborted).
        with support.SuppressCrashReport():
            self.assertEqual(bbw_parser.parse_depth("[" * 200 + "]" * 200), 200)


if __name__ == "__main__":
    unittest.main()
'''

# On one builder the "OOM killer" picks the buildbot-worker process during one build (once per
# machine: a marker file in the worker's base directory), so that build ends in RETRY and
# Buildbot runs it again when the worker is back (bbwatch fleet up restarts dead workers).
TEST_MEMORY = _HEADER + '''
import signal


class MemoryTests(unittest.TestCase):
    def test_large_alloc(self):
        data = bytearray(8 * 1024 * 1024)
        self.assertEqual(len(data), 8 * 1024 * 1024)
        oom_build = os.environ.get("BBW_OOM_BUILD")
        if oom_build and oom_build == os.environ.get("BBW_BUILDNUMBER"):
            basedir = os.path.abspath(os.path.join(LIB, os.pardir, os.pardir, os.pardir))
            marker = os.path.join(basedir, "oom-killed")
            pidfile = os.path.join(basedir, "twistd.pid")
            if not os.path.exists(marker) and os.path.exists(pidfile):
                with open(marker, "w") as f:
                    f.write("the worker was killed once by test_bbw_memory\\n")
                with open(pidfile) as f:
                    os.kill(int(f.read().strip()), signal.SIGKILL)


if __name__ == "__main__":
    unittest.main()
'''

README = """This is a scripted stand-in for CPython's source tree, made by `bbwatch fleet up`.
"""

NEWS = "Misc/NEWS.d entries are not kept in this tree.\n"

# What the initial commit ("the base") contains: path -> text.
BASE_TREE: dict[str, str] = {
    "README.rst": README,
    "configure": CONFIGURE,
    "Makefile.pre.in": MAKEFILE_PRE_IN,
    "Modules/bbw_mathmodule.c": MATHMODULE_C,
    "Modules/bbw_timemodule.c": TIMEMODULE_C,
    "Lib/bbw_calc.py": CALC,
    "Lib/bbw_strings.py": STRINGS,
    "Lib/bbw_os.py": OS,
    "Lib/bbw_cache.py": CACHE,
    "Lib/bbw_net.py": NET,
    "Lib/bbw_parser.py": PARSER,
    "Lib/test/test_bbw_calc.py": TEST_CALC,
    "Lib/test/test_bbw_strings.py": TEST_STRINGS,
    "Lib/test/test_bbw_os.py": TEST_OS,
    "Lib/test/test_bbw_cache.py": TEST_CACHE,
    "Lib/test/test_bbw_events.py": TEST_FLAKY,
    "Lib/test/test_bbw_locale.py": TEST_ENVCHANGED,
    "Lib/test/test_bbw_net.py": TEST_NET,
    "Lib/test/test_bbw_parser.py": TEST_CRASH,
    "Lib/test/test_bbw_memory.py": TEST_MEMORY,
}


# --- the sick worker ------------------------------------------------------------------------
# Not in the repository: ``fleet up`` writes it to <fleet>/sick/sitecustomize.py and the sick
# worker's builders put that folder on PYTHONPATH, so every Python of their builds (regrtest
# and its worker processes) starts with it. BBW_SICK_PLAN says, per build number, which test
# file the machine breaks and how ("3:test_bbw_os:MemoryError,4:test_bbw_calc:ENOSPC"): each
# test of that file errors in setUp, as on a machine whose disk is full or memory exhausted.
SICK_SITECUSTOMIZE = '''"""A sick machine of the bbwatch local fleet (not a bug in any test)."""
import errno
import os
import unittest

_plan = {}
for _item in os.environ.get("BBW_SICK_PLAN", "").split(","):
    if _item.count(":") == 2:
        _number, _test, _error = _item.split(":")
        _plan[_number] = (_test, _error)
_sick = _plan.get(os.environ.get("BBW_BUILDNUMBER", ""))

if _sick is not None:
    _run = unittest.TestCase.run

    def _fail(*args, **kwargs):
        if _sick[1] == "ENOSPC":
            raise OSError(errno.ENOSPC, "No space left on device")
        raise MemoryError("cannot allocate memory for the test fixture")

    def run(self, result=None):
        if self.id().split(".")[0] == _sick[0]:
            self.setUp = _fail
        return _run(self, result)

    unittest.TestCase.run = run
'''
