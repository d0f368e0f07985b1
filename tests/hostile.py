"""Hostile strings a Buildbot master can hand us: every one must reach the page as literal text.

Each payload tries something different: run script (and, if it ran, leave a trace the browser
test can see: ``document.title`` or a ``PWNED`` element), inject markup into MyST/reST/Sphinx/
Jinja, smuggle terminal escapes, NUL bytes and bidi overrides, or blow up the layout.
"""

from __future__ import annotations

# Builders 1..3 (and their workers) get hostile names; their builds fail with hostile logs.
HOSTILE_BUILDERS = (1, 2, 3)

MARK = "PWNED"  # what a payload writes if it ever runs; tests assert it never appears as a node
SCRIPT = f"<script>document.title='{MARK}';document.body.append('{MARK}-script')</script>"
IMG = f'"><img src=x onerror="document.title=\'{MARK}\'">'
JS_URL = f"javascript:document.title='{MARK}'"
MYST = "**bold** [click](javascript:alert(1)) {ref}`genindex` $x^2$"
REST = ".. raw:: html\n\n   <b>raw</b>\n\n`link <javascript:alert(1)>`_ :doc:`index`"
ROLE = "{py:func}`os.system` :ref:`search` {{ config.SECRET }} {% include '/etc/passwd' %}"
ANSI = "\x1b[31mred\x1b[0m \x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\"
NUL = "nul\x00byte"
RTL = "rtl\u202egnp.exe\u202c"
LONG = "A" * 10_000

_BUILDERS = {
    1: f"AMD64 {SCRIPT} 3.x",
    2: f"ARM64 {IMG} {JS_URL} 3.x",
    3: f"x86 {MYST} {ROLE} {ANSI} {NUL} {RTL} 3.x",
}
_WORKERS = {
    1: f"worker-{IMG}",
    2: f"worker {ROLE}",
    3: f"worker-{RTL}-{ANSI}-{LONG}",  # 10 kB: the status table must still fit the page
}


def builder_name(builderid: int) -> str:
    return _BUILDERS[builderid]


def worker_name(builderid: int) -> str:
    return _WORKERS[builderid]


AUTHOR = f"Mallory {SCRIPT}"
COMMIT_MESSAGE = (
    f"gh-666: {IMG} {MYST}\n\n{REST}\n{ROLE}\n{ANSI}\n{NUL} {RTL}\nCo-authored-by: {JS_URL}"
)
TEST_ID = f"test.test_evil.EvilTests.test_x<img/src=x/onerror=document['title']='{MARK}'>"
# (no dots or spaces, so it still parses as a regrtest test id)
LOG_LINES = (
    f"AssertionError: {SCRIPT}",
    f"    {IMG}",
    f"    {JS_URL}",
    f"    {MYST}",
    f"    {REST.splitlines()[0]}",
    f"    {ROLE}",
    f"    {ANSI}",
    f"    {NUL}",
    f"    {RTL}",
    f"    {LONG}",
)
# The re-run block (what excerpts show) leaves out IMG: Pygments keeps its '"' as text, which
# tests/test_live_sphinx.py's plain substring check would take for an attribute.
RERUN_LINES = tuple(line for line in LOG_LINES if IMG not in line)
# Environment lines in the command header: secrets a worker leaks. Never copy into excerpts.
ENV_CANARY = "bbwatch-env-canary-6f1d2c"
ENV_LINES = (
    f"GITHUB_TOKEN={ENV_CANARY}",
    f"AWS_SECRET_ACCESS_KEY={ENV_CANARY}",
    f"EVIL={SCRIPT}",
)
