"""Table definitions (SQLAlchemy Core). Alembic migrations in `migrations/` create them.

Timestamps are stored as timezone-aware values; JSON columns hold the parts of a ticket that are
read whole (requester, location, attachments...). Columns that are filtered or sorted on are real
columns with indexes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite has no time zones and would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def bind_processor(self, dialect: Any) -> Any:
        """On SQLite every timestamp written went through `process_bind_param` and then
        SQLAlchemy's DATETIME formatting (4.8 µs; a worker event writes about eight). Done here in
        one step (2 µs), in SQLAlchemy's storage format exactly ("2026-11-29 13:45:05.495243"),
        so rows written either way read back alike. Reading stays SQLAlchemy's (compiled)."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def to_text(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is UTC:
                return value.isoformat(" ", "microseconds")[:26]  # less the "+00:00"
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            return value.isoformat(" ", "microseconds")

        return to_text


# Named constraints so migrations are reproducible on every backend.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite only auto-increments INTEGER PRIMARY KEY
TS = UTCDateTime()

inbox = Table(
    "inbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("instance", String(64), nullable=False),
    Column("dedup_key", String(500), nullable=False),
    Column("received_at", TS, nullable=False),
    Column("content_type", String(200), nullable=False),
    Column("headers", JSON, nullable=False),
    Column("body", LargeBinary, nullable=False),
    # received -> done | dead | ignored; replay sets it back to received
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("processed_at", TS),
    Column("ticket_id", Id),
    # a deferred event (its ticket is not there yet) waits until then
    Column("available_at", TS, nullable=False),
    UniqueConstraint("instance", "dedup_key"),
    Index("ix_inbox_state_id", "state", "id"),
    Index("ix_inbox_instance_received_at", "instance", "received_at"),  # intake health
)

