"""Buildbot URLs: every form watchers paste -> the master's web and API roots and the resource
it names (``master_urls``, ``parse_url``, ``parse_build_url``), and the URLs we print.

The rule (``bbwatch.source.urls.master_urls``): buildbot.python.org, with or without ``/all/``,
``http`` or ``https``, is web ``https://buildbot.python.org/`` and API
``https://buildbot.python.org/all/api/v2/``; any other master's API is ``<root>api/v2/``;
``BBWATCH_API_ROOT`` (or ``api_root=``) overrides the API root.
"""

from __future__ import annotations

import pytest
from bbwatch.source.urls import (
    API_ROOT_ENV,
    BuildbotURL,
    BuildRef,
    MasterURLs,
    build_url,
    builder_url,
    log_url,
    master_urls,
    normalise_base_url,
    parse_build_url,
    parse_url,
)
from hypothesis import given
from hypothesis import strategies as st

PY = "https://buildbot.python.org/"
ALL = "https://buildbot.python.org/all/"
PYAPI = "https://buildbot.python.org/all/api/v2/"
LOCAL = "http://127.0.0.1:8010/"
LOCALAPI = "http://127.0.0.1:8010/api/v2/"
EX = "https://ci.example.org/bb/"
EXAPI = "https://ci.example.org/bb/api/v2/"


# tests/conftest.py clears BBWATCH_API_ROOT for every test.

