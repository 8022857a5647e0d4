"""Escaping for Markdown that is posted where others read it (a pull-request comment).

No input, whatever a task name or a value holds, may break a table row, open a code span
that swallows the rest, inject HTML (``<!--`` would hide everything after it) or a link, or
carry the comment's marker (``<!-- …``): the bot finds its own comment by it.
"""
from __future__ import annotations

import html
import re

_NEWLINES = re.compile(r"\r\n|\r|\n")
_TEXT_SPECIAL = re.compile(r"([\\`\[\]|])")
# Inside an HTML <code> element Markdown still parses inlines: its punctuation goes as entities.
_CODE_SPECIAL = re.compile(r"[\\`*_\[\]~|!]")
COMMENT_OPEN = "<!--"


def text(value: str) -> str:
    """Plain words: HTML off, Markdown's structural characters escaped, one line."""
    escaped = html.escape(value, quote=False)  # & < >
    escaped = _TEXT_SPECIAL.sub(r"\\\1", escaped)
    return _NEWLINES.sub("<br>", escaped)


def code(value: str, *, in_table: bool = True) -> str:
    """A value as a code span; a fence longer than any run of backticks inside it. A value that
    holds ``<!--`` (the marker's start) goes as an HTML ``<code>`` element, every character
    escaped, so that the raw text of the comment never carries it."""
    one_line = _NEWLINES.sub("↵", value)
    if COMMENT_OPEN in one_line:
        return html_code(one_line)
    if in_table:
        one_line = one_line.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", one_line)), default=0)
    fence = "`" * (longest + 1)
    if not one_line:
        return "` `"
    pad = " " if one_line.startswith("`") or one_line.endswith("`") else ""
    return f"{fence}{pad}{one_line}{pad}{fence}"


def html_code(value: str) -> str:
    """``<code>`` with HTML escaped and Markdown's punctuation as numeric entities (valid in a
    table cell too: a ``&#124;`` never splits a row)."""
    escaped = html.escape(_NEWLINES.sub("↵", value), quote=True)
    return "<code>" + _CODE_SPECIAL.sub(lambda m: f"&#{ord(m.group())};", escaped) + "</code>"


def inline_html(value: str) -> str:
    """Text inside an HTML element (``<summary>``): escaped, on one line."""
    return html.escape(_NEWLINES.sub("↵", value), quote=True)


def valid_utf8(value: str) -> str:
    """Text that encodes as UTF-8: a file name git or the file system gave as undecodable
    bytes (lone surrogates) becomes U+FFFD instead of making the whole output invalid."""
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no undecodable byte made
        raw = value.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "replace")
