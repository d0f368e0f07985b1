"""Renderings of a filled triage (``bbwatch.triage.fill.Triage``): JSON for tools, markdown to
paste, text for a terminal. (HTML is a docutils tree: ``bbwatch.sphinxext.checklists``.)"""

from __future__ import annotations

import re
from typing import Any

from bbwatch.triage.context import BuildLink, Candidate, SuspectChange, TriageContext
from bbwatch.triage.fill import FilledFailure, FilledStep, Triage
from bbwatch.triage.mdescape import code_span, fenced, md_escape, url_target, visible
from bbwatch.triage.reproduce import reproduce


def to_json(triage: Triage) -> dict[str, Any]:
    ctx = triage.context
    return {
        "build_url": ctx.build_url,
        "builder": ctx.builder,
        "build_number": ctx.build_number,
        "branch": ctx.branch or None,
        "revision": ctx.revision or None,
        "result": ctx.result,
        "green": triage.green,
        "checklist": triage.checklist.id if triage.checklist else None,
        "infra": ctx.infra,
        "failures": [_failure_json(f, triage) for f in triage.failures],
        "reply_text": triage.reply_text,
        "suspects": [_suspect_json(s) for s in ctx.suspects],
        "first_failing": _link_json(ctx.first_failing),
        "last_good": _link_json(ctx.last_good),
        "steps": [_step_json(s) for s in triage.steps],
        "analysis_steps": [_step_json(s) for s in triage.analysis],
        "notes": list(ctx.notes),
    }


def _failure_json(f: FilledFailure, triage: Triage) -> dict[str, Any]:
    return {
        "test_file": f.failure.test_file,
        "test_id": f.test_id or None,
        "test_ids": list(f.failure.test_ids),
        "kind": f.failure.kind,
        "suggested_title": f.suggested_title,
        "search_urls": f.search_urls,
        "searches": [
            {"step": s.step, "term": s.term, "url": s.url,
             "matches": [_candidate_json(c) for c in s.matches]}
            for s in f.searches
        ],
        "new_issue_url": f.new_issue_url,
        "issue_body": f.issue_body,
        "candidates": [_candidate_json(c) for c in f.failure.candidates],
        "comment_text": f.comment_text,
        "reply_text": f.reply_text,
        "excerpt": f.failure.excerpt,
        "steps": [_step_json(s) for s in f.steps],
        "reproduce": reproduce(triage.context.builder, f.failure.test_file,
                               test_ids=f.failure.test_ids, seed=triage.context.seed,
                               kind=f.failure.kind,
                               command=triage.context.test_command).to_json(),
    }


def _candidate_json(c: Candidate) -> dict[str, Any]:
    return {"number": c.number, "title": c.title, "url": c.url, "state": c.state,
            "reason": c.reason, "confidence": round(c.confidence, 3), "source": c.source}


def _suspect_json(s: SuspectChange) -> dict[str, Any]:
    return {"revision": s.revision or None, "title": s.title, "author": s.author,
            "url": s.url or None, "reason": s.reason, "score": s.score}


def _link_json(link: BuildLink | None) -> dict[str, Any] | None:
    return {"number": link.number, "url": link.url} if link else None


def _step_json(s: FilledStep) -> dict[str, Any]:
    return {"id": s.id, "title": s.title, "text": s.text, "done": False}


def green_message(ctx: TriageContext) -> str:
    return f"{ctx.builder} build {ctx.build_number} is green ({ctx.result}): nothing to triage."


def to_markdown(triage: Triage) -> str:
    """The filled checklist as GitHub-flavoured markdown task lists, to paste."""
    ctx = triage.context
    if triage.green:
        return visible(md_escape(green_message(ctx)) + "\n")
    out = [f"# Triage: {md_escape(ctx.builder, False)} build {ctx.build_number}", ""]
    out.append(f"[Build {ctx.build_number}]({url_target(ctx.build_url)}) · branch "
               f"{md_escape(ctx.branch or 'unknown', False)} · revision "
               f"{code_span(ctx.revision or 'unknown')} · result {ctx.result.upper()}")
    out.append("")
    sections: list[tuple[str, list[FilledStep], FilledFailure | None]]
    if triage.failures:
        sections = [(f"{code_span(f.heading)}", f.steps, f) for f in triage.failures]
    else:
        sections = [(md_escape(ctx.infra or "infrastructure"), triage.steps, None)]
    for heading, steps, failure in sections:
        out += [f"## {heading}", ""]
        if failure is not None and len(failure.failure.test_ids) > 1:
            out += ["Failing tests: " + ", ".join(code_span(t) for t in failure.failure.test_ids),
                    ""]
        for n, step in enumerate(steps, 1):
            out.append(f"- [ ] **{n}. {md_escape(step.title)}**")
            out.append("")
            out.extend(_indent(step.markdown, "  "))
            extra = _attachment_markdown(step, failure, ctx)
            if extra:
                out += [""] + _indent(extra, "  ")
            out.append("")
        if failure is not None:  # each failing test's own command (issue 16)
            out += ["Reproduce locally:", "",
                    fenced(failure.values["reproduce_command"], "shell"), ""]
    if triage.analysis:
        out += ["## Analysis (later)", ""]
        for n, step in enumerate(triage.analysis, 1):
            out.append(f"- [ ] **{n}. {md_escape(step.title)}**")
            out += [""] + _indent(step.markdown, "  ")
            extra = _attachment_markdown(step, triage.failures[0] if triage.failures else None,
                                         ctx)
            if extra:
                out += [""] + _indent(extra, "  ")
            out.append("")
    return visible("\n".join(out).rstrip() + "\n")


