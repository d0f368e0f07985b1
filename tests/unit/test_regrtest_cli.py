"""`bbwatch parse SOURCE [--json]`: files, stdin, build URLs, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bbwatch.commands.main import main

SAMPLES = Path(__file__).parent / "samples" / "regrtest"
FULL = SAMPLES / "real-313-full.log"


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(FULL), "--json"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data["result"] == "FAILURE then FAILURE"
    assert data["rerun_passed"] == ["test_bb_flaky"]
    assert "test_bb_crash" in data["failed"] and data["outcomes"]["test_bb_crash"] == "crashed"
    assert data["truncated"] is False
    assert err == ""


def test_human_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(FULL)]) == 0
    out = capsys.readouterr().out
    assert "Result: FAILURE then FAILURE" in out
    assert "FAIL: test_bb_fail.FailTests.test_assert" in out
    assert "AssertionError: 1 != 2 : values differ" in out
    assert "test_bb_crash" in out and "Fatal Python error: Aborted" in out
    assert "Timeout (0:00:05)!" in out
    assert "Passed on re-run (flaky) (1): test_bb_flaky" in out
    assert "environ(" not in out


def test_human_output_leaks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(SAMPLES / "hand-refleak-3x.log")]) == 0
    out = capsys.readouterr().out
    assert "test_os leaked [1, 1, 1] references, sum=3" in out
    assert "test_socket leaked [1, 1, 1] file descriptors" in out


@pytest.mark.parametrize("content", [b"", b"\x00\x01\xff" * 1000, b"just some build output\n"])
def test_no_regrtest_output_is_a_note_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    log = tmp_path / "stdio"
    log.write_bytes(content)
    assert main(["parse", str(log), "--json"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data["truncated"] is True and data["failed"] == [] and data["cases"] == []
    assert err.count("\n") == 1 and "no regrtest output" in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(tmp_path / "nope.log")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "no such file" in err


def test_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_stdin_in_a_subprocess() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bbwatch", "parse", "-", "--json"],
        input=(SAMPLES / "hand-windows-crlf.log").read_bytes(), capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["failed"] == ["test_ctypes", "test_os", "test_subprocess"]


def test_unreachable_master(capsys: pytest.CaptureFixture[str], monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("BBWATCH_CACHE_DIR", str(tmp_path))
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    assert main(["parse", "http://127.0.0.1:9/#/builders/1/builds/2", "--timeout", "2"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "127.0.0.1:9" in err


def test_not_a_build_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", "http://127.0.0.1:9/about"]) == 2
    assert "not a build URL" in capsys.readouterr().err


def test_build_url_through_the_client(monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The URL path asks the client for the build named by the URL and its test log."""
    from bbwatch.commands import parse as parse_command
    from bbwatch.source.urls import BuildRef

    seen: dict[str, object] = {}

    class FakeClient:
        def __init__(self, base_url: str, **kwargs: object) -> None:
            seen["base_url"] = base_url

        def __enter__(self) -> FakeClient:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def resolve(self, ref: BuildRef) -> tuple[object, object]:
            seen["ref"] = (ref.builderid, ref.number)
            return object(), object()

        def test_log(self, build: object) -> str:
            return FULL.read_text()

    monkeypatch.setattr(parse_command, "BuildbotClient", FakeClient)
    url = "http://127.0.0.1:8010/#/builders/7/builds/42"
    assert main(["parse", url, "--json"]) == 0
    assert seen == {"base_url": "http://127.0.0.1:8010/", "ref": (7, 42)}
    assert json.loads(capsys.readouterr().out)["rerun_passed"] == ["test_bb_flaky"]


def test_build_without_test_log(monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bbwatch.commands import parse as parse_command

    class NoLog:
        def __init__(self, *a: object, **k: object) -> None:
            pass

        def __enter__(self) -> NoLog:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def resolve(self, ref: object) -> tuple[object, object]:
            return object(), object()

        def test_log(self, build: object) -> None:
            return None

    monkeypatch.setattr(parse_command, "BuildbotClient", NoLog)
    assert main(["parse", "http://127.0.0.1:8010/#/builders/7/builds/42"]) == 2
    assert "no 'test' step log" in capsys.readouterr().err


def test_credentials_never_printed(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("BBWATCH_CACHE_DIR", str(tmp_path))
    url = "http://user:s3cret@127.0.0.1:9/#/builders/1/builds/2?token=t0ken"
    assert main(["parse", url, "--timeout", "2"]) == 2
    err = capsys.readouterr().err
    assert "s3cret" not in err and "t0ken" not in err and err.count("\n") == 1


def test_undecodable_text_never_breaks_output(tmp_path: Path) -> None:
    log = tmp_path / "stdio"
    log.write_bytes((SAMPLES / "real-313-full.log").read_bytes().replace(
        b"values differ", b"values \xff\xfe differ \xe2\x9c\x93"))
    proc = subprocess.run([sys.executable, "-m", "bbwatch", "parse", str(log)],
                          capture_output=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "ascii"})
    assert proc.returncode == 0, proc.stderr
    assert b"values" in proc.stdout and b"Traceback" not in proc.stderr
