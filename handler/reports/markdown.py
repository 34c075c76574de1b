"""Putting untrusted text into GitHub Markdown so that it stays text.

Names and messages come from pull requests. Without escaping, a name could close its code span,
mention people (``@someone``), link issues (``#123``), embed images fetched from anywhere, inject
HTML, or open an HTML comment that hides the rest of the report. ``escape`` makes text inert
in running Markdown; ``code`` makes a code span that no content can break out of.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})
_REFERENCE = re.compile(r"(@|\\#)(?=\w)")
_NEWLINES = re.compile(r"[\r\n\u2028\u2029]+")
_AUTOLINK = re.compile(r"(?i)(?<=:)(?=/)|(?<=www)(?=\\\.)")


def escape(text: str) -> str:
    """``text`` as inert running Markdown: one line, no HTML, no mentions, references, links or formatting."""
    flat = _NEWLINES.sub(" ", text)
    escaped = _SPECIAL.sub(r"\\\1", flat.translate(_HTML))
    # A zero-width joiner after "@" or "#" stops GitHub from making a mention or an issue link of it,
    # and one in "://" and "www." from autolinking a URL.
    escaped = _REFERENCE.sub("\\1\u200d", escaped)
    return _AUTOLINK.sub("\u200d", escaped)


def code(text: str, in_table: bool = False) -> str:
    """``text`` as one inline code span that its content cannot end.

    The fence is one backtick longer than the longest run inside (CommonMark), line breaks become
    spaces, and in a table cell ``|`` is escaped (GitHub splits cells on it even in code). GitHub
    renders no mention, link, image or HTML inside a code span.
    """
    flat = _NEWLINES.sub(" ", text)
    if in_table:
        flat = flat.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", flat)), default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or not flat.strip() else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def fenced(text: str, language: str = "") -> list[str]:
    """A fenced code block that ``text`` cannot close: the fence is longer than any run of backticks in it."""
    fence = "`" * max(3, max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return [f"{fence}{language}", text, fence]
