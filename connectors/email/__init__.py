"""Email channel: IMAP intake with threading and loop protection, answers by SMTP or Microsoft
Graph through the outbox.

This class only wires the modules together; each has one job:
imap/cursor (reading folders by UID), identity (dedup key), parse/charsets/htmltext (MIME ->
text, HTML, attachments), noise (auto-replies, bounces), trim (quoted history), inbound (mail ->
canonical event), notifications/templates/compose (what to send) and smtp/graph/oauth (sending).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

from connectors.email import compose, cursor, examples, graph, inbound, noise, notifications, smtp
from connectors.email.identity import dedup_key
from connectors.email.imap import ImapSession
from connectors.email.oauth import GRAPH_SCOPE, IMAP_SCOPE, TokenSource
from connectors.email.parse import ParsedMail, parse
from connectors.email.schema import SCHEMA
from connectors.email.store import AttachmentStore
from connectors.email.templates import Templates
from hub.config import parse_duration
from hub.sdk import (
    ActionResult,
    CheckResult,
    ConnectorContext,
    FatalError,
    IgnoreRecord,
    Outbound,
    PolledConnector,
    PollResult,
    RateLimit,
    RawEvent,
    SkipRecord,
    TicketChange,
    action,
)

CONTENT_TYPE = "message/rfc822"


class EmailConnector(PolledConnector):
    name = "email"
    channel = "email"
    config_schema: ClassVar[dict[str, Any]] = SCHEMA

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        s = self.settings
        self.address = str(s["address"]).lower()
        self.own = {self.address, *(str(a).lower() for a in s.get("aliases", []))}
        self.id_pattern = compose.own_id_pattern(self.own)
        imap = s.get("imap") or {}
        self.folders = [f["name"] for f in imap.get("folders", [{"name": "INBOX"}])]
        self.routing = inbound.Routing(
            own_addresses=self.own,
            employee_domains={str(d).lower() for d in s.get("employee_domains", [])},
            employee_fields=dict(s.get("employee_fields", {})),
            citizen_fields=dict(s.get("citizen_fields", {})),
            accept_citizens=bool(s.get("accept_citizens", True)),
            subscribe_cc=bool(s.get("subscribe_cc", True)),
            folder_fields={f["name"]: dict(f.get("fields", {})) for f in imap.get("folders", [])},
            routes=[(str(r["to"]).lower(), dict(r["fields"])) for r in s.get("routes", [])],
        )
        att = s.get("attachments", {})
        self.store = AttachmentStore(
            self._path(att["directory"]) if att.get("directory") else context.data_dir / "attachments",
            int(att.get("max_bytes", 25 * 1024 * 1024)),
        )
        replies = s.get("replies", {})
        self.reply_cfg = notifications.ReplyConfig(
            instance=context.instance_id,
            address=self.address,
            display_name=str(s.get("display_name", "Service Desk")),
            own_addresses=self.own,
            transport=replies.get("transport", "none"),
            acknowledge=replies.get("acknowledge", True),
            comments=replies.get("comments", True),
            statuses=set(replies.get("statuses", ["waiting_on_requester", "resolved", "closed", "cancelled"])),
        )
        self.templates = Templates(self._path(replies["templates"]) if replies.get("templates") else None)
        self.tokens = TokenSource(s["oauth"]) if s.get("oauth") else None
        self._imap: ImapSession | None = None
        self._lock = threading.Lock()

    def _path(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else (self.context.base_dir / path).resolve()

    def _token(self, scope: str) -> Any:
        if self.tokens is None:
            return None
        tokens = self.tokens
        return lambda: tokens.token(scope)

    # --- intake -------------------------------------------------------------------------------
    def poll(self, cursor_value: Any) -> PollResult:
        """One page: up to batch_size new messages of the first folder that has any. Returns
        more=True after a page, so the next call (after the core committed it) marks those
        messages processed and moves on."""
        imap = self.settings.get("imap")
        if not imap:
            raise FatalError("this instance has no `imap` section: it only sends mail")
        with self._lock:
            session = self._imap or ImapSession(imap, self._token(IMAP_SCOPE))
            self._imap = session
            try:
                result = self._poll_page(session, imap, cursor.load(cursor_value))
            except BaseException:
                self._close()
                raise
            if not result.more:
                self._close()
            return result

    def _poll_page(
        self, session: ImapSession, imap: dict[str, Any], folders: dict[str, cursor.FolderCursor]
    ) -> PollResult:
        processed = imap.get("processed", {})
        batch_size = int(imap.get("batch_size", 100))
        for name in self.folders:
            info = session.select(name)
            state = folders.get(name, cursor.FolderCursor())
            if state.uidvalidity != info.uidvalidity:
                if state.uidvalidity is not None:
                    self.log.warning(
                        "%s: UIDVALIDITY changed (%s -> %s): reading the folder again; "
                        "known mails are recognised by their dedup key",
                        name,
                        state.uidvalidity,
                        info.uidvalidity,
                    )
                state = state.resynced(info.uidvalidity)
            if state.marked < state.uid:  # committed by the core since the last call
                committed = [u for u in session.uids_after(state.marked) if u <= state.uid]
                session.mark(
                    committed, processed.get("action", "keep"), processed.get("flag", "\\Seen"), processed.get("folder")
                )
                state.marked = state.uid
            folders[name] = state
            pending = session.uids_after(state.uid)
            if not pending:
                continue
            batch = pending[:batch_size]
            events = [self._raw(name, info.uidvalidity, uid, body) for uid, body in session.fetch(batch)]
            state.uid = batch[-1]
            return PollResult(events, cursor.dump(folders), more=True)
        return PollResult([], cursor.dump(folders), more=False)

    @staticmethod
    def _raw(folder: str, uidvalidity: int, uid: int, body: bytes) -> RawEvent:
        headers = {"x-imap-folder": folder, "x-imap-uid": str(uid), "x-imap-uidvalidity": str(uidvalidity)}
        return RawEvent(dedup_key(body), body, headers, CONTENT_TYPE)

    def _close(self) -> None:
        session, self._imap = self._imap, None
        if session is not None:
            session.close()

    def normalize(self, raw: RawEvent) -> list[dict[str, Any]]:
        try:
            mail = parse(raw.body)
        except Exception as exc:  # the parser is lenient; this is truly not a mail
            raise SkipRecord(f"not a readable mail: {type(exc).__name__}: {exc}") from None
        auto = noise.auto_reason(mail, self.own)
        if noise.looks_like_bounce(mail) or (auto and noise.BOUNCE_SUBJECT.search(mail.subject)):
            return [self._bounce_event(mail)]
        if auto:
            raise IgnoreRecord(auto)
        if mail.sender is None:
            raise SkipRecord("the mail has no usable From address")
        if not self.routing.accept_citizens and not self.routing.is_employee(mail.sender.email):
            raise IgnoreRecord(f"{mail.sender.email} is not in an employee domain and citizens are not accepted here")
        folder = raw.headers.get("x-imap-folder", "INBOX")
        return [inbound.ticket_event(mail, folder=folder, routing=self.routing, store=self.store)]

    def _bounce_event(self, mail: ParsedMail) -> dict[str, Any]:
        bounce = noise.read_bounce(mail, self.id_pattern)
        ours = [i for i in (bounce.original_ids if bounce else []) if self.id_pattern.fullmatch(i)]
        if bounce is None or not ours:
            raise IgnoreRecord("delivery report for a mail the hub did not send")
        if bounce.recipients and not bounce.failed:
            actions = ", ".join(sorted({r.action or "?" for r in bounce.recipients}))
            raise IgnoreRecord(f"delivery report without failure ({actions})")
        failed = bounce.failed
        event: dict[str, Any] = {
            "type": "delivery.failed",
            "in_reply_to": ours,
            "data": {
                "message_id": ours[0],
                "reason": "returned as undeliverable" if bounce.permanent else "delivery failed temporarily",
                "permanent": bounce.permanent,
                "recipients": [
                    {"address": r.address, "action": r.action, "status": r.status, "diagnostic": r.diagnostic}
                    for r in failed
                ],
            },
        }
        if mail.sender:
            event["actor"] = {"email": mail.sender.email, "name": mail.sender.name}
        return event

    def sender_limit(self) -> RateLimit | None:
        limit = self.settings.get("rate_limit", {})
        return RateLimit(int(limit.get("tickets", 20)), parse_duration(limit.get("per", "1h")))

    # --- answers ------------------------------------------------------------------------------
    def follow_up(self, change: TicketChange) -> list[Outbound]:
        return notifications.plan(change, self.reply_cfg, self.templates)

    @action("send_reply")
    def send_reply(self, payload: dict[str, Any], *, idempotency_key: str) -> ActionResult:
        message = compose.build(payload)
        recipients = [*payload["to"], *payload.get("cc", [])]
        replies = self.settings.get("replies", {})
        transport = replies.get("transport", "none")
        refused: dict[str, str] = {}
        if transport == "smtp":
            envelope = str(replies.get("bounce_address") or self.address)
            refused = smtp.send(replies["smtp"], message, envelope, recipients, self._token(IMAP_SCOPE))
        elif transport == "graph":
            if self.tokens is None:
                raise FatalError("transport graph needs an `oauth` section")
            g = replies.get("graph", {})
            graph.send(
                self.context.http,
                message,
                mailbox=str(g.get("mailbox") or self.address),
                token=self.tokens.token(GRAPH_SCOPE),
                base_url=str(g.get("base_url", graph.DEFAULT_BASE)),
            )
        else:
            raise FatalError("replies.transport is 'none': this instance does not send mail")
        sent = [r for r in recipients if r not in refused]
        summary = f"{payload['kind']} mail to {', '.join(sent)}"
        if refused:
            summary += "; refused: " + "; ".join(f"{a} ({why})" for a, why in refused.items())
        return ActionResult(summary, {"message_id": payload["message_id"], "refused": refused})

    # --- admin --------------------------------------------------------------------------------
    def check(self) -> list[CheckResult]:
        results = []
        imap = self.settings.get("imap")
        if imap:
            session = ImapSession(imap, self._token(IMAP_SCOPE))
            try:
                for name in self.folders:
                    info = session.select(name)
                    results.append(
                        CheckResult(f"imap {name}", True, f"{info.exists} message(s), UIDVALIDITY {info.uidvalidity}")
                    )
            except Exception as exc:
                results.append(CheckResult("imap", False, str(exc)))
            finally:
                session.close()
        problems = self.templates.check()
        results.append(CheckResult("templates", not problems, "; ".join(problems) or "all templates compile"))
        return results

    @classmethod
    def contract_examples(cls) -> list[tuple[dict[str, Any], list[RawEvent]]]:
        return examples.contract_examples()