# url -> (web root, API root, kind, API resource, web page, other fields)
FORMS: list[tuple[str, str, str, str, str, str | None, dict]] = [
    # --- build pages: the form watchers use, the legacy /all/ one, http, the 1.x hash route
    (f"{PY}#/builders/1223/builds/128", PY, PYAPI, "build",
     f"{PYAPI}builders/1223/builds/128", f"{PY}#/builders/1223/builds/128",
     {"builderid": 1223, "number": 128}),
    (f"{ALL}#/builders/32/builds/1707", PY, PYAPI, "build",
     f"{PYAPI}builders/32/builds/1707", f"{PY}#/builders/32/builds/1707",
     {"builderid": 32, "number": 1707}),
    ("http://buildbot.python.org/all/#/builders/32/builds/1707", PY, PYAPI, "build",
     f"{PYAPI}builders/32/builds/1707", f"{PY}#/builders/32/builds/1707", {}),
    ("https://buildbot.python.org/all#/builders/32/builds/1707", PY, PYAPI, "build",
     f"{PYAPI}builders/32/builds/1707", f"{PY}#/builders/32/builds/1707", {}),
    ("https://buildbot.python.org#/builders/32/builds/1707", PY, PYAPI, "build",
     f"{PYAPI}builders/32/builds/1707", f"{PY}#/builders/32/builds/1707", {}),
    (f"{ALL}#builders/32/builds/1707", PY, PYAPI, "build",
     f"{PYAPI}builders/32/builds/1707", f"{PY}#/builders/32/builds/1707", {}),
    # trailing slash; a query inside the fragment
    (f"{PY}#/builders/3/builds/5/", PY, PYAPI, "build",
     f"{PYAPI}builders/3/builds/5", f"{PY}#/builders/3/builds/5", {}),
    (f"{ALL}#/builders/3/builds/5?tab=changes", PY, PYAPI, "build",
     f"{PYAPI}builders/3/builds/5", f"{PY}#/builders/3/builds/5", {}),
    # --- step and log pages of the UI
    (f"{ALL}#/builders/3/builds/5/steps/4", PY, PYAPI, "step",
     f"{PYAPI}builders/3/builds/5/steps/4", f"{PY}#/builders/3/builds/5/steps/4",
     {"step": "4"}),
    (f"{PY}#/builders/3/builds/5/steps/4/logs/stdio", PY, PYAPI, "log",
     f"{PYAPI}builders/3/builds/5/steps/4/logs/stdio",
     f"{PY}#/builders/3/builds/5/steps/4/logs/stdio", {"step": "4", "log": "stdio"}),
    # --- builder pages and lists (tags as the UI writes them)
    (f"{PY}#/builders/14", PY, PYAPI, "builder", f"{PYAPI}builders/14", f"{PY}#/builders/14",
     {"builderid": 14, "number": None}),
    (f"{ALL}#/builders/14/", PY, PYAPI, "builder", f"{PYAPI}builders/14", f"{PY}#/builders/14",
     {}),
    (f"{PY}#/builders?tags=%2B3.x&tags=%2Bstable", PY, PYAPI, "builders", f"{PYAPI}builders",
     f"{PY}#/builders?tags=%2B3.x&tags=%2Bstable", {"tags": ("+3.x", "+stable")}),
    (f"{ALL}#/builders", PY, PYAPI, "builders", f"{PYAPI}builders", f"{PY}#/builders",
     {"tags": ()}),
    # --- dashboards
    (f"{PY}#/release_status", PY, PYAPI, "page", PYAPI, f"{PY}#/release_status",
     {"page": "release_status"}),
    (f"{ALL}#/grid?branch=refs%2Fpull%2F123%2Fmerge", PY, PYAPI, "page", PYAPI,
     f"{PY}#/grid?branch=refs%2Fpull%2F123%2Fmerge", {"page": "grid"}),
    (f"{PY}#/console", PY, PYAPI, "page", PYAPI, f"{PY}#/console", {"page": "console"}),
    (f"{ALL}#/waterfall", PY, PYAPI, "page", PYAPI, f"{PY}#/waterfall", {"page": "waterfall"}),
    # --- the front page and the API root, every spelling
    (PY, PY, PYAPI, "master", PYAPI, PY, {}),
    (ALL, PY, PYAPI, "master", PYAPI, PY, {}),
    ("http://buildbot.python.org", PY, PYAPI, "master", PYAPI, PY, {}),
    (f"{ALL}#/", PY, PYAPI, "master", PYAPI, PY, {}),
    (f"{PYAPI}", PY, PYAPI, "master", PYAPI, PY, {}),
    ("https://buildbot.python.org/all/api/v2", PY, PYAPI, "master", PYAPI, PY, {}),
    # --- API URLs: logs by id (the UI's download and "view all" links), nested raw logs
    (f"{PYAPI}logs/60/raw", PY, PYAPI, "log", f"{PYAPI}logs/60", None, {"logid": 60}),
    (f"{PYAPI}logs/60/raw_inline", PY, PYAPI, "log", f"{PYAPI}logs/60", None, {"logid": 60}),
    (f"{PYAPI}logs/60/contents?offset=0&limit=10", PY, PYAPI, "log", f"{PYAPI}logs/60", None,
     {}),
    (f"{PYAPI}logs/60", PY, PYAPI, "log", f"{PYAPI}logs/60", None, {}),
    (f"{PYAPI}builders/3/builds/5/steps/test/logs/stdio/raw", PY, PYAPI, "log",
     f"{PYAPI}builders/3/builds/5/steps/test/logs/stdio",
     f"{PY}#/builders/3/builds/5/steps/test/logs/stdio",
     {"builderid": 3, "number": 5, "step": "test", "log": "stdio"}),
    # without /all/ (not where the API is): still the API under /all/
    (f"{PY}api/v2/builders/3/builds/5/steps/test/logs/stdio/raw", PY, PYAPI, "log",
     f"{PYAPI}builders/3/builds/5/steps/test/logs/stdio",
     f"{PY}#/builders/3/builds/5/steps/test/logs/stdio", {}),
    (f"{PY}api/v2/builders/AMD64%20RHEL8%203.13/builds/7/steps/2/logs/stdio/raw_inline", PY,
     PYAPI, "log", f"{PYAPI}builders/AMD64%20RHEL8%203.13/builds/7/steps/2/logs/stdio", None,
     {"builderid": None, "builder_name": "AMD64 RHEL8 3.13"}),
    (f"{PYAPI}builders/3", PY, PYAPI, "builder", f"{PYAPI}builders/3", f"{PY}#/builders/3", {}),
    (f"{PYAPI}builders?tags__contains=3.13", PY, PYAPI, "builders", f"{PYAPI}builders",
     f"{PY}#/builders", {"tags": ()}),
    # --- the old 0.8 waterfall UI: builders by url-encoded name
    (f"{ALL}builders/AMD64%20Windows8%203.x/builds/123/steps/test/logs/stdio", PY, PYAPI,
     "log", f"{PYAPI}builders/AMD64%20Windows8%203.x/builds/123/steps/test/logs/stdio", None,
     {"builder_name": "AMD64 Windows8 3.x", "number": 123}),
    # --- a local master: the generic rule, API at <root>api/v2/
    (f"{LOCAL}#/builders/8/builds/2", LOCAL, LOCALAPI, "build", f"{LOCALAPI}builders/8/builds/2",
     f"{LOCAL}#/builders/8/builds/2", {}),
    ("  HTTP://127.0.0.1:8010#/builders/2/builds/0 ", LOCAL, LOCALAPI, "build",
     f"{LOCALAPI}builders/2/builds/0", f"{LOCAL}#/builders/2/builds/0", {}),
    (f"{LOCALAPI}logs/5/raw", LOCAL, LOCALAPI, "log", f"{LOCALAPI}logs/5", None, {}),
    (f"{LOCAL}#/release_status", LOCAL, LOCALAPI, "page", LOCALAPI, f"{LOCAL}#/release_status",
     {}),
    # --- any other master, also under a path: same generic rule
    (f"{EX}#/builders/1/builds/2", EX, EXAPI, "build", f"{EXAPI}builders/1/builds/2",
     f"{EX}#/builders/1/builds/2", {}),
    (f"{EXAPI}builders/1/builds/2/steps/test/logs/stdio/raw", EX, EXAPI, "log",
     f"{EXAPI}builders/1/builds/2/steps/test/logs/stdio",
     f"{EX}#/builders/1/builds/2/steps/test/logs/stdio", {}),
    ("https://ci.example.org/all/#/builders/1/builds/2", "https://ci.example.org/all/",
     "https://ci.example.org/all/api/v2/", "build",
     "https://ci.example.org/all/api/v2/builders/1/builds/2",
     "https://ci.example.org/all/#/builders/1/builds/2", {}),
    # --- credentials never survive
    ("https://user:secret@buildbot.python.org/all/#/builders/1/builds/2", PY, PYAPI, "build",
     f"{PYAPI}builders/1/builds/2", f"{PY}#/builders/1/builds/2", {}),
]


