"""Control plane: the model DSL, sandboxed loading, checks, rendering, git and GitHub adapters, the CLI."""

__version__ = "0.1.0"
