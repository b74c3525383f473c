"""Sending through SMTP (RFC 5321) with TLS or STARTTLS and password or XOAUTH2 auth.

Reply codes decide what the outbox does: 4xx and dropped connections are temporary (retried with
backoff), 5xx for a recipient or the message is permanent (dead, shown on the ticket), and a
refused login is a configuration error."""

from __future__ import annotations

import base64
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from connectors.email.imap import LOOPBACK, tls_context
from connectors.email.oauth import xoauth2
from hub.sdk import FatalError, RetriableError, SkipRecord


def _fail(code: int, what: str) -> Exception:
    if 400 <= code < 500:
        return RetriableError(f"SMTP temporary failure: {what}")
    return SkipRecord(f"SMTP refused: {what}")


def send(
    settings: dict[str, Any],
    message: EmailMessage,
    envelope_from: str,
    recipients: list[str],
    token: Callable[[], str] | None = None,
) -> dict[str, str]:
    """Send; returns the recipients refused while others were accepted ({address: reason})."""
    host, security = str(settings["host"]), settings.get("security", "starttls")
    if security == "none" and host not in LOOPBACK and settings.get("auth", "none") != "none":
        raise FatalError(f"SMTP {host}: security 'none' with a password is only allowed on loopback")
    port = int(settings.get("port") or {"tls": 465, "starttls": 587}.get(security, 25))
    timeout = float(settings.get("timeout", 60))
    context = tls_context(settings.get("ca_file"))
    try:
        if security == "tls":
            server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(host, port, timeout=timeout)
        with server:
            if security == "starttls":
                server.starttls(context=context)
            _login(server, settings, token)
            refused = server.send_message(message, from_addr=envelope_from, to_addrs=recipients)
    except smtplib.SMTPAuthenticationError as exc:
        raise FatalError(f"SMTP {host}: login refused: {exc.smtp_code} {_text(exc.smtp_error)}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{a}: {c} {_text(m)}" for a, (c, m) in exc.recipients.items())
        raise _fail(min(codes) if all(400 <= c < 500 for c in codes) else 550, f"all recipients: {detail}") from None
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError, smtplib.SMTPHeloError) as exc:
        raise _fail(exc.smtp_code, f"{exc.smtp_code} {_text(exc.smtp_error)}") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise FatalError(f"SMTP {host}: {exc}") from None
    except ssl.SSLCertVerificationError as exc:
        raise FatalError(f"SMTP {host}: TLS certificate not trusted: {exc.verify_message}") from None
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        raise RetriableError(f"SMTP {host}:{port}: {type(exc).__name__}: {exc}") from None
    return {a: f"{c} {_text(m)}" for a, (c, m) in refused.items()}


def _login(server: smtplib.SMTP, settings: dict[str, Any], token: Callable[[], str] | None) -> None:
    auth = settings.get("auth") or ("password" if settings.get("username") else "none")
    if auth == "password":
        server.login(str(settings["username"]), str(settings.get("password", "")))
    elif auth == "xoauth2":
        if token is None:
            raise FatalError("SMTP auth xoauth2 needs an `oauth` section")
        server.ehlo_or_helo_if_needed()
        sasl = base64.b64encode(xoauth2(str(settings["username"]), token()).encode()).decode()
        code, reply = server.docmd("AUTH", f"XOAUTH2 {sasl}")
        if code != 235:
            raise smtplib.SMTPAuthenticationError(code, reply)


def _text(value: bytes | str) -> str:
    return (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)).replace("\n", " ")[:300]
