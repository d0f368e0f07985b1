"""Create the fleet's CPython-like git repository from ``scenarios.COMMITS``.

Dates, authors and committers are fixed, so the commit hashes are the same on every machine.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bbwatch.errors import BBWatchError

from bbwatch_fleet import scenarios, sources

BASE_TIME = 1_780_000_000  # 2026-05-28, the base commit; each later commit is 7 minutes later
COMMITTER = "GitHub <noreply@github.com>"


@dataclass(frozen=True)
class CommitInfo:
    key: str
    revision: str
    title: str
    comments: str
    author: str
    when: int
    files: tuple[str, ...]


class RepoError(BBWatchError, RuntimeError):
    """A git command of the scripted repository failed."""


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RepoError(f"git {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout}")
    return proc.stdout.strip()


def _commit_env(author: str, when: int) -> dict[str, str]:
    name, _, email = author.partition(" <")
    cname, _, cemail = COMMITTER.partition(" <")
    date = f"{when} +0000"
    return {
        **os.environ,
        "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email.rstrip(">"), "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_NAME": cname, "GIT_COMMITTER_EMAIL": cemail.rstrip(">"),
        "GIT_COMMITTER_DATE": date,
        "GIT_CONFIG_NOSYSTEM": "1", "HOME": os.environ.get("HOME", "/nonexistent"),
    }


def _write(repo: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if rel == "configure":
            path.chmod(0o755)


def create(repo: Path) -> dict[str, CommitInfo]:
    """Create the repository at ``repo`` (must not exist yet); return commit infos by key."""
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "commit.gpgsign", "false")
    _write(repo, sources.BASE_TREE)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "Initial import", env=_commit_env(
        "Guido van Rossum <guido@example.org>", BASE_TIME))
    base = _git(repo, "rev-parse", "HEAD")
    infos: dict[str, CommitInfo] = {}
    when = BASE_TIME
    lines = [*scenarios.LINES.items(), *scenarios.LATER_LINES.items()]
    for ref, (start, keys) in lines:
        start_rev = infos[start].revision if start else base
        _git(repo, "checkout", "-q", "--detach", start_rev)
        for key in keys:
            commit = scenarios.COMMITS_BY_KEY[key]
            when += 7 * 60
            _write(repo, commit.files)
            _git(repo, "add", "-A")
            message = commit.title + (f"\n\n{commit.body}\n" if commit.body else "\n")
            _git(repo, "commit", "-q", "-m", message, env=_commit_env(commit.author, when))
            infos[key] = CommitInfo(
                key=key, revision=_git(repo, "rev-parse", "HEAD"), title=commit.title,
                comments=message.strip(), author=commit.author, when=when,
                files=tuple(sorted(commit.files)))
        head = _git(repo, "rev-parse", "HEAD")
        full_ref = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
        _git(repo, "update-ref", full_ref, head)
    _git(repo, "checkout", "-q", "main")
    return infos


def read(repo: Path) -> dict[str, CommitInfo]:
    """Recover commit infos from an existing repository (titles identify the commits)."""
    by_title = {c.title: c for c in scenarios.COMMITS}
    infos: dict[str, CommitInfo] = {}
    refs = [r if r.startswith("refs/") else f"refs/heads/{r}" for r in scenarios.LINES]
    out = _git(repo, "log", "--format=%H%x00%at%x00%an <%ae>%x00%s%x00%b%x1e", *refs)
    for record in out.split("\x1e"):
        if not record.strip():
            continue
        rev, when, author, subject, body = record.strip("\n").split("\x00")
        commit = by_title.get(subject)
        if commit is None:
            continue
        comments = subject + (f"\n\n{body.strip()}" if body.strip() else "")
        infos[commit.key] = CommitInfo(
            key=commit.key, revision=rev, title=subject, comments=comments, author=author,
            when=int(when), files=tuple(sorted(commit.files)))
    missing = set(scenarios.COMMITS_BY_KEY) - set(infos)
    if missing:
        raise RepoError(f"repository {repo} lacks commits {sorted(missing)}; remove it to rebuild")
    return infos


def ensure(repo: Path) -> dict[str, CommitInfo]:
    return read(repo) if (repo / ".git").exists() else create(repo)
