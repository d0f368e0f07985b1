"""The live pages of the real site built against the real local fleet (``fleet`` fixture).

Expected values come from the fleet's manifest (``bbwatch_fleet.scenarios``): every builder
with its latest result, each still-red failure once with its classification, streak start and
suspect change, and the flaky test (and only it) on the flaky page.
"""

from __future__ import annotations

import html as htmllib
import re
from typing import Any

import pytest
from bbwatch_fleet import DEMO_REGISTRY
from bbwatch_fleet import scenarios as sc

from tests.conftest import build_site

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pages(fleet: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("live-site")
    build = build_site(out, BBWATCH_BUILDBOT_URL=fleet.url,
                       BBWATCH_REGISTRY=str(DEMO_REGISTRY))  # as `make demo` sets it
    assert build.status == 0 and "bbwatch.live" not in build.warnings, build.warnings
    live = build.html / "live"
    return {p.stem: p.read_text() for p in live.glob("*.html")}


def _esc(text: str) -> str:
    return htmllib.escape(text, quote=False)


def _problems(page: str) -> list[str]:
    """The HTML of each problem block on the known-failures page."""
    return re.split(r'(?=<div class="[^"]*\bbbwatch-problem\b)', page)[1:]


def _title(block: str) -> str:
    m = re.search(r'bbwatch-problem-title">.*?<strong>(.*?)</strong>', block, re.S)
    return htmllib.unescape(m.group(1)) if m else ""


def test_status_lists_every_builder_with_its_result(pages):
    rows = re.split(r"<tr[ >]", pages["status"])
    for builder in sc.BUILDERS:
        mine = [r for r in rows if f">{_esc(builder.name)}<" in r]
        assert len(mine) == 1, builder.name
        word = builder.results[-1] if builder.results else None
        if word:
            assert f'bbwatch-result-{word}">{word}<' in mine[0], builder.name
        else:
            assert ">no builds<" in mine[0] and ">disconnected<" in mine[0]


def test_still_red_failure_once_with_classification_streak_and_suspect(pages):
    red = sc.STILL_RED
    test_file = red.test_ids[0].split(".")[0]
    blocks = [b for b in _problems(pages["known-failures"]) if _title(b) == test_file]
    assert len(blocks) == 1
    block = blocks[0]
    assert "bbwatch-known" in block.split(">", 1)[0]  # the registry covers it
    for name in red.builders:
        assert _esc(name) in block
    assert block.count(f"failing since build #{red.first_bad_build} ") == len(red.builders)
    suspects = block[block.index("bbwatch-suspects"):]
    first = re.search(r"<li>(.*?)</li>", suspects, re.S).group(1)
    assert _esc(red.introduced_by) in first


def test_each_red_scripted_failure_shows_once(pages):
    titles = [_title(b) for b in _problems(pages["known-failures"])]
    assert len(titles) == len(set(titles))
    for scenario in sc.SCENARIOS:
        builder = sc.BUILDERS_BY_NAME[scenario.builder]
        # what its builder fails with now: no later scenario on that builder (the 3.14
        # backport's failure followed the Non-Debug builder's timeout, since fixed)
        later = any(s.builder == scenario.builder and s.build > scenario.build
                    for s in sc.SCENARIOS)
        if (scenario.test_file and builder.results[-1] == sc.FAILURE and not later
                and scenario.builder not in sc.STILL_RED.builders):
            assert scenario.test_file in titles, scenario
    crash = next(s for s in sc.SCENARIOS if s.kind == "crash")
    block = next(b for b in _problems(pages["known-failures"]) if _title(b) == crash.test_file)
    assert "bbwatch-new" in block.split(">", 1)[0]  # deliberately not in the registry
    assert "Infrastructure" in pages["known-failures"]
    assert sc.DISCONNECTED_WORKER in pages["known-failures"]


def test_flaky_page_shows_the_flaky_test_only(pages):
    page = pages["flaky-tests"]
    flaky = next(s for s in sc.SCENARIOS if s.kind == "flaky")
    assert f">{flaky.test_file}<" in page
    for test_id in (*sc.STILL_RED.test_ids, *sc.REGRESSION.test_ids):
        assert f">{test_id.split('.')[0]}<" not in page
