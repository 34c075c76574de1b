"""Credentials are references only: the name of a Kubernetes secret, never a value."""

from __future__ import annotations

from enum import Enum

from handler.model.base import ModelObject


class CredentialType(str, Enum):
    USER_PASSWORD = "USER_PASSWORD"  # noqa: S105 - the kind of a credential, not a value
    API_TOKEN = "API_TOKEN"  # noqa: S105
    API_KEY_PAIR = "API_KEY_PAIR"
    CLIENT_CERT_WITH_KEY = "CLIENT_CERT_WITH_KEY"


class Credential(ModelObject):
    name: str
    credentialType: CredentialType
