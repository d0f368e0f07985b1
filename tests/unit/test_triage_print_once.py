"""triage_print on paper: a long excerpt cut to what matters, the excerpt printed once."""

from __future__ import annotations

from bbwatch.sphinxext.triage_print import PRINT_EXCERPT_LINES, cut_for_print, print_once
from docutils import nodes

SHORT = "FAIL: test_x (test.test_os.T.test_x)\nTraceback (most recent call last):\nAssertionError"
LONG = "\n".join(["FAIL: test_x (test.test_os.T.test_x)", "-" * 70,
                  "Traceback (most recent call last):"]
                 + [f'  File "/b/Lib/test/test_os.py", line {n}, in f{n}\n    f{n + 1}()'
                    for n in range(20)] + ["AssertionError: 1 != 2"])


def test_short_excerpts_print_whole() -> None:
    assert cut_for_print(SHORT) == SHORT


def test_long_excerpts_keep_the_head_and_the_last_frames() -> None:
    cut = cut_for_print(LONG).splitlines()
    assert len(cut) == PRINT_EXCERPT_LINES
    assert cut[0].startswith("FAIL: test_x") and cut[2].startswith("Traceback")
    assert cut[3].startswith("[... ") and "full excerpt is on the page online" in cut[3]
    assert cut[-1] == "AssertionError: 1 != 2"
    assert cut[-2].strip() == "f20()"  # the innermost frame


def _page(*texts: str) -> nodes.container:
    root = nodes.container()
    for text in texts:
        root += nodes.literal_block(text, text)
    return root


def test_the_excerpt_prints_once_and_repeats_point_to_it() -> None:
    root = _page(LONG, f"New failure on X\n```text\n{LONG}\n```", "unrelated")
    print_once(root, LONG, 'step 2, "Read the test log"')
    blocks = list(root.findall(nodes.literal_block))
    screen = [b.astext() for b in blocks if "bbwatch-print-only" not in b["classes"]]
    paper = [b.astext() for b in blocks if "bbwatch-screen-only" not in b["classes"]]
    assert screen == [LONG, f"New failure on X\n```text\n{LONG}\n```", "unrelated"]
    assert paper[0] == cut_for_print(LONG)  # the home of the excerpt, cut
    assert paper[1] == 'New failure on X\n```text\n[the log excerpt: see step 2, "Read the ' \
                       'test log"]\n```'
    assert paper[2] == "unrelated"


def test_no_excerpt_changes_nothing() -> None:
    root = _page("(no log excerpt)", "x")
    print_once(root, "(no log excerpt)", "step 2")
    assert [b["classes"] for b in root.findall(nodes.literal_block)] == [[], []]
