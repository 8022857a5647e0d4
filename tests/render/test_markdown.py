"""Markdown escaping: no task name or value may break a table row or inject HTML."""
from __future__ import annotations

import pytest

from reconciler.render import markdown as md

CELLS = [
    ("plain", "nightly", "nightly", "`nightly`"),
    ("pipe", "a|b", "a\\|b", "`a\\|b`"),
    ("newline", "a\nb\r\nc", "a<br>b<br>c", "`a↵b↵c`"),
    ("backticks", "a`b``c", "a\\`b\\`\\`c", "```a`b``c```"),
    ("leading-backtick", "`x", "\\`x", "`` `x ``"),
    ("html-comment", "<!-- hide", "&lt;!-- hide", "<code>&lt;&#33;-- hide</code>"),
    ("html-tag", "<img src=x onerror=y>", "&lt;img src=x onerror=y&gt;", "`<img src=x onerror=y>`"),
    ("link", "[click](http://x)", "\\[click\\](http://x)", "`[click](http://x)`"),
    ("backslash-pipe", "a\\|", "a\\\\\\|", "`a\\\\|`"),
    ("empty", "", "", "` `"),
]


@pytest.mark.parametrize(("value", "text", "code"), [c[1:] for c in CELLS], ids=[c[0] for c in CELLS])
def test_escaping(value: str, text: str, code: str) -> None:
    assert md.text(value) == text
    assert md.code(value) == code


@pytest.mark.parametrize("value", [c[1] for c in CELLS], ids=[c[0] for c in CELLS])
def test_a_row_keeps_its_cells(value: str) -> None:
    """Counting the cell separators as GitHub's table parser does: unescaped pipes."""
    row = f"| {md.code(value)} | {md.text(value)} |"
    assert "\n" not in row
    unescaped = [i for i, ch in enumerate(row) if ch == "|" and not _escaped(row, i)]
    assert len(unescaped) == 3


def _escaped(text: str, index: int) -> bool:
    """cmark-gfm's table scanner: a cell is ``([\\][|] | [^|\r\n])+``, so a pipe right after a
    backslash never separates cells, whatever precedes that backslash."""
    return index > 0 and text[index - 1] == "\\"


SPANS = [
    "`` `<!-- schedules-plan -->` <b id=x>x</b>",
    "`<!-- schedules-plan -->`",
    "a|`<!--`|*b* _c_ [d](e) \\ ~f~ &amp; \n<!-- x -->",
    "``` <i>x</i> ```",
    "plain",
]


@pytest.mark.parametrize("value", SPANS, ids=range(len(SPANS)))
def test_a_code_span_shows_the_value_whole_and_never_the_marker(value: str) -> None:
    """Rendered as GitHub parses it: one code element holding exactly the value; the comment
    body (which takes its own marker out) leaves it alone."""
    from markdown_it import MarkdownIt
    from markdown_it.common.utils import escapeHtml

    from reconciler.review.comment import MARKER, comment_body

    shown = md.code(value)
    assert MARKER not in shown and "<!--" not in shown
    expected = f"<code>{escapeHtml(value.replace(chr(10), '↵'))}</code>"
    table = MarkdownIt("commonmark").enable("table")
    row = table.render(f"| a |\n|---|\n| {shown} |\n")
    assert f"<td>{expected}</td>" in row
    body = comment_body(f"| a |\n|---|\n| {shown} |\n")
    assert f"<td>{expected}</td>" in table.render(body)


def test_summary_html() -> None:
    assert md.inline_html('<b>"x"</b>\n') == "&lt;b&gt;&quot;x&quot;&lt;/b&gt;↵"


def test_the_database_plan_escapes_names_too() -> None:
    from reconciler.core.plan import Action, Change, Plan
    from reconciler.core.reasons import Reason, Why
    from reconciler.render.plan import render_markdown

    gone = Reason(Why.NOT_DECLARED, "gone | <b>")
    text = render_markdown(Plan((Change(Action.DELETE, "x|<!--y", "t`z", reasons=(gone,)),)))
    row = next(line for line in text.splitlines() if line.startswith("| `-`"))
    assert row == "| `-` delete | <code>x&#124;&lt;&#33;--y</code> | ``t`z`` | gone \\| &lt;b&gt; |"