tickets = Table(
    "tickets",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("number", String(40), unique=True),  # set from the id in the creating transaction
    Column("type", String(32), nullable=False),
    Column("title", String(500), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("description_html", Text),
    Column("status", String(32), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("category", String(200)),
    Column("queue", String(200)),
    Column("assignee", String(320)),
    Column("channel", String(32), nullable=False),
    Column("requester", JSON, nullable=False),
    Column("requester_email", String(320)),
    Column("source", JSON, nullable=False),
    Column("source_instance", String(64), nullable=False),
    Column("location", JSON),
    Column("attachments", JSON, nullable=False),
    Column("parent_id", Id, ForeignKey("tickets.id")),
    Column("duplicate_of_id", Id, ForeignKey("tickets.id")),
    Column("sla", JSON),
    Column("tags", JSON, nullable=False),
    Column("attributes", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("first_response_at", TS),
    Column("resolved_at", TS),
    Column("closed_at", TS),
    Column("version", Integer, nullable=False, default=1),
    Index("ix_tickets_status_queue", "status", "queue"),
    Index("ix_tickets_updated_at", "updated_at"),
    Index("ix_tickets_created_at", "created_at"),
    Index("ix_tickets_requester_email", "requester_email"),
    Index("ix_tickets_parent_id", "parent_id"),
    Index("ix_tickets_category_created_at", "category", "created_at"),  # duplicate detection
    Index("ix_tickets_duplicate_of_id", "duplicate_of_id"),
)

# How events find their ticket: (kind='external', scope=instance, key=external id) or
# (kind='thread', scope='', key=Message-ID / conversation id).
ticket_refs = Table(
    "ticket_refs",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("scope", String(64), primary_key=True),
    Column("key", String(1000), primary_key=True),
    Column("ticket_id", Id, ForeignKey("tickets.id"), nullable=False),
    Index("ix_ticket_refs_ticket_id", "ticket_id"),
)

ticket_history = Table(
    "ticket_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ticket_id", Id, ForeignKey("tickets.id"), nullable=False),
    Column("at", TS, nullable=False),
    Column("actor", String(320), nullable=False),
    Column("action", String(32), nullable=False),
    Column("field", String(64)),
    Column("old", JSON),
    Column("new", JSON),
    Column("inbox_id", Id),
    Index("ix_ticket_history_ticket_id", "ticket_id", "id"),
)

comments = Table(
    "comments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ticket_id", Id, ForeignKey("tickets.id"), nullable=False),
    Column("at", TS, nullable=False),
    Column("author", JSON, nullable=False),
    Column("body", Text, nullable=False),
    Column("body_html", Text),
    Column("public", Boolean, nullable=False),
    Column("attachments", JSON, nullable=False),
    Column("inbox_id", Id),
    Index("ix_comments_ticket_id", "ticket_id", "id"),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("ticket_id", Id, ForeignKey("tickets.id"), primary_key=True),
    Column("address", String(500), primary_key=True),
    Column("name", String(300)),
    Column("channel", String(32)),
    Column("role", String(16), nullable=False),
    Column("added_at", TS, nullable=False),
    Index("ix_subscribers_address", "address"),
)

# Per connector instance: the stored cursor and what an admin needs to see its health.
instance_state = Table(
    "instance_state",
    metadata,
    Column("instance", String(64), primary_key=True),
    Column("cursor", JSON),
    Column("last_poll_at", TS),
    Column("last_success_at", TS),
    Column("last_error", Text),
    Column("last_error_at", TS),
    Column("expiries", JSON, nullable=False),
    # set by a connector (through the core) that learnt of upstream changes: act soon, not at the next interval
    Column("poll_requested_at", TS),
    Column("maintenance_requested_at", TS),
)

# Circuit breakers per instance and direction ('in': polling, 'out': outbound actions). Shared by
# every process through the database, so one broken system pauses everywhere at once.
circuits = Table(
    "circuits",
    metadata,
    Column("instance", String(64), primary_key=True),
    Column("direction", String(8), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("opened_until", TS),
    Column("last_error", Text),
    Column("updated_at", TS, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("created_at", TS, nullable=False),
    Column("instance", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("idempotency_key", String(300), nullable=False, unique=True),
    Column("ticket_id", Id, ForeignKey("tickets.id")),
    # pending -> done | dead; pending or dead -> cancelled (withdrawn, e.g. a rescinded hire)
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", TS, nullable=False),
    Column("last_error", Text),
    Column("result", JSON),
    Column("done_at", TS),
    Index("ix_outbox_state_next", "state", "next_attempt_at"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(128), nullable=False, unique=True),
    Column("scopes", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("revoked_at", TS),
    Column("last_used_at", TS),
)

# Yearly ticket number sequences: (name='REQ-2026', value=last number handed out).
counters = Table(
    "counters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)


# SLA clocks that need a look (a warning or a breach) at `next_check_at`: the scheduler scans this
# small table instead of every open ticket. No row: nothing pending.
sla_timers = Table(
    "sla_timers",
    metadata,
    Column("ticket_id", Id, ForeignKey("tickets.id"), primary_key=True),
    Column("next_check_at", TS, nullable=False),
    Index("ix_sla_timers_next_check_at", "next_check_at"),
)

# One narrow row per ticket that the performance reports aggregate in SQL (a fact table), kept
# current in the same transaction as each ticket change: the grouping columns are copies, so a
# report over a million tickets scans this table alone. Durations are business seconds, except
# lead_seconds (calendar time from creation to resolution).
ticket_metrics = Table(
    "ticket_metrics",
    metadata,
    Column("ticket_id", Id, ForeignKey("tickets.id"), primary_key=True),
    Column("created_at", TS, nullable=False),
    Column("finished_at", TS),  # resolved, closed or cancelled; NULL while open
    Column("queue", String(200)),
    Column("channel", String(32), nullable=False),
    Column("category", String(200)),
    Column("priority", String(16), nullable=False),
    Column("type", String(32), nullable=False),
    Column("first_response_seconds", Float),
    Column("resolution_seconds", Float),
    Column("lead_seconds", Float),
    Column("first_response_met", Boolean),
    Column("resolution_met", Boolean),
    Column("reopens", Integer, nullable=False, default=0),
    Column("satisfaction", SmallInteger),
    Index("ix_ticket_metrics_created_at", "created_at"),
    Index("ix_ticket_metrics_finished_at", "finished_at"),  # backlog at a date
)

# --- HR: SCIM resources, people as HR last described them, workflows and their tasks -----------

# SCIM 2.0 resources pushed by HR systems and identity platforms, per HR instance. `name_key` is the
# lowercased userName (Users) or displayName (Groups): unique per instance and kind (409 uniqueness).
scim_resources = Table(
    "scim_resources",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("instance", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name_key", String(300), nullable=False),
    Column("external_id", String(300)),
    Column("data", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    UniqueConstraint("instance", "kind", "name_key"),
)

# The last state each HR instance reported for a person (from applied person events): the drift
# check compares it with the directory.
hr_people = Table(
    "hr_people",
    metadata,
    Column("instance", String(64), primary_key=True),
    Column("employee_id", String(200), primary_key=True),
    Column("person", JSON, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("effective_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Index("ix_hr_people_employee_id", "employee_id"),
)

# One onboarding / transfer / offboarding per person event that started it (idempotent by kind and
# person: see hub/tickets/workflows/engine.py).
workflows = Table(
    "workflows",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("instance", String(64), nullable=False),
    Column("employee_id", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # joiner | mover | leaver
    Column("template", String(200), nullable=False),
    Column("event_key", String(300), nullable=False),
    Column("ticket_id", Id, ForeignKey("tickets.id"), nullable=False),
    Column("effective_at", TS, nullable=False),
    Column("state", String(16), nullable=False),  # open | done | cancelled
    Column("person", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    UniqueConstraint("instance", "event_key"),
    Index("ix_workflows_person", "instance", "employee_id", "id"),
)

workflow_tasks = Table(
    "workflow_tasks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("workflow_id", Id, ForeignKey("workflows.id"), nullable=False),
    Column("key", String(100), nullable=False),
    Column("ticket_id", Id, ForeignKey("tickets.id"), nullable=False),
    Column("depends_on", JSON, nullable=False),
    Column("run", JSON),  # {instance, action, params} for automated steps, params rendered
    Column("offset_seconds", Integer),  # when an automated step runs, relative to the effective date
    Column("outbox_key", String(300)),
    # waiting (dependencies) | manual | scheduled | done | failed | cancelled
    Column("state", String(16), nullable=False),
    UniqueConstraint("workflow_id", "key"),
    Index("ix_workflow_tasks_ticket_id", "ticket_id"),
    Index("ix_workflow_tasks_outbox_key", "outbox_key"),
)
