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
    ("html-comment", "<!-- hide", "&lt;!-- hide", "`<!-- hide`"),
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


def test_summary_html() -> None:
    assert md.inline_html('<b>"x"</b>\n') == "&lt;b&gt;&quot;x&quot;&lt;/b&gt;↵"


def test_the_database_plan_escapes_names_too() -> None:
    from reconciler.plan import Action, Change, Plan
    from reconciler.render.plan import render_markdown

    text = render_markdown(Plan((Change(Action.DELETE, "x|<!--y", "t`z", reasons=("gone | <b>",)),)))
    row = next(line for line in text.splitlines() if line.startswith("| `-`"))
    assert row == "| `-` delete | `x\\|<!--y` | ``t`z`` | gone \\| &lt;b&gt; |"
