"""Human documentation attached to model objects."""

from __future__ import annotations

from handler.model.base import ModelObject


class PlainTextDocumentation(ModelObject, tag="PlainText", tag_field="kind"):
    description: str


class MarkdownDocumentation(ModelObject, tag="Markdown", tag_field="kind"):
    description: str
    markdown: str = ""


Documentation = PlainTextDocumentation | MarkdownDocumentation

#: The concrete documentation classes, for isinstance checks.
DOCUMENTATION_TYPES = (PlainTextDocumentation, MarkdownDocumentation)
