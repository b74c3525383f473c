"""App-only tokens for Microsoft Graph through msal (client credentials flow).

msal keeps the token cache and renews a token shortly before it expires; `invalidate()` drops it
when Graph rejects a token early (401 after a secret rotation or a revoked consent).
"""

from __future__ import annotations

import base64
import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import msal
import requests

from hub.sdk import FatalError, RetriableError

GRAPH_SCOPE = ["https://graph.microsoft.com/.default"]
LOGIN = "https://login.microsoftonline.com"


class TokenProvider:
    """One confidential client per connector instance; thread-safe."""

    def __init__(self, settings: dict[str, Any], base_dir: Path) -> None:
        self.tenant = str(settings["tenant_id"])
        self.client_id = str(settings["client_id"])
        self._credential = _credential(settings, base_dir)
        self._authority = f"{settings.get('authority_host', LOGIN).rstrip('/')}/{self.tenant}"
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()
        self.last_token: str | None = None

    def _client(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            self._app = msal.ConfidentialClientApplication(
                self.client_id,
                client_credential=self._credential,
                authority=self._authority,
                instance_discovery=False,  # a single-tenant app: no need to ask which cloud
                http_client=requests.Session(),
                timeout=30,
            )
        return self._app

    def token(self) -> str:
        with self._lock:
            try:
                result = self._client().acquire_token_for_client(GRAPH_SCOPE)
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise RetriableError(f"cannot reach the Microsoft identity platform: {type(exc).__name__}") from None
            except ValueError as exc:  # msal: unusable authority or credential
                raise FatalError(f"Microsoft identity platform: {exc}") from None
        if "access_token" not in result:
            raise _token_error(result)
        self.last_token = str(result["access_token"])
        return self.last_token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def invalidate(self) -> None:
        """Forget cached tokens so the next call asks the token endpoint again."""
        with self._lock:
            if self._app is not None:
                self._app.remove_tokens_for_client()

    def roles(self) -> list[str]:
        """Application permissions granted to the app, read from the token's `roles` claim (the
        token is only decoded, not verified: it is ours, straight from the token endpoint)."""
        return list(jwt_claims(self.token()).get("roles") or [])

    def certificate_expiry(self) -> datetime | None:
        cert = self._credential.get("public_certificate") if isinstance(self._credential, dict) else None
        if not cert:
            return None
        from cryptography import x509

        return x509.load_pem_x509_certificate(cert.encode()).not_valid_after_utc


def _credential(settings: dict[str, Any], base_dir: Path) -> Any:
    if settings.get("client_secret"):
        return str(settings["client_secret"])
    cert = settings.get("certificate") or {}
    if not cert:
        raise FatalError("settings need client_secret or certificate")
    key = _read(cert["private_key_path"], base_dir)
    credential: dict[str, Any] = {"private_key": key, "thumbprint": str(cert["thumbprint"])}
    if cert.get("public_certificate_path"):
        credential["public_certificate"] = _read(cert["public_certificate_path"], base_dir)
    return credential


def _read(path: str, base_dir: Path) -> str:
    file = Path(path) if Path(path).is_absolute() else base_dir / path
    try:
        return file.read_text("utf-8")
    except OSError as exc:
        raise FatalError(f"cannot read {file}: {exc.strerror}") from None


def _token_error(result: dict[str, Any]) -> Exception:
    """msal error dicts -> typed errors. AADSTS codes name the problem precisely; keep them."""
    code = str(result.get("error") or "unknown_error")
    text = str(result.get("error_description") or "").splitlines()[0] if result.get("error_description") else ""
    message = f"token request failed: {code}: {text}".rstrip(": ")
    if code in {"temporarily_unavailable", "server_error"}:
        return RetriableError(message)
    return FatalError(message)


def jwt_claims(token: str) -> dict[str, Any]:
    try:
        payload = token.split(".")[1]
        claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return claims
    except (IndexError, ValueError):
        return {}
