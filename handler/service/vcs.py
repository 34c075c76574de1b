"""The VCS client interface the runners use, and its GitHub implementation (PyGithub).

The API base URL is configurable (GitHub Enterprise: ``https://HOST/api/v3``; tests: a local
server that answers like GitHub).
"""

from __future__ import annotations

import functools
from typing import Any, Protocol
from urllib.parse import quote as url_quote
from urllib.parse import urlsplit, urlunsplit

from github import Auth, Github, GithubIntegration, GithubRetry

from handler.service.config import ServiceConfig

COMMENT_MARKER = "<!-- datasurface:validation -->"


class VcsClient(Protocol):
    def set_status(
        self, repo: str, sha: str, context: str, state: str, description: str, target_url: str | None = None
    ) -> None: ...

    def upsert_comment(self, repo: str, number: int, body: str, marker: str = COMMENT_MARKER) -> int: ...

    def clone_url(self, url: str) -> str: ...

    def open_pulls(self, repo: str, base: str) -> list[dict[str, Any]]:
        """The open pull requests into ``base``, newest first, as the API returns them."""
        ...

    def pull(self, repo: str, number: int) -> dict[str, Any]: ...

    def pulls_of_commit(self, repo: str, sha: str) -> list[int]:
        """The pull requests a commit belongs to (the one it merged, for a merge commit)."""
        ...

    def permission(self, repo: str, login: str) -> str:
        """``admin``, ``maintain``, ``write``, ``triage``, ``read`` or ``none``."""
        ...

    def react(self, repo: str, number: int, comment_id: int, content: str) -> None: ...


class WriteSafeRetry(GithubRetry):
    """PyGithub's retry (it waits out ``Retry-After`` and rate-limit resets, and retries 5xx), except
    that a write whose reply was a 5xx is not sent again at this level: it may have been done, and
    a second comment must never appear. The job is retried instead, and it looks before it writes.
    A wait longer than ``max_rate_limit_wait`` raises, and the job is scheduled for later."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("total", 5)
        kwargs.setdefault("backoff_factor", 1)
        kwargs.setdefault("max_rate_limit_wait", 60)
        super().__init__(**kwargs)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() in ("POST", "PATCH") and status_code >= 500:
            return False
        return bool(super().is_retry(method, status_code, has_retry_after))


class GitHubClient:
    """One client per GitHub App installation (or one for a token)."""

    def __init__(self, config: ServiceConfig, installation_id: int | None = None) -> None:
        self.config = config
        self.token: str | None = None
        self._app: Auth.AppAuth | None = None
        if config.github_app_id and config.github_app_private_key_file and installation_id:
            self._app = Auth.AppAuth(config.github_app_id, config.github_app_private_key_file.read_text())
            auth: Auth.Auth = self._app.get_installation_auth(installation_id)
        elif config.github_token is not None:
            self.token = config.github_token.get_secret_value()
            auth = Auth.Token(self.token)
        else:
            raise ValueError("no GitHub credentials: set github_token or a GitHub App (app id, private key)")
        self.github = Github(
            base_url=config.github_api_url.rstrip("/"),
            auth=auth,
            retry=WriteSafeRetry(),
            timeout=30,
            per_page=100,
            lazy=True,
        )
        self._auth = auth

    def set_status(
        self, repo: str, sha: str, context: str, state: str, description: str, target_url: str | None = None
    ) -> None:
        commit = self.github.get_repo(repo).get_commit(sha)
        kwargs = {"target_url": target_url} if target_url else {}
        commit.create_status(state=state, description=description[:140], context=context, **kwargs)

    @functools.cached_property
    def login(self) -> str:
        """Who this client writes as: the token's user, or the app's bot account (``slug[bot]``)."""
        if self._app is not None:
            integration = GithubIntegration(base_url=self.config.github_api_url.rstrip("/"), auth=self._app)
            return f"{integration.get_app().slug}[bot]"
        return str(self.github.get_user().login)

    def upsert_comment(self, repo: str, number: int, body: str, marker: str = COMMENT_MARKER) -> int:
        """Edit the one comment this client wrote with ``marker`` first, or create it: never a second
        one, and never someone else's comment that carries the marker."""
        issue = self.github.get_repo(repo).get_issue(number)
        text = f"{marker}\n{body}"
        for comment in issue.get_comments():
            if (
                (comment.body or "").startswith(marker)
                and comment.user is not None
                and comment.user.login == self.login
            ):
                if comment.body != text:
                    comment.edit(text)
                return int(comment.id)
        return int(issue.create_comment(text).id)

    def open_pulls(self, repo: str, base: str) -> list[dict[str, Any]]:
        pulls = self.github.get_repo(repo).get_pulls(state="open", base=base, sort="created", direction="desc")
        return [pull.raw_data for pull in pulls]

    def pull(self, repo: str, number: int) -> dict[str, Any]:
        return dict(self.github.get_repo(repo).get_pull(number).raw_data)

    def pulls_of_commit(self, repo: str, sha: str) -> list[int]:
        return [pull.number for pull in self.github.get_repo(repo).get_commit(sha).get_pulls()]

    def permission(self, repo: str, login: str) -> str:
        data = self.github.get_repo(repo).get_collaborator_role_name(login)
        return str(data)

    def react(self, repo: str, number: int, comment_id: int, content: str) -> None:
        self.github.get_repo(repo).get_issue(number).get_comment(comment_id).create_reaction(content)

    def clone_url(self, url: str) -> str:
        """HTTPS clone URLs carry the token (never logged); local paths and file:// are left alone."""
        parts = urlsplit(url)
        token = self.token or getattr(self._auth, "token", None)
        if parts.scheme != "https" or not token:
            return url
        netloc = f"x-access-token:{url_quote(token, safe='')}@{parts.hostname}" + (
            f":{parts.port}" if parts.port else ""
        )
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
