"""Real mail servers for the email tests: Dovecot (IMAP, from Debian's dovecot-imapd) started
from a generated config in a temporary directory, and aiosmtpd recording what the hub sends.

Dovecot listens on free loopback ports: plain IMAP with STARTTLS, and implicit TLS, with a
self-signed certificate the tests trust through `ca_file`. Every user name logs in with the
password `secret` and gets its own maildir, so each test uses a fresh mailbox of one server.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPProtocol
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from imapclient import IMAPClient

PASSWORD = "secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or next((p for p in ("/usr/sbin/dovecot",) if os.path.exists(p)), None)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class Dovecot:
    """One Dovecot master process with its own config, state and mail under a temp directory."""

    def __init__(self, mail_format: str = "maildir", introspection_url: str | None = None) -> None:
        binary = dovecot_binary()
        if binary is None:
            raise RuntimeError("dovecot is not installed (apt-get install dovecot-imapd)")
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="hub-dovecot-"))
        self.dir.chmod(0o755)  # the mail user (nobody, when we are root) must reach its maildir
        self.port, self.tls_port = free_port(), free_port()
        self.cert, key = _self_signed(self.dir)
        if os.geteuid() == 0:  # Dovecot refuses to run mail or login processes as root
            self.uid, self.gid = pwd.getpwnam("nobody").pw_uid, pwd.getpwnam("nobody").pw_gid
            login_user, internal_user = "dovenull", "dovecot"
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
            login_user = internal_user = pwd.getpwuid(os.getuid()).pw_name
        self.mail = self.dir / "mail"
        self.mail.mkdir()
        os.chown(self.mail, self.uid, self.gid)
        location = {
            "maildir": f"maildir:{self.mail}/%u",
            "mbox": f"mbox:{self.mail}/%u:INBOX={self.mail}/%u/inbox",
        }[mail_format]
        oauth = ""
        if introspection_url:  # XOAUTH2: Dovecot asks this URL whether a bearer token is valid
            (self.dir / "oauth2.conf.ext").write_text(
                f"introspection_url = {introspection_url}\nintrospection_mode = post\n"
                "username_attribute = username\nactive_attribute = active\nactive_value = true\n"
            )
            oauth = (
                "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                f"  args = {self.dir}/oauth2.conf.ext\n}}\n"
            )
        (self.dir / "dovecot.conf").write_text(
            f"""
protocols = imap
listen = 127.0.0.1
base_dir = {self.dir}/run
state_dir = {self.dir}/state
instance_name = hub-test-{self.port}
log_path = {self.dir}/dovecot.log
ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login{" xoauth2 oauthbearer" if introspection_url else ""}
auth_failure_delay = 0
# (Dovecot also delays logins from an IP after failed ones, up to 15 s, in anvil: tests that
# fail logins on purpose use a Dovecot of their own so the others are not slowed down.)
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = 1
mail_location = {location}
passdb {{
  driver = static
  mechanisms = plain login
  args = password={PASSWORD}
}}
{oauth}
userdb {{
  driver = static
  args = uid={self.uid} gid={self.gid} home={self.mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""
        )
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.dir / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"dovecot exited: {self.process.stderr.read().decode() if self.process.stderr else ''}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start: {self.log()}")

    def log(self) -> str:
        path = self.dir / "dovecot.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- a test's mailbox ---------------------------------------------------------------------
    def new_user(self) -> str:
        return f"u{uuid.uuid4().hex[:10]}"

    def client(self, user: str) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=30)
        client.login(user, PASSWORD)
        return client

    def append(self, user: str, *messages: bytes | EmailMessage, folder: str = "INBOX") -> None:
        with self.client(user) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for message in messages:
                data = message.as_bytes() if isinstance(message, EmailMessage) else message
                client.append(folder, data)

    def write_mbox(self, user: str, messages: list[bytes]) -> None:
        """Write a whole INBOX as one mbox file (servers started with mail_format="mbox"); Dovecot
        indexes it on the next SELECT. Much faster than APPEND or 10,000 maildir files."""
        root = self.mail / user
        root.mkdir(parents=True, exist_ok=True)
        with open(root / "inbox", "wb") as fh:
            for data in messages:
                body = data.replace(b"\r\n", b"\n")
                assert b"\nFrom " not in body, "mbox needs From_ lines escaped"
                fh.write(b"From hub-test@example.org Fri Nov 27 15:00:00 2026\n" + body.rstrip(b"\n") + b"\n\n")
        for path in (root, root / "inbox"):
            os.chown(path, self.uid, self.gid)

    def recreate_folder(self, user: str, folder: str) -> list[bytes]:
        """Delete and re-create a folder with the same mails (a restore from backup): the folder
        gets a new UIDVALIDITY. Returns the mails."""
        with self.client(user) as client:
            client.select_folder(folder)
            data = client.fetch(client.search("ALL"), [b"BODY.PEEK[]"])
            mails = [bytes(v[b"BODY[]"]) for _, v in sorted(data.items())]
            client.unselect_folder()
            client.delete_folder(folder)
            client.create_folder(folder)
            for mail in mails:
                client.append(folder, mail)
        return mails

    def uids(self, user: str, folder: str = "INBOX", criteria: str = "ALL") -> list[int]:
        with self.client(user) as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            return sorted(client.search(criteria))

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        with self.client(user) as client:
            return int(client.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        msg = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)  # scripted answers to DATA, used in order
    on_message: Callable[[Received], None] | None = None

    async def handle_DATA(self, server: SMTPProtocol, session: Session, envelope: Envelope) -> str:
        if self.replies:
            return self.replies.pop(0)
        item = Received(str(envelope.mail_from), list(envelope.rcpt_tos), bytes(envelope.original_content or b""))
        self.received.append(item)
        if self.on_message is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.on_message, item)
        return "250 2.0.0 OK"


def _authenticate(
    server: SMTPProtocol, session: Session, envelope: Envelope, mechanism: str, data: object
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"hub" and data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


class SmtpServer:
    """aiosmtpd on a free loopback port, AUTH (user `hub`, password `secret`) allowed without TLS."""

    def __init__(self) -> None:
        self.handler = _Handler()
        self.port = free_port()
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=_authenticate,
            auth_require_tls=False,
        )
        self.controller.start()
        self._lock = threading.Lock()

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def reset(self) -> None:
        self.handler.received.clear()
        self.handler.replies.clear()
        self.handler.on_message = None

    def stop(self) -> None:
        self.controller.stop()
