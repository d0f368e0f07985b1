"""bbwatch.source.atomic: whole files or nothing, and no temp files left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from bbwatch.source import atomic


def test_write_replaces_whole_file_and_creates_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "entry.json"
    atomic.write_text(target, "old")
    atomic.write_text(target, "new ✓")
    assert target.read_text(encoding="utf-8") == "new ✓"
    assert os.listdir(target.parent) == ["entry.json"]


def test_mode_is_applied(tmp_path: Path) -> None:
    target = tmp_path / "secret.json"
    atomic.write_bytes(target, b"{}", mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_failed_replace_keeps_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "entry.json"
    atomic.write_text(target, "complete")

    def broken(src: str, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        atomic.write_text(target, "half")
    assert target.read_text() == "complete"
    assert os.listdir(tmp_path) == ["entry.json"]
