"""Loading untrusted model code in a sandbox, and the model's data files."""

from handler.loading.limits import SandboxLimits
from handler.loading.loader import LoadResult, load_model

__all__ = ["LoadResult", "SandboxLimits", "load_model"]
