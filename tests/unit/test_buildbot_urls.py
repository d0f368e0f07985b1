"""Build-URL parsing (every form users paste), base-URL normalisation, and UI URLs."""

from __future__ import annotations

import pytest
from bbwatch.buildbot import (
    BuildRef,
    build_url,
    builder_url,
    log_url,
    normalise_base_url,
    parse_build_url,
)
from hypothesis import given
from hypothesis import strategies as st

PY = "https://buildbot.python.org/"
ALL = "https://buildbot.python.org/all/"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # New UI, with and without the legacy /all/ prefix.
        (f"{PY}#/builders/1223/builds/128", BuildRef(PY, 1223, None, 128)),
        (f"{ALL}#/builders/32/builds/1707", BuildRef(ALL, 32, None, 1707)),
        # Old 1.x UI hash route without the slash.
        (f"{ALL}#builders/32/builds/1707", BuildRef(ALL, 32, None, 1707)),
        # Step and log URLs of the new UI.
        (f"{ALL}#/builders/3/builds/5/steps/4", BuildRef(ALL, 3, None, 5, "4")),
        (
            f"{ALL}#/builders/3/builds/5/steps/test/logs/stdio",
            BuildRef(ALL, 3, None, 5, "test", "stdio"),
        ),
        # Trailing slash and a query in the fragment.
        (f"{ALL}#/builders/3/builds/5/", BuildRef(ALL, 3, None, 5)),
        (f"{ALL}#/builders/3/builds/5?tab=changes", BuildRef(ALL, 3, None, 5)),
        # Old waterfall UI: url-encoded builder name.
        (
            f"{ALL}builders/AMD64%20Windows8%203.x/builds/123/steps/test/logs/stdio",
            BuildRef(ALL, None, "AMD64 Windows8 3.x", 123, "test", "stdio"),
        ),
        (f"{ALL}builders/x86%20Gentoo%203.x/builds/9", BuildRef(ALL, None, "x86 Gentoo 3.x", 9)),
        # REST API URLs, by id and by name, with the raw log suffix.
        (
            f"{ALL}api/v2/builders/3/builds/5/steps/test/logs/stdio/raw",
            BuildRef(ALL, 3, None, 5, "test", "stdio"),
        ),
        (f"{ALL}api/v2/builders/3/builds/5", BuildRef(ALL, 3, None, 5)),
        (
            f"{PY}api/v2/builders/AMD64%20RHEL8%203.13/builds/7/steps/2/logs/stdio/raw_inline",
            BuildRef(PY, None, "AMD64 RHEL8 3.13", 7, "2", "stdio"),
        ),
        # A local master on a port; host case and whitespace do not matter.
        (
            "  HTTP://127.0.0.1:8010/#/builders/2/builds/0 ",
            BuildRef("http://127.0.0.1:8010/", 2, None, 0),
        ),
    ],
)
def test_parse_every_form(url: str, expected: BuildRef) -> None:
    assert parse_build_url(url) == expected


def test_credentials_never_reach_the_ref() -> None:
    ref = parse_build_url("https://user:secret@buildbot.python.org/all/#/builders/1/builds/2")
    assert "secret" not in repr(ref)
    assert ref.base_url == ALL


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "buildbot.python.org/#/builders/1/builds/2",  # no scheme
        "ftp://buildbot.python.org/#/builders/1/builds/2",
        "javascript:alert(1)//#/builders/1/builds/2",
        "https:///#/builders/1/builds/2",  # no host
        f"{ALL}#/builders/1",  # a builder, not a build
        f"{ALL}#/builders/1/builds/",
        f"{ALL}#/builders/-1/builds/2",
        f"{ALL}#/builders/1/builds/2x",
        f"{ALL}#/builders/abc/builds/2",  # the new UI only uses ids
        f"{ALL}#/builders/1/builds/99999999999999999999",
        f"{ALL}#/builders/١/builds/2",  # non-ASCII digits
        f"{ALL}#/grid?branch=refs%2Fpull%2F1%2Fmerge",
        f"{ALL}#/builders/1/builds/2\n/steps/x",
        "https://buildbot.python.org:99999/#/builders/1/builds/2",  # bad port
        f"{ALL}api/v2/builds/1732278",  # a buildid, not a builder's build number
        f"{ALL}builders/%0A/builds/1",  # control character in the name
        f"{ALL}#/builders/1/builds/2" + "/x" * 5000,
    ],
)
def test_rejects_non_build_urls(url: str) -> None:
    with pytest.raises(ValueError, match="not a build URL") as info:
        parse_build_url(url)
    assert "\n" not in str(info.value)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("value", [None, 3, b"https://x/#/builders/1/builds/2"])
def test_rejects_non_strings(value: object) -> None:
    with pytest.raises(ValueError, match="not a build URL"):
        parse_build_url(value)  # type: ignore[arg-type]


@given(st.text(max_size=300))
def test_arbitrary_text_gives_a_ref_or_a_value_error(text: str) -> None:
    try:
        ref = parse_build_url(text)
    except ValueError as exc:
        assert "\n" not in str(exc)
    else:
        assert ref.base_url.endswith("/")
        assert ref.number >= 0


@given(
    st.sampled_from([PY, ALL, "http://127.0.0.1:8010/"]),
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=0, max_value=10**9),
)
def test_build_url_round_trips(base: str, builderid: int, number: int) -> None:
    url = build_url(base, builderid, number)
    assert url == f"{base}#/builders/{builderid}/builds/{number}"
    assert parse_build_url(url) == BuildRef(base, builderid, None, number)


@pytest.mark.parametrize(
    ("given_url", "root"),
    [
        ("http://127.0.0.1:8010", "http://127.0.0.1:8010/"),
        ("http://127.0.0.1:8010/", "http://127.0.0.1:8010/"),
        ("https://buildbot.python.org/all", ALL),
        ("https://buildbot.python.org/all/", ALL),
        ("https://buildbot.python.org/all/api/v2", ALL),
        ("https://buildbot.python.org/all/api/v2/", ALL),
        ("https://buildbot.python.org/all/api/v2/builders?x=1", ALL),
        ("https://buildbot.python.org/all/#/builders/3/builds/1", ALL),
        ("https://BUILDBOT.python.org/", PY),
        ("https://user:pw@buildbot.python.org/all/", ALL),
    ],
)
def test_normalise_base_url(given_url: str, root: str) -> None:
    assert normalise_base_url(given_url) == root


@pytest.mark.parametrize("bad", ["", "snapshot:/tmp/x", "file:///etc/passwd", "http://", 42])
def test_normalise_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="not a Buildbot URL"):
        normalise_base_url(bad)  # type: ignore[arg-type]


def test_builder_and_log_urls() -> None:
    assert builder_url("https://buildbot.python.org/all/api/v2", 14) == f"{ALL}#/builders/14"
    assert (
        log_url(ALL, 3, 5, "test") == f"{ALL}api/v2/builders/3/builds/5/steps/test/logs/stdio/raw"
    )
    # Names with spaces or slashes are encoded, so the URL stays one path segment each.
    assert log_url(ALL, 3, 5, "mkdir out/x", "std io").endswith(
        "/steps/mkdir%20out%2Fx/logs/std%20io/raw"
    )
    assert parse_build_url(log_url(ALL, 3, 5, "test")) == BuildRef(ALL, 3, None, 5, "test", "stdio")
