"""Escaping for Markdown that is posted where others read it (a pull-request comment).

No input, whatever a task name or a value holds, may break a table row, open a code span
that swallows the rest, inject HTML (``<!--`` would hide everything after it) or a link.
"""
from __future__ import annotations

import html
import re

_NEWLINES = re.compile(r"\r\n|\r|\n")
_TEXT_SPECIAL = re.compile(r"([\\`\[\]|])")


def text(value: str) -> str:
    """Plain words: HTML off, Markdown's structural characters escaped, one line."""
    escaped = html.escape(value, quote=False)  # & < >
    escaped = _TEXT_SPECIAL.sub(r"\\\1", escaped)
    return _NEWLINES.sub("<br>", escaped)


def code(value: str, *, in_table: bool = True) -> str:
    """A value as a code span; a fence longer than any run of backticks inside it."""
    one_line = _NEWLINES.sub("↵", value)
    if in_table:
        one_line = one_line.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", one_line)), default=0)
    fence = "`" * (longest + 1)
    if not one_line:
        return "` `"
    pad = " " if one_line.startswith("`") or one_line.endswith("`") else ""
    return f"{fence}{pad}{one_line}{pad}{fence}"


def inline_html(value: str) -> str:
    """Text inside an HTML element (``<summary>``): escaped, on one line."""
    return html.escape(_NEWLINES.sub("↵", value), quote=True)
