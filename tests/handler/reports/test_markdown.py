"""Untrusted text in the bot's Markdown stays text (``handler/reports/markdown.py``), checked by
rendering the report the way GitHub does (CommonMark + GFM tables) and inspecting the HTML."""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

from handler.findings import error
from handler.reports.findings_report import to_markdown as findings_markdown
from handler.reports.markdown import code, escape, fenced
from handler.reports.validation_report import to_markdown
from handler.validation import ChangeSource, ValidationResult

HOSTILE = "x`\n\n@someone #123 <img src=https://evil.example/p.png> <!-- [click](https://evil.example) ![i](https://evil.example/i.png)"
# GitHub's autolinks (GFM): URLs with a scheme, www. and e-mail addresses; no bare domains.
_html = MarkdownIt("gfm-like")
_html.linkify.set({"fuzzy_link": False})


def rendered(markdown: str) -> str:
    return _html.render(markdown)


def assert_inert(html: str) -> None:
    assert "<img" not in html and "<!--" not in html and "<a " not in html
    prose = re.sub(r"<code>.*?</code>", "", html, flags=re.S)  # GitHub makes no mention or reference in code
    assert "@someone" not in prose, "a live @mention"
    assert "#123" not in prose, "a live issue reference"


@pytest.mark.parametrize("text", [HOSTILE, "`` `", "a|b", "<script>x</script>", "**bold** _it_ > quote", "\u2028@x"])
def test_escaped_text_renders_as_exactly_that_text(text: str) -> None:
    html = rendered(escape(text))
    assert_inert(html)
    visible = re.sub(r"<[^>]+>", "", html).replace("\u200d", "").strip()
    import html as html_module

    assert html_module.unescape(visible) == re.sub(r"[\r\n\u2028\u2029]+", " ", text).strip()


@pytest.mark.parametrize("text", [HOSTILE, "a``b", "`start", "end`", "x|y"])
def test_a_code_span_cannot_be_broken_out_of(text: str) -> None:
    html = rendered(code(text))
    assert html.count("<code>") == 1 and html.strip().startswith("<p><code>") and html.strip().endswith("</code></p>")
    assert "<img" not in html and "<!--" not in html


def test_a_fence_cannot_be_closed_by_its_content() -> None:
    diff = "+ a\n```\n<img src=x>\n````\n- b"
    html = rendered("\n".join(fenced(diff, "diff")))
    assert html.count("<pre>") == 1 and "<img" not in html


def test_the_validation_report_keeps_hostile_names_inert() -> None:
    findings = [
        error("identifier-invalid", f"zone:USA/team:t/store:{HOSTILE}", f"store name {HOSTILE!r} is not SQL-safe")
    ]
    result = ValidationResult(source=ChangeSource("acme/model", "team`1"), findings=findings)
    html = rendered(to_markdown(result))
    assert_inert(html)
    assert "this change must not merge yet" in html


def test_the_lint_report_table_keeps_hostile_names_inert_and_its_columns() -> None:
    findings = [error("identifier-invalid", f"zone:{HOSTILE}|x", f"name {HOSTILE} | is bad")]
    html = rendered(findings_markdown(f"lint {HOSTILE}", findings))
    assert_inert(html)
    assert html.count("<td>") == 5  # one row of five cells: no cell split by a | from the name
