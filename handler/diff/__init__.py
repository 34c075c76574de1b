"""Structural diff of two models by object path."""

from handler.diff.model_diff import ChangeKind, ModelChange, diff_models

__all__ = ["ChangeKind", "ModelChange", "diff_models"]
