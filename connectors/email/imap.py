"""An IMAP session over IMAPClient: connect (TLS, STARTTLS or plain on loopback), log in with a
password or XOAUTH2, and the handful of commands intake needs. IMAP and socket errors are turned
into the SDK's errors here, so the rest of the connector never sees library exceptions."""

from __future__ import annotations

import bisect
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from imapclient import IMAPClient
from imapclient import exceptions as imap_errors

from hub.sdk import FatalError, RetriableError

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class FolderInfo:
    uidvalidity: int
    uidnext: int | None
    exists: int


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Library errors -> what the runtime must do."""
    try:
        yield
    except imap_errors.LoginError as exc:
        raise FatalError(f"{what}: login refused: {_text(exc)}") from None
    except ssl.SSLCertVerificationError as exc:
        raise FatalError(f"{what}: TLS certificate not trusted: {exc.verify_message}") from None
    except (TimeoutError, imap_errors.IMAPClientAbortError, ssl.SSLError, OSError) as exc:
        raise RetriableError(f"{what}: {type(exc).__name__}: {_text(exc)}") from None
    except imap_errors.IMAPClientError as exc:
        raise FatalError(f"{what}: {_text(exc)}") from None


def _text(exc: BaseException) -> str:
    text = str(exc)
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else text[:300]


class ImapSession:
    def __init__(self, settings: dict[str, Any], token: Callable[[], str] | None = None) -> None:
        self.settings = settings
        self.token = token
        self.client: IMAPClient | None = None
        self.selected: str | None = None
        self._info: FolderInfo | None = None
        self._uids: tuple[int, list[int]] | None = None  # (searched above, result) in the selected folder

    @property
    def where(self) -> str:
        return f"IMAP {self.settings['host']}"

    def open(self) -> None:
        s = self.settings
        security = s.get("security", "tls")
        host = str(s["host"])
        if security == "none" and host not in LOOPBACK:
            raise FatalError(f"{self.where}: security 'none' is only allowed on loopback (passwords in clear text)")
        port = int(s.get("port") or (993 if security == "tls" else 143))
        context = tls_context(s.get("ca_file"))
        with translated(self.where):
            client = IMAPClient(
                host, port=port, ssl=security == "tls", ssl_context=context, timeout=float(s.get("timeout", 60))
            )
            try:
                if security == "starttls":
                    client.starttls(context)
                if s.get("auth", "password") == "xoauth2":
                    if self.token is None:
                        raise FatalError(f"{self.where}: auth xoauth2 needs an `oauth` section")
                    client.oauth2_login(str(s["username"]), self.token())
                else:
                    client.login(str(s["username"]), str(s.get("password", "")))
            except BaseException:
                _quietly(client.shutdown)
                raise
        self.client = client

    def _c(self) -> IMAPClient:
        if self.client is None:
            self.open()
        assert self.client is not None
        return self.client

    def select(self, folder: str) -> FolderInfo:
        """Select a folder. While one session pages through a folder it stays selected: a
        re-SELECT makes the server rescan the mailbox (seconds on a big maildir)."""
        if self.selected == folder and self._info is not None and self.client is not None:
            return self._info
        with translated(f"{self.where} folder {folder!r}"):
            info = self._c().select_folder(folder)
        self.selected, self._uids = folder, None
        self._info = FolderInfo(
            uidvalidity=int(info[b"UIDVALIDITY"]),
            uidnext=int(info[b"UIDNEXT"]) if b"UIDNEXT" in info else None,
            exists=int(info.get(b"EXISTS", 0)),
        )
        return self._info

    def uids_after(self, uid: int) -> list[int]:
        """UIDs above `uid` in the selected folder, ascending. One search per session and folder:
        later pages of the same run take from it; mail arriving meanwhile is found by the next
        run. (`n:*` always matches the highest message even when it is below n, hence the filter.)"""
        if self._uids is None or self._uids[0] > uid:
            with translated(f"{self.where} search"):
                found = self._c().search(["UID", f"{uid + 1}:*"])
            self._uids = (uid, sorted(int(u) for u in found if int(u) > uid))
        found = self._uids[1]
        return found[bisect.bisect_right(found, uid) :]

    def fetch(self, uids: list[int]) -> list[tuple[int, bytes]]:
        """Raw bytes of these messages, without setting \\Seen (BODY.PEEK)."""
        with translated(f"{self.where} fetch"):
            data = self._c().fetch(uids, [b"BODY.PEEK[]"])
        out = []
        for uid in uids:
            body = data.get(uid, {}).get(b"BODY[]")
            if body is not None:  # expunged between search and fetch
                out.append((uid, bytes(body)))
        return out

    def mark(self, uids: list[int], action: str, flag: str, folder: str | None) -> None:
        if not uids or action == "keep":
            return
        with translated(f"{self.where} mark processed"):
            client = self._c()
            if action == "flag":
                client.add_flags(uids, [flag.encode()], silent=True)
            elif action == "move" and folder:
                if not client.folder_exists(folder):
                    client.create_folder(folder)
                client.move(uids, folder)

    def close(self) -> None:
        client, self.client, self.selected, self._info, self._uids = self.client, None, None, None, None
        if client is not None:
            _quietly(client.logout)


def _quietly(fn: Callable[[], Any]) -> None:
    with suppress(Exception):  # closing a broken connection: nothing left to save
        fn()
