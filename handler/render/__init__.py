"""Rendering a model into the deployment repository (see docs/rendering.md)."""

from handler.render.tree import RenderOptions, render_tree
from handler.render.writer import write_tree

__all__ = ["RenderOptions", "render_tree", "write_tree"]
