"""The pull-request comment under hostile values: nothing a declaration, a task name, a
diagnostic or a file name holds may close a code span, render live HTML, carry the comment's
marker, or make the comment invalid UTF-8.

The comment is rendered by markdown-it (CommonMark with tables, as GitHub parses it) and
every HTML it contains must be one of the renderer's own tags."""
from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from reconciler.pipeline import default_registry
from reconciler.review.against import plan_against
from reconciler.review.comment import MARKER, comment_body
from reconciler.review.markdown import render_markdown
from reconciler.review.render import RENDERERS
from tests.support.gitrepo import Repo

NOW = datetime(2026, 11, 24, 12, 0, 0, 123456, tzinfo=UTC)
SPOOF = "`` `<!-- schedules-plan -->` <b id=x>x</b>"
OUR_TAGS = re.compile(r"</?(br|sub|code|details|summary)>")

BASE = """\
tasks:
  plain:
    task: project.tasks.heartbeat
    every: 30s
    args: ["a"]
"""
HEAD = f"""\
tasks:
  plain:
    task: project.tasks.heartbeat
    every: 30s
    args: [{SPOOF!r}]
  "<b>n</b>`<!-- schedules-plan -->`|x":
    task: project.tasks.heartbeat
    every: 1m
    kwargs: {{label: "`<!-- schedules-plan -->`"}}
"""
INVALID = """\
tasks:
  broken:
    task: "<b>x</b>"
    every: 30s
  "also <!-- schedules-plan --> | `x`":
    task: "`<!-- schedules-plan -->` <i>y</i>"
    every: 30s
"""
UNDECODABLE = b"schedules/caf\xe9.yaml"  # Latin-1, not UTF-8


def live_html(markdown: str) -> list[str]:
    """Every piece of raw HTML the Markdown renders, as written in the source."""
    parser = MarkdownIt("commonmark").enable("table")
    found = []
    for token in parser.parse(markdown):
        if token.type == "html_block":
            found.append(token.content.strip())
        for child in token.children or ():
            if child.type == "html_inline":
                found.append(child.content)
    return found


def assert_safe(markdown: str) -> None:
    foreign = [html for html in live_html(markdown) if html != MARKER and not OUR_TAGS.fullmatch(html)]
    assert foreign == []
    assert markdown.count(MARKER) == 1 and markdown.rstrip("\n").endswith(MARKER)
    markdown.encode("utf-8")  # strict: no lone surrogates


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    repo = Repo(tmp_path / "project")
    repo.write("schedules/a.yaml", BASE)
    with open(os.fsencode(repo.root) + b"/" + UNDECODABLE, "wb") as handle:
        handle.write(b"tasks:\n  latin:\n    task: project.tasks.heartbeat\n    every: 5m\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("schedules/a.yaml", HEAD)
    os.unlink(os.fsencode(repo.root) + b"/" + UNDECODABLE)
    repo.commit("feature")
    monkeypatch.chdir(repo.root)
    return repo


def review_markdown() -> str:
    review = plan_against("main", [Path("schedules")], registry=default_registry(), now=NOW)
    assert review.plan is not None
    return render_markdown(review)


def test_hostile_values_render_no_live_html_and_no_marker(repo: Repo) -> None:
    markdown = review_markdown()
    assert_safe(markdown)
    assert_safe(comment_body(markdown))
    assert "&lt;b id=x&gt;" in markdown  # shown, escaped


def test_a_code_span_value_with_the_marker_is_shown_whole(repo: Repo) -> None:
    row = next(line for line in review_markdown().splitlines() if line.startswith("| 🔄 update"))
    cells = MarkdownIt("commonmark").enable("table").render(row + "\n|---|---|---|---|\n")
    assert cells  # a table parses
    rendered = MarkdownIt("commonmark").enable("table").render("|a|b|c|d|\n|---|---|---|---|\n" + row + "\n")
    assert "&lt;!-- schedules-plan --&gt;" in rendered
    assert rendered.count("<td>") == 4


def test_a_file_name_that_is_not_utf8_at_the_base_keeps_the_comment_utf8(repo: Repo) -> None:
    markdown = review_markdown()
    shown = ("caf\ufffd.yaml", "caf\\\\xe9.yaml")  # replaced, or escaped (files.display_path; a Markdown "\\")
    assert any(name in markdown for name in shown)
    assert markdown.encode("utf-8").decode("utf-8") == markdown
    review = plan_against("main", [Path("schedules")], registry=default_registry(), now=NOW)
    for fmt, render in RENDERERS.items():
        text = render(review).encode("utf-8").decode("utf-8")
        assert any(name in text for name in ("caf\ufffd.yaml", "caf\\xe9.yaml", "caf\\\\xe9.yaml")), fmt


def test_the_footer_is_to_the_second(repo: Repo) -> None:
    footer = next(line for line in review_markdown().splitlines() if line.startswith("<sub>"))
    assert "at 2026-11-24T12:00:00+00:00;" in footer
    assert ".123456" not in footer


def test_invalid_declarations_render_no_live_html(repo: Repo) -> None:
    repo.write("schedules/a.yaml", INVALID)
    review = plan_against("main", [Path("schedules")], registry=default_registry(), now=NOW)
    assert review.plan is None
    markdown = render_markdown(review)
    assert_safe(markdown)
    assert "&lt;b&gt;x&lt;/b&gt;" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| ❌")]
    rendered = MarkdownIt("commonmark").enable("table").render(
        "|a|b|c|d|\n|---|---|---|---|\n" + "\n".join(rows) + "\n")
    assert rendered.count("<td>") == 4 * len(rows) and rows
