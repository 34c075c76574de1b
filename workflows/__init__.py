"""Data plane: the steps Argo runs. Never imports ``handler`` (pods never run model code)."""
