"""Checklist data: the shipped files are valid; bad files fail with the file and the line."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from bbwatch.errors import ChecklistError
from bbwatch.triage.checklist import PLACEHOLDERS, load_checklist, load_checklists, placeholders

REQUIRED = ("triage", "new-issue", "analysis", "infrastructure", "first-week")

GOOD = """\
id: demo
title: Demo
steps:
  - id: one
    title: First
    body: |
      Open [the build]({build_url}) of {builder}.
  - id: two
    title: Second
    body: |
      Look at `{test_id}`:

      ```text
      {excerpt}
      ```
"""


def write(tmp_path: Path, text: str, name: str = "demo.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_checklists_are_valid_and_complete():
    checklists = load_checklists()
    assert set(REQUIRED) <= set(checklists)
    triage = checklists["triage"]
    # The watcher's procedure, in its order.
    assert [s.id for s in triage.steps] == [
        "check-first", "read-log", "search-method", "search-file", "search-text",
        "other-builders", "file-or-comment", "registry", "reply",
    ]
    # The other checklists follow the pages: new issues carry the seed and a re-search,
    # analysis looks around before reproducing and ends with the revert, infrastructure asks
    # "one worker or many?" before contacting the owner and ends with the reply.
    ids = {name: [s.id for s in c.steps] for name, c in checklists.items()}
    assert {"since-when", "command-and-seed"} <= set(ids["new-issue"])
    assert ids["new-issue"][-2:] == ["re-search", "submit"]
    analysis = ids["analysis"]
    for look in ("other-builders", "flaky-history", "pythoninfo"):
        assert analysis.index(look) < analysis.index("reproduce")
    assert analysis[-1] == "revert"
    infra = ids["infrastructure"]
    assert infra.index("one-or-many") < infra.index("contact-owner") and infra[-1] == "reply"
    for checklist in checklists.values():
        assert checklist.steps and all(s.title and s.body for s in checklist.steps)


def test_good_file_loads(tmp_path):
    checklist = load_checklist(write(tmp_path, GOOD))
    assert checklist.id == "demo"
    assert [s.id for s in checklist.steps] == ["one", "two"]
    assert checklist.steps[0].line == 4
    names = [m.group(1) for m in placeholders(checklist.steps[1].body)]
    assert names == ["test_id", "excerpt"]


def test_roles_and_directives_are_not_placeholders():
    text = "See {doc}`x` and\n```{note}\nhi\n```\n:::{tip}\n:::\n{builder} `{test_id}` {{ sub }}"
    assert [m.group(1) for m in placeholders(text)] == ["builder", "test_id"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (GOOD.replace("  - id: two", "  - id: one"), 8, "duplicate step id 'one'"),
        (GOOD.replace("{builder}", "{bulider}"), 7, "unknown placeholder {bulider}"),
        (GOOD.replace("`{test_id}`", "`{nope}`"), 11, "unknown placeholder {nope}"),
        (GOOD.replace("    title: Second\n", "    title: Second\n    colour: red\n"), 10,
         "unknown step key 'colour'"),
        (GOOD.replace("title: Demo\n", "title: Demo\nauthor: me\n"), 3,
         "unknown checklist key 'author'"),
        (GOOD.replace("title: Demo\n", ""), 1, "checklist is missing 'title'"),
        (GOOD.replace("  - id: two\n", "  - \n"), 9, "is missing 'id'"),
        (GOOD.replace("    title: First\n", ""), 4, "is missing 'title'"),
        (GOOD.replace("id: demo", "id: other"), 1, "must match the file name"),
        (GOOD.replace("({build_url})", "({builder})"), 7, "is text, not a URL"),
        (GOOD.replace("[the build]({build_url})", "{build_url}"), 7, "is a URL"),
        (GOOD.replace("      {excerpt}", "      see {excerpt}"), 14, "must stand alone"),
        (GOOD.replace("    title: First\n", "    title: First\n    attach: magic\n"), 6,
         "unknown attach 'magic'"),
        (GOOD.replace("    title: Second", "    title: [a, b]"), 9, "must be a non-empty string"),
        (GOOD.replace("steps:\n", "steps: [\n"), 4, "invalid YAML"),
        ("- just\n- a list\n", 1, "must be a mapping"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(ChecklistError) as info:
        load_checklist(path)
    assert info.value.line == line, str(info.value)
    assert message in info.value.message
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_every_placeholder_used_by_shipped_data_is_known():
    for checklist in load_checklists().values():
        for step in checklist.steps:
            for match in placeholders(step.body + step.title):
                assert match.group(1) in PLACEHOLDERS


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ChecklistError, match="not found"):
        load_checklists(tmp_path / "nope")


# -- the Sphinx side: {triage-checklist} and the per-failure pages ------------------------------
def _body(page: str) -> str:
    return page[page.find('<div class="body"'):]


def _steps(page: str, checklist: str) -> list[str]:
    start = page.index(f'id="checklist-{checklist}"')
    end = page.find('class="bbwatch-checklist-reset"', start)
    return re.findall(r'<input type="checkbox" class="bbwatch-checklist-box" data-step="([^"]+)"',
                      page[start:end])


@pytest.fixture(scope="module")
def site(rootdir, tmp_path_factory):
    from io import StringIO

    from sphinx.testing.util import SphinxTestApp

    out = tmp_path_factory.mktemp("checklist-site")
    app = SphinxTestApp("html", srcdir=rootdir / "test-checklist", builddir=out, freshenv=True,
                        status=StringIO(), warning=StringIO())
    try:
        app.build()
    finally:
        app.cleanup()
    pages = {p.relative_to(app.outdir).as_posix(): p.read_text()
             for p in Path(app.outdir).rglob("*.html")}
    return app, pages


def test_directive_renders_real_checkboxes(site):
    app, pages = site
    assert app.warning.getvalue().strip() == ""
    index = pages["index.html"]
    triage = load_checklists()["triage"]
    assert _steps(index, "triage") == [s.id for s in triage.steps]
    assert _steps(index, "first-week") == [s.id for s in load_checklists()["first-week"].steps]
    # One reset button per checklist on the page (the root shows all five).
    assert index.count('class="bbwatch-checklist-reset"') == 5
    assert "_static/checklist.js" in index and "_static/checklist.css" in index
    assert "_static/print.css" in index
    assert (Path(app.outdir) / "_static" / "checklist.js").is_file()
    # Generic checklists print blanks where the per-failure values go, never raw {names}.
    assert '<span class="bbwatch-blank">builder</span>' in index
    assert not re.search(r"\{[a-z_]+\}", _body(index))
    assert "bbwatch.invalid" not in index


def test_per_failure_pages_are_generated_and_escaped(site):
    from bbwatch.triage.context import triage_docname

    from tests.triage_samples import HOSTILE_BUILDER, hostile_context

    _, pages = site
    ctx = hostile_context()
    name = triage_docname(ctx.builder, ctx.build_number, "test_evil") + ".html"
    assert name in pages and "triage/arm64-compile-broken-3-14/5/compile.html" in pages
    page = _body(pages[name])
    # No markup from values: every hostile string arrives as text.
    for raw in ("<script>alert", "<img src=x", "<b>bold</b>", "<i>sometimes</i>",
                'href="javascript', "</pre><script>"):
        assert raw not in page
    assert HOSTILE_BUILDER in html.unescape(re.sub(r"<[^>]+>", "", page))
    assert _steps(page, "triage") == [s.id for s in load_checklists()["triage"].steps]
    assert 'id="checklist-new-issue"' in page and 'id="checklist-analysis"' in page
    links = [html.unescape(h) for h in re.findall(r'href="([^"]+)"', page)]
    new_issue = [h for h in links if "/issues/new?" in h]
    assert new_issue and all(len(h) <= 8000 for h in new_issue)
    assert "https://github.com/python/cpython/issues?q=is%3Aissue+in%3Atitle+test_evil" in links
    assert "https://github.com/python/cpython/issues/4242" in links  # the match, beside a step
    assert "feedface" * 5 in page  # suspects listed for the analysis


def test_infrastructure_page_uses_its_checklist(site):
    _, pages = site
    page = _body(pages["triage/arm64-compile-broken-3-14/5/compile.html"])
    assert _steps(page, "infrastructure") == [
        s.id for s in load_checklists()["infrastructure"].steps]
    assert "No such file or directory" in page


@pytest.mark.sphinx("html", testroot="checklist-bad", freshenv=True)
def test_bad_checklist_data_warns_with_file_and_line(app):
    app.build()
    warnings = app.warning.getvalue()
    assert "broken.yaml:6: step 'one': unknown placeholder {no_such_value}" in warnings
    assert "Checklist not available" in (Path(app.outdir) / "index.html").read_text()


@pytest.mark.sphinx("html", testroot="checklist-unknown", freshenv=True)
def test_unknown_checklist_name_warns_with_location(app):
    app.build()
    warnings = app.warning.getvalue()
    assert "index.md:3" in warnings and "unknown checklist 'no-such-checklist'" in warnings


@pytest.mark.sphinx("html", testroot="checklist", freshenv=True, parallel=2)
def test_parallel_build_gives_the_same_pages(app, site):
    app.build()
    assert app.warning.getvalue().strip() == ""
    _, serial = site
    out = Path(app.outdir)
    for name, checklist in (("index.html", "triage"),
                            ("triage/arm64-compile-broken-3-14/5/compile.html", "infrastructure")):
        assert _steps((out / name).read_text(), checklist) == _steps(serial[name], checklist)


def test_readme_documents_every_placeholder(repo):
    readme = (repo / "checklists" / "README.md").read_text()
    missing = [name for name in PLACEHOLDERS if f"`{{{name}}}`" not in readme]
    assert not missing, f"checklists/README.md does not list {missing}"


def test_control_and_bidi_characters_are_shown_not_obeyed(site):
    _, pages = site
    page = pages["triage/amd64-0-pwned-rtl-3-x/3/test_ctl.html"]
    controls = {chr(c) for c in range(32) if chr(c) not in "\t\n\r"} | {"\x7f"}
    bidi = {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
            "\u2069"}
    assert not set(page) & (controls | bidi)
    assert "\u241b[31mFAIL" in page and "&lt;U+202E&gt;" in page


def test_editing_a_checklist_rebuilds_the_pages_that_show_it(tmp_path):
    import shutil
    from io import StringIO

    from sphinx.testing.util import SphinxTestApp

    src = tmp_path / "src"
    shutil.copytree(Path(__file__).parents[1] / "roots" / "test-checklist-unknown", src)
    shutil.copytree(Path(__file__).parents[2] / "checklists", src / "checklists")
    (src / "index.md").write_text("# Triage\n\n```{triage-checklist} triage\n```\n")

    def build() -> str:
        app = SphinxTestApp("html", srcdir=src, builddir=tmp_path / "out", freshenv=False,
                            status=StringIO(), warning=StringIO())
        try:
            app.build()
        finally:
            app.cleanup()
        return (Path(app.outdir) / "index.html").read_text()

    assert "Read the test log" in build()
    yaml_file = src / "checklists" / "triage.yaml"
    yaml_file.write_text(yaml_file.read_text().replace("Read the test log", "Read the stdio log"))
    page = build()
    assert "Read the stdio log" in page and "Read the test log" not in page


def _checklist_site(tmp_path: Path, folder: str) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        'extensions = ["myst_parser", "bbwatch.sphinxext"]\nbbwatch_offline = True\n'
        f'html_theme = "basic"\nbbwatch_checklists = {folder!r}\n')
    (src / "index.md").write_text("# Site\n\n```{triage-checklist} demo\n```\n")
    return src


def test_checklist_folder_given_by_path(make_app, tmp_path):
    """``bbwatch_checklists`` (relative to conf.py) replaces the shipped checklists."""
    mine = tmp_path / "mine"
    mine.mkdir()
    write(mine, GOOD)
    app = make_app("html", srcdir=_checklist_site(tmp_path, "../mine"), freshenv=True)
    app.build()
    assert app.warning.getvalue().strip() == ""
    assert _steps((Path(app.outdir) / "index.html").read_text(), "demo") == ["one", "two"]


def test_missing_checklist_folder_is_a_config_error(make_app, tmp_path):
    from sphinx.errors import ConfigError

    with pytest.raises(ConfigError, match="bbwatch_checklists: checklist folder not found"):
        make_app("html", srcdir=_checklist_site(tmp_path, "nope"))
