"""Rendering a model into the deployment repository (SPEC.md section 6)."""

from handler.render.tree import RenderOptions, render_tree
from handler.render.writer import write_tree

__all__ = ["RenderOptions", "render_tree", "write_tree"]
