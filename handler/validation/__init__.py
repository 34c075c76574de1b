"""Pull-request validation: files, authorization, backwards compatibility, platform acceptance."""

from handler.validation.source import ChangeSource
from handler.validation.validate import ValidationResult, check_change, validate

__all__ = ["ChangeSource", "ValidationResult", "check_change", "validate"]