@pytest.mark.parametrize(("url", "web", "api", "kind", "api_url", "web_url", "fields"), FORMS,
                         ids=[f[0].strip()[:90] for f in FORMS])
def test_every_form_resolves_to_its_master_and_resource(
    url: str, web: str, api: str, kind: str, api_url: str, web_url: str | None, fields: dict
) -> None:
    found = parse_url(url)
    assert (found.web_root, found.api_root, found.kind) == (web, api, kind)
    assert (found.api_url, found.web_url) == (api_url, web_url)
    for name, value in fields.items():
        assert getattr(found, name) == value, name
    assert master_urls(url) == MasterURLs(web, api)
    assert normalise_base_url(url) == web
    assert "secret" not in repr(found)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"{PY}#/builders/1223/builds/128", BuildRef(PY, 1223, None, 128)),
        (f"{ALL}#/builders/32/builds/1707", BuildRef(PY, 32, None, 1707)),
        (f"{ALL}#builders/32/builds/1707", BuildRef(PY, 32, None, 1707)),
        (f"{ALL}#/builders/3/builds/5/steps/4", BuildRef(PY, 3, None, 5, "4")),
        (f"{ALL}#/builders/3/builds/5/steps/test/logs/stdio",
         BuildRef(PY, 3, None, 5, "test", "stdio")),
        (f"{ALL}#/builders/3/builds/5/", BuildRef(PY, 3, None, 5)),
        (f"{ALL}#/builders/3/builds/5?tab=changes", BuildRef(PY, 3, None, 5)),
        (f"{ALL}builders/AMD64%20Windows8%203.x/builds/123/steps/test/logs/stdio",
         BuildRef(PY, None, "AMD64 Windows8 3.x", 123, "test", "stdio")),
        (f"{ALL}builders/x86%20Gentoo%203.x/builds/9", BuildRef(PY, None, "x86 Gentoo 3.x", 9)),
        (f"{PYAPI}builders/3/builds/5/steps/test/logs/stdio/raw",
         BuildRef(PY, 3, None, 5, "test", "stdio")),
        (f"{PYAPI}builders/3/builds/5", BuildRef(PY, 3, None, 5)),
        (f"{PY}api/v2/builders/AMD64%20RHEL8%203.13/builds/7/steps/2/logs/stdio/raw_inline",
         BuildRef(PY, None, "AMD64 RHEL8 3.13", 7, "2", "stdio")),
        ("  HTTP://127.0.0.1:8010/#/builders/2/builds/0 ", BuildRef(LOCAL, 2, None, 0)),
    ],
)
def test_parse_build_url_every_build_form(url: str, expected: BuildRef) -> None:
    ref = parse_build_url(url)
    assert ref == expected
    assert ref.api_root == (LOCALAPI if ref.base_url == LOCAL else PYAPI)


