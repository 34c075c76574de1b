"""The rollout backend of the embedded loop: the local runner is its Argo CD and Argo Workflows.

The local runner applies the deployment tree itself, so every Application of it is synced to
the deployment commit and healthy once the runner accepted the manifests; its runs are given as
``RunState`` by the composition root (the command line), which is what may import the runner.
"""

from __future__ import annotations

from collections.abc import Callable

from handler.rollout.model import AppState, RunState


class LocalBackend:
    def __init__(self, deploy_commit: str, runs: Callable[[], list[RunState]]) -> None:
        self.deploy_commit = deploy_commit
        self._runs = runs

    def applications(self, names: list[str]) -> list[AppState]:
        return [AppState(name, "Synced", self.deploy_commit, "Healthy", "Succeeded") for name in names]

    def runs(self, namespaces: list[str], model_commit: str) -> list[RunState]:
        return [r for r in self._runs() if r.namespace in namespaces and r.model_commit == model_commit]
