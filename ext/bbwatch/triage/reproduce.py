"""The command that reproduces one failure locally, from the build's own evidence.

``reproduce(builder, test_file, ...)`` starts from CPython's form, ``./python -m test
test_x -m 'method' --randseed N -v``, and adds what the build did: ``-R 3:3`` on a refleak
builder (and ``python -m test.bisect_cmd`` to narrow a leak to a method), ``-u`` resources
and ``--timeout`` copied from the builder's own test command when the log shows it
(``ParsedLog.command``, read by the parser from the log's head), a note
about ``-jN`` (order and load), and the ``PCbuild\\rt.bat`` / ``python.bat`` forms on a Windows
builder (python/devguide, testing/buildbots.rst and run-write-tests.rst). Pure; no I/O.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from bbwatch.domain import split_test_id

_RESOURCES = re.compile(r"(?:^|\s)(?:-u|--use)[= ]?(\S+)")
_TIMEOUT = re.compile(r"--timeout[= ](\d+)")
_JOBS = re.compile(r"(?:^|\s)(?:-j|--multiprocess[= ]?)(\d+)")


@dataclass(frozen=True)
class Reproduce:
    command: str
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"command": self.command, "notes": list(self.notes)}


def is_windows(builder: str, tags: Sequence[str] = ()) -> bool:
    return "windows" in builder.lower() or any(t.startswith("win") for t in tags)


def is_refleak(builder: str, tags: Sequence[str] = ()) -> bool:
    return "refleak" in builder.lower() or "refleak" in tags


def reproduce(builder: str, test_file: str, *, test_ids: Sequence[str] = (), seed: str = "",
              kind: str = "failed", command: str = "", tags: Sequence[str] = ()) -> Reproduce:
    windows = is_windows(builder, tags)
    refleak = is_refleak(builder, tags) or kind == "leaked"
    notes: list[str] = []
    args = [test_file or "TESTS"]
    methods = [m for t in test_ids if (m := split_test_id(t, test_file)[1])]
    for method in dict.fromkeys(methods):
        args += ["-m", method]
    if seed.isdigit():
        args += [f"--randseed={seed}"]
    else:
        notes.append("the log shows no random seed: order may differ from the build's")
    if refleak:
        args += ["-R", "3:3"]
        notes.append("refleak builder: -R 3:3 needs a debug build (--with-pydebug)")
    # regrtest's own options only: before "-m test" stand the interpreter's (-u: unbuffered)
    command = command.split(" -m test", 1)[1] if " -m test" in command else command
    resources = _RESOURCES.findall(command)
    if resources:
        args += [f"-u{resources[-1]}"]
    timeout = _TIMEOUT.search(command)
    if timeout:
        args += [f"--timeout={timeout[1]}"]
    jobs = _JOBS.search(command)
    if jobs and jobs[1] != "1":
        notes.append(f"the build ran -j{jobs[1]}: if it passes alone, retry with -j{jobs[1]} "
                     "and the same seed (order and load matter); bisect with -j1")
    if not command:
        notes.append("the builder's test command was not in the log: add its -u resources "
                     "and --timeout if they matter")
    args.append("-v")
    head = r"PCbuild\rt.bat -q" if windows else "./python -m test"
    text = f"{head} {_join(args, windows)}"
    if windows:
        notes.append(r"Windows: build with PCbuild\build.bat -d (debug) first; "
                     r"python.bat -m test accepts the same options")
    if refleak and test_file:
        bisect = "python.bat" if windows else "./python"
        notes.append(f"narrow a leak to its method: {bisect} -m test.bisect_cmd -R 3:3 "
                     f"{test_file}")
    return Reproduce(text, notes)


def _join(args: Sequence[str], windows: bool) -> str:
    if windows:  # cmd.exe: double quotes, and only where needed
        return " ".join(f'"{a}"' if " " in a else a for a in args)
    return " ".join(shlex.quote(a) for a in args)
