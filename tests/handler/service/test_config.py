"""Service settings from the environment and a TOML file (``handler/service/config.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from handler.service.config import ConfigError, load_config

REQUIRED = {
    "DATASURFACE_WEBHOOK_SECRET": "s3cret",
    "DATASURFACE_ALLOWED_REPOS": "acme/model, acme/other",
    "DATASURFACE_DEPLOY_REPO_URL": "https://example.com/deploy.git",
}


def test_lists_and_label_maps_come_from_comma_separated_variables() -> None:
    config = load_config(
        environ={**REQUIRED, "DATASURFACE_MONITORING_LABELS": "release=kube-prometheus-stack, team = data"}
    )
    assert config.allowed_repos == ["acme/model", "acme/other"]
    assert config.monitoring_labels == {"release": "kube-prometheus-stack", "team": "data"}


def test_a_label_without_a_value_is_refused_with_the_variable_named() -> None:
    with pytest.raises(ConfigError, match="DATASURFACE_MONITORING_LABELS takes key=value"):
        load_config(environ={**REQUIRED, "DATASURFACE_MONITORING_LABELS": "release"})


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "service.toml"
    path.write_text('argo_ui_url = "https://argo.file"\n[monitoring_labels]\nrelease = "from-file"\n')
    config = load_config(path, environ={**REQUIRED, "DATASURFACE_ARGO_UI_URL": "https://argo.env"})
    assert config.argo_ui_url == "https://argo.env" and config.monitoring_labels == {"release": "from-file"}