def test_credentials_never_reach_the_ref() -> None:
    ref = parse_build_url("https://user:secret@buildbot.python.org/all/#/builders/1/builds/2")
    assert "secret" not in repr(ref)
    assert ref.base_url == PY


@pytest.mark.parametrize(
    ("url", "what"),
    [
        (f"{PY}#/builders/1", "a builder's page"),
        (f"{PY}#/builders?tags=%2B3.x", "a list of builders"),
        (f"{PY}#/release_status", "a dashboard"),
        (f"{ALL}#/grid?branch=refs%2Fpull%2F1%2Fmerge", "a dashboard"),
        (PY, "a master's front page"),
        (f"{PYAPI}logs/60/raw", "a log known only by its id"),
    ],
)
def test_build_url_names_what_was_pasted_instead(url: str, what: str) -> None:
    with pytest.raises(ValueError, match="not a build URL") as info:
        parse_build_url(url)
    assert what in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "buildbot.python.org/#/builders/1/builds/2",  # no scheme
        "ftp://buildbot.python.org/#/builders/1/builds/2",
        "javascript:alert(1)//#/builders/1/builds/2",
        "https:///#/builders/1/builds/2",  # no host
        f"{ALL}#/builders/1/builds/",
        f"{ALL}#/builders/-1/builds/2",
        f"{ALL}#/builders/1/builds/2x",
        f"{ALL}#/builders/abc/builds/2",  # the new UI only uses ids
        f"{ALL}#/builders/abc",
        f"{ALL}#/builders/1/builds/99999999999999999999",
        f"{ALL}#/builders/١/builds/2",  # non-ASCII digits
        f"{ALL}#/builders/1/builds/2\n/steps/x",
        f"{ALL}#/Release_Status",
        f"{ALL}#/workers/5/../../x",
        f"{PYAPI}builders/3/builds/5#/builders/1/builds/2",  # a UI route after an API path
        "https://buildbot.python.org:99999/#/builders/1/builds/2",  # bad port
        f"{ALL}api/v2/builds/1732278",  # a buildid, not a builder's build number
        f"{ALL}api/v2/logs/-1/raw",
        f"{ALL}builders/%0A/builds/1",  # control character in the name
        f"{ALL}#/builders/1/builds/2" + "/x" * 5000,
    ],
)
def test_rejects_what_no_master_serves(url: str) -> None:
    with pytest.raises(ValueError, match="not a Buildbot URL") as info:
        parse_url(url)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="not a build URL") as info:
        parse_build_url(url)
    assert "\n" not in str(info.value)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("value", [None, 3, b"https://x/#/builders/1/builds/2"])
def test_rejects_non_strings(value: object) -> None:
    with pytest.raises(ValueError, match="not a build URL"):
        parse_build_url(value)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a Buildbot URL"):
        parse_url(value)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a Buildbot URL"):
        master_urls(value)  # type: ignore[arg-type]


@given(st.text(max_size=300))
def test_arbitrary_text_gives_a_url_or_a_value_error(text: str) -> None:
    try:
        found = parse_url(text)
    except ValueError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(found, BuildbotURL)
        assert found.web_root.endswith("/") and found.api_root.endswith("/api/v2/")
        assert found.api_url.startswith(found.api_root)


@given(
    st.sampled_from([PY, ALL, "http://buildbot.python.org/all", LOCAL, EX]),
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=0, max_value=10**9),
)
def test_build_url_round_trips_in_the_watchers_form(base: str, builderid: int, number: int) -> None:
    web = normalise_base_url(base)
    url = build_url(base, builderid, number)
    assert url == f"{web}#/builders/{builderid}/builds/{number}"
    assert parse_build_url(url) == BuildRef(web, builderid, None, number)


