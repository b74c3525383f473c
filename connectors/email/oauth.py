"""OAuth 2 access tokens for Exchange Online (IMAP/SMTP XOAUTH2) and Microsoft Graph, from an
Entra app with client credentials, through msal (which caches and renews tokens)."""

from __future__ import annotations

from typing import Any

import msal
import requests

from hub.sdk import FatalError, RetriableError

IMAP_SCOPE = "https://outlook.office365.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
# Errors that mean the app registration or secret is wrong: retrying cannot help.
_FATAL = {"invalid_client", "unauthorized_client", "invalid_grant", "invalid_scope", "invalid_request"}


class TokenSource:
    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self._app: msal.ConfidentialClientApplication | None = None

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            host = str(self.settings.get("authority_host", "https://login.microsoftonline.com")).rstrip("/")
            try:
                self._app = msal.ConfidentialClientApplication(
                    str(self.settings["client_id"]),
                    client_credential=str(self.settings["client_secret"]),
                    authority=f"{host}/{self.settings['tenant_id']}",
                )
            except ValueError as exc:  # msal validates the authority by fetching its metadata
                raise FatalError(f"OAuth authority for tenant {self.settings['tenant_id']!r}: {exc}") from None
            except requests.RequestException as exc:
                raise RetriableError(f"OAuth authority unreachable: {type(exc).__name__}") from None
        return self._app

    def token(self, scope: str) -> str:
        """An access token for `scope` (msal returns a cached one while it is valid)."""
        try:
            result = self._application().acquire_token_for_client(scopes=[scope])
        except requests.RequestException as exc:
            raise RetriableError(f"token endpoint unreachable: {type(exc).__name__}") from None
        if "access_token" in result:
            return str(result["access_token"])
        error = str(result.get("error", "unknown_error"))
        detail = str(result.get("error_description", "")).splitlines()[0] if result.get("error_description") else ""
        message = f"OAuth token for {scope}: {error}" + (f": {detail}" if detail else "")
        if error in _FATAL:
            raise FatalError(message)
        raise RetriableError(message)


def xoauth2(user: str, token: str) -> str:
    """The SASL XOAUTH2 initial response (before base64), as Google and Microsoft document it."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"