def _indent(text: str, prefix: str) -> list[str]:
    return [prefix + line if line else "" for line in text.split("\n")]


def _attachment_markdown(step: FilledStep, failure: FilledFailure | None,
                         ctx: TriageContext) -> str:
    lines: list[str] = []
    for kind in step.attach:
        if kind.startswith("search-") and failure is not None:
            search = next((s for s in failure.searches if s.step == kind), None)
            if search is None:
                continue
            if search.matches:
                lines.append("Already found:")
                lines += [f"- {_candidate_md(c)}" for c in search.matches]
            else:
                lines.append("Already found: nothing.")
        elif kind == "candidates" and failure is not None:
            if failure.failure.candidates:
                lines.append("Candidates, best first:")
                lines += [f"- {_candidate_md(c)}" for c in failure.failure.candidates]
            else:
                lines.append("No candidate issue: file a new one.")
        elif kind == "suspects":
            if ctx.suspects:
                lines.append("Suspect changes, most likely first:")
                lines += [f"{n}. {_suspect_md(s)}" for n, s in enumerate(ctx.suspects, 1)]
            else:
                lines.append("No suspect change known.")
    return "\n".join(lines)


def _candidate_md(c: Candidate) -> str:
    label = f"#{c.number} " if c.number else ""
    link = f"[{md_escape(label + c.title)}]({url_target(c.url)})" if c.url else md_escape(c.title)
    tail = f" ({c.state}" + (f"; {md_escape(c.reason)}" if c.reason else "") + ")"
    return link + tail


def _suspect_md(s: SuspectChange) -> str:
    rev = code_span(s.revision[:12]) + " " if s.revision else ""
    title = f"[{md_escape(s.title)}]({url_target(s.url)})" if s.url else md_escape(s.title)
    who = f" by {md_escape(s.author)}" if s.author else ""
    why = f" — {md_escape(s.reason)}" if s.reason else ""
    return f"{rev}{title}{who}{why}"


def to_text(triage: Triage) -> str:
    """The filled checklist for a terminal: numbered boxes, values as they are."""
    ctx = triage.context
    if triage.green:
        return visible(green_message(ctx) + "\n")
    out = [f"Triage: {ctx.builder} build {ctx.build_number} ({ctx.result.upper()})",
           f"  {ctx.build_url}", f"  branch {ctx.branch or 'unknown'}, revision "
           f"{ctx.revision or 'unknown'}", ""]
    if triage.failures:
        sections = [(f.heading, f.steps, f) for f in triage.failures]
    else:
        sections = [(f"infrastructure: {ctx.infra}", triage.steps, None)]
    for heading, steps, failure in sections:
        out += [f"== {heading}", ""]
        if failure is not None and len(failure.failure.test_ids) > 1:
            out += [f"  failing tests: {', '.join(failure.failure.test_ids)}", ""]
        for n, step in enumerate(steps, 1):
            out.append(f"[ ] {n}. {step.title}")
            out += _indent(_links_to_text(step.text), "      ")
            extra = _attachment_markdown(step, failure, ctx)
            if extra:
                out += _indent(_links_to_text(_unescape_md(extra)), "      ")
            out.append("")
        if failure is not None:  # each failing test's own command (issue 16)
            out += ["    Reproduce locally:",
                    *_indent(failure.values["reproduce_command"], "      "), ""]
    if ctx.suspects or ctx.first_failing:
        out.append("== Analysis (later)")
        if ctx.first_failing:
            out.append(f"  first failing build: #{ctx.first_failing.number} "
                       f"{ctx.first_failing.url}")
        if ctx.last_good:
            out.append(f"  last good build: #{ctx.last_good.number} {ctx.last_good.url}")
        for n, s in enumerate(ctx.suspects, 1):
            out.append(f"  {n}. {s.revision[:12]} {s.title} ({s.reason})".rstrip())
    for note in ctx.notes:
        out.append(f"note: {note}")
    return visible("\n".join(out).rstrip() + "\n")


_MD_LINK = re.compile(r"\[([^\]\n]*)\]\(<?([^)\s>]*)>?\)")


def _links_to_text(text: str) -> str:
    return _MD_LINK.sub(lambda m: f"{m.group(1)} <{m.group(2)}>", text).replace("**", "")


def _unescape_md(text: str) -> str:
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)