def test_printed_python_org_links_use_the_form_watchers_use() -> None:
    assert build_url(PYAPI, 345, 8123) == f"{PY}#/builders/345/builds/8123"
    assert builder_url(ALL, 14) == f"{PY}#/builders/14"
    assert log_url(ALL, 3, 5, "test") == f"{PYAPI}builders/3/builds/5/steps/test/logs/stdio/raw"
    assert log_url(PY, 3, 5, "test") == log_url(ALL, 3, 5, "test")
    assert log_url(LOCAL, 3, 5, "test") == (
        f"{LOCALAPI}builders/3/builds/5/steps/test/logs/stdio/raw"
    )
    # Names with spaces or slashes are encoded, so the URL stays one path segment each.
    assert log_url(ALL, 3, 5, "mkdir out/x", "std io").endswith(
        "/steps/mkdir%20out%2Fx/logs/std%20io/raw"
    )
    assert parse_build_url(log_url(ALL, 3, 5, "test")) == BuildRef(PY, 3, None, 5, "test", "stdio")


@pytest.mark.parametrize(
    ("given_url", "web", "api"),
    [
        ("http://127.0.0.1:8010", LOCAL, LOCALAPI),
        ("http://127.0.0.1:8010/", LOCAL, LOCALAPI),
        ("http://127.0.0.1:8010/api/v2", LOCAL, LOCALAPI),
        ("https://buildbot.python.org/all", PY, PYAPI),
        ("https://buildbot.python.org/all/", PY, PYAPI),
        ("https://buildbot.python.org/all/api/v2", PY, PYAPI),
        ("https://buildbot.python.org/all/api/v2/builders?x=1", PY, PYAPI),
        ("https://buildbot.python.org/all/#/builders/3/builds/1", PY, PYAPI),
        ("https://BUILDBOT.python.org/", PY, PYAPI),
        ("https://buildbot.python.org:443/all/", PY, PYAPI),
        ("https://user:pw@buildbot.python.org/all/", PY, PYAPI),
        # Another path on the known host is not the known master: the generic rule.
        ("https://buildbot.python.org/staging/", "https://buildbot.python.org/staging/",
         "https://buildbot.python.org/staging/api/v2/"),
        ("https://[::1]:8010/#/builders/1", "https://[::1]:8010/", "https://[::1]:8010/api/v2/"),
    ],
)
def test_master_urls(given_url: str, web: str, api: str) -> None:
    assert master_urls(given_url) == MasterURLs(web, api)
    assert normalise_base_url(given_url) == web


@pytest.mark.parametrize("bad", ["", "snapshot:/tmp/x", "file:///etc/passwd", "http://", 42])
def test_normalise_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="not a Buildbot URL"):
        normalise_base_url(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("override", "api"),
    [
        ("http://127.0.0.1:9000/all/api/v2/", "http://127.0.0.1:9000/all/api/v2/"),
        ("http://127.0.0.1:9000/all/api/v2", "http://127.0.0.1:9000/all/api/v2/"),
        ("http://127.0.0.1:9000/all/", "http://127.0.0.1:9000/all/api/v2/"),
        ("  HTTP://Mirror.example.org  ", "http://mirror.example.org/api/v2/"),
    ],
)
def test_api_root_override(monkeypatch: pytest.MonkeyPatch, override: str, api: str) -> None:
    url = f"{ALL}#/builders/3/builds/5"
    # The argument...
    assert master_urls(url, override) == MasterURLs(PY, api)
    # ... or the environment; the web root (our links) never moves.
    monkeypatch.setenv(API_ROOT_ENV, override)
    assert master_urls(url) == MasterURLs(PY, api)
    found = parse_url(url)
    assert (found.web_root, found.api_url) == (PY, f"{api}builders/3/builds/5")
    assert parse_build_url(url).api_root == api
    assert build_url(url, 3, 5) == f"{PY}#/builders/3/builds/5"
    assert log_url(PY, 3, 5, "test").startswith(api)
    # An explicit argument wins over the environment; environ={} ignores it.
    assert master_urls(url, f"{LOCAL}").api == LOCALAPI
    assert master_urls(url, environ={}).api == PYAPI


@pytest.mark.parametrize("bad", ["nope", "file:///x", "snapshot:/tmp/x"])
def test_bad_override_is_a_value_error(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv(API_ROOT_ENV, bad)
    with pytest.raises(ValueError, match=API_ROOT_ENV):
        master_urls(PY)
    monkeypatch.setenv(API_ROOT_ENV, "   ")  # blank: no override
    assert master_urls(PY).api == PYAPI
