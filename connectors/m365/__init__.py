"""Microsoft 365 through Microsoft Graph: a shared mailbox and Teams channels as intake (delta
polling plus change notifications), replies back, and Entra ID user actions for onboarding and
offboarding. One app registration, client credentials (secret or certificate) through msal.

Module map: auth (tokens), graph (calls, 401/403 handling), delta (cursor rounds), mail, teams,
notifications (webhook hooks), subscriptions (keeping them alive), users (Entra actions).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from connectors.m365 import mail, notifications, teams, users
from connectors.m365.auth import TokenProvider
from connectors.m365.delta import Source, poll_round
from connectors.m365.examples import EXAMPLES
from connectors.m365.graph import GRAPH, GraphClient, GraphError
from connectors.m365.permissions import CHANNEL_READ, FEATURES, MAIL_READ, USER_ENABLE, USER_READ, USER_WRITE, satisfied
from connectors.m365.schema import SCHEMA
from connectors.m365.subscriptions import Wanted, reconcile
from hub import clock
from hub.sdk import (
    ActionResult,
    CheckResult,
    ConnectorContext,
    ConnectorError,
    HttpReply,
    InboundRequest,
    PolledConnector,
    PollResult,
    PushConnector,
    RawEvent,
    VerificationError,
    action,
)


class M365Connector(PolledConnector, PushConnector):
    name = "m365"
    channel = "m365_mail"
    maintenance_interval: ClassVar[float | None] = 600.0  # well inside the shortest subscription life
    config_schema: ClassVar[dict[str, Any]] = SCHEMA

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self._graph: GraphClient | None = None
        self._auth: TokenProvider | None = None

    @property
    def auth(self) -> TokenProvider:
        if self._auth is None:
            self._auth = TokenProvider(self.settings, self.context.base_dir)
        return self._auth

    @property
    def graph(self) -> GraphClient:
        if self._graph is None:
            self._graph = GraphClient(self.context.http, self.auth, self.settings.get("graph_url", GRAPH))
        return self._graph

    # --- intake -----------------------------------------------------------------------------
    def sources(self) -> list[Source]:
        found = [mail.source(self.settings)] if self.settings.get("mail") else []
        for chan in (self.settings.get("teams") or {}).get("channels", []):
            found.append(teams.source(chan, str(self.settings["client_id"])))
        return found

    def poll(self, cursor: Any) -> PollResult:
        return poll_round(self.graph, self.sources(), cursor)

    def normalize(self, raw: RawEvent) -> list[dict[str, Any]]:
        kind = raw.headers.get("x-m365-kind")
        if kind == "mail":
            return mail.normalize(raw)
        if kind == "teams":
            return teams.normalize(raw)
        return []  # notifications: kept for the record; the poll they asked for fetches the data

    # --- change notifications ---------------------------------------------------------------
    @property
    def header(self) -> str | None:
        return None

    def handshake(self, request: InboundRequest) -> HttpReply | None:
        return notifications.handshake(request)

    def verify(self, request: InboundRequest) -> None:
        state = str((self.settings.get("notifications") or {}).get("client_state") or "")
        if not state:  # never accept pushes an instance did not subscribe to
            raise VerificationError("change notifications are not configured for this instance")
        notifications.verify(request, state)

    def receive(self, request: InboundRequest) -> list[RawEvent]:
        events, wants = notifications.raw_events(request)
        if "maintenance" in wants:
            self.context.request_maintenance()
        if "poll" in wants:
            self.context.request_poll()
        return events

    def wanted_subscriptions(self) -> list[Wanted]:
        conf = self.settings.get("notifications") or {}
        found = []
        if self.settings.get("mail"):
            box = self.settings["mail"]
            resource = f"users/{box['mailbox']}/mailFolders('{box.get('folder', 'inbox')}')/messages"
            found.append(Wanted("mail", resource, "created", int(conf.get("mail_minutes", 4230)), MAIL_READ))
        for chan in (self.settings.get("teams") or {}).get("channels", []):
            resource = f"teams/{chan['team_id']}/channels/{chan['channel_id']}/messages"
            minutes = int(conf.get("teams_minutes", 60))
            found.append(Wanted(f"teams {chan['channel_id']}", resource, "created,updated", minutes, CHANNEL_READ))
        return found

    def maintenance(self, requested: bool = False) -> None:
        """Keep subscriptions alive and report when credentials run out."""
        expiry = self.auth.certificate_expiry()
        if expiry is not None:
            self.context.report_expiry("certificate", expiry)
        conf = self.settings.get("notifications")
        if conf:
            done = reconcile(
                self.graph,
                self.context,
                self.wanted_subscriptions(),
                conf["url"],
                conf["client_state"],
                requested=requested,
            )
            if done:
                self.log.info("subscriptions: %s", ", ".join(done))

    # --- checks -----------------------------------------------------------------------------
    def check(self) -> list[CheckResult]:
        """Which permissions work: the token's granted application permissions per feature, then
        a read-only call per configured source."""
        try:
            roles = self.auth.roles()
        except ConnectorError as exc:
            return [CheckResult("token", False, str(exc))]
        results = [CheckResult("token", True, f"app {self.auth.client_id} in tenant {self.auth.tenant}")]
        for feature, (wanted, purpose) in FEATURES.items():
            have = satisfied(roles, wanted)
            detail = f"{have} granted" if have else f"needs {' or '.join(wanted)} ({purpose})"
            results.append(CheckResult(f"permission: {feature}", bool(have), detail))
        for src in self.sources():
            results.append(self._probe(src.key, src.url.rsplit("/delta", 1)[0], src.needs))
        return results

    def _probe(self, name: str, path: str, needs: tuple[str, ...]) -> CheckResult:
        try:
            self.graph.call("GET", path, needs=needs, params={"$top": "1"})
        except ConnectorError as exc:
            return CheckResult(f"read {name}", False, str(exc))
        return CheckResult(f"read {name}", True, "readable")

    # --- actions ----------------------------------------------------------------------------
    @action("send_reply")
    def send_reply(self, payload: dict[str, Any], *, idempotency_key: str) -> ActionResult:
        return mail.send_reply(
            self.graph, str(payload.get("mailbox") or self.settings["mail"]["mailbox"]), payload, idempotency_key
        )

    @action("reply_in_thread")
    def reply_in_thread(self, payload: dict[str, Any], *, idempotency_key: str) -> ActionResult:
        return teams.reply_in_thread(self.graph, payload, idempotency_key)

    @action("create_user")
    def create_user(self, payload: dict[str, Any], *, idempotency_key: str) -> ActionResult:
        return users.create_user(self.graph, self.settings, payload)

    @action("set_manager")
    def set_manager(self, payload: dict[str, Any], *, idempotency_key: str) -> ActionResult:
        return users.set_manager(self.graph, payload)

    @action("set_department")
    def set_department(self, payload: dict[str, Any], *, idempotency_key: str) -> ActionResult:
        user, department = users.need(payload, "user", "department")
        return users.set_fields(self.graph, user, {"department": department}, USER_WRITE)

    @action("add_to_groups")
    def add_to_groups(self, payload: dict[str, Any], *, idempotency_key: str) -> ActionResult:
        return users.add_to_groups(self.graph, payload)

    @action("remove_from_groups")
    def remove_from_groups(self, payload: dict[str, Any], *, idempotency_key: str) -> ActionResult:
        return users.remove_from_groups(self.graph, payload)

    @action("assign_licenses")
    def assign_licenses(self, payload: dict[str, Any], *, idempotency_key: str) -> ActionResult:
        return users.licenses(self.graph, self.settings, payload, add=True)

    @action("remove_licenses")
    def remove_licenses(self, payload: dict[str, Any], *, idempotency_key: str) -> ActionResult:
        return users.licenses(self.graph, self.settings, payload, add=False)

    @action("disable_user")
    def disable_user(self, payload: dict[str, Any], *, idempotency_key: str) -> ActionResult:
        (user,) = users.need(payload, "user")
        return users.set_fields(self.graph, user, {"accountEnabled": False}, USER_ENABLE)

    @action("revoke_sessions")
    def revoke_sessions(self, payload: dict[str, Any], *, idempotency_key: str) -> ActionResult:
        return users.revoke_sessions(self.graph, payload)

    @action("get_user")
    def get_user(self, payload: dict[str, Any], *, idempotency_key: str) -> ActionResult:
        return users.read_user(self.graph, payload)

    def users_delta(self, link: str | None = None) -> tuple[list[dict[str, Any]], str]:
        """For HR drift checks: users (with accountEnabled, employeeId) changed since `link`
        (None: all), and the link to pass next time. An expired link starts over."""
        try:
            found, new_link = users.users_delta(self.graph, link)
        except GraphError as exc:
            if not link or (exc.status != 410 and exc.code.lower() != "syncstatenotfound"):
                raise
            found, new_link = users.users_delta(self.graph, None)
        self.context.report_expiry("users delta link", clock.now() + timedelta(days=7))
        return found, new_link

    @classmethod
    def contract_examples(cls) -> list[tuple[dict[str, Any], list[RawEvent]]]:
        return EXAMPLES()


__all__ = ["USER_READ", "M365Connector"]
