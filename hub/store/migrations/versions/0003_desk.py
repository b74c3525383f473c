"""service desk: SLA timers, ticket metrics, indexes for duplicate detection

Revision ID: 0003_desk
Revises: 0002_requests
Create Date: 2026-11-29 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_desk"
down_revision = "0002_requests"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sla_timers",
        sa.Column("ticket_id", Id, nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_sla_timers_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_sla_timers")),
    )
    op.create_index("ix_sla_timers_next_check_at", "sla_timers", ["next_check_at"], unique=False)
    op.create_table(
        "ticket_metrics",
        sa.Column("ticket_id", Id, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queue", sa.String(length=200), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=200), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("first_response_seconds", sa.Float(), nullable=True),
        sa.Column("resolution_seconds", sa.Float(), nullable=True),
        sa.Column("lead_seconds", sa.Float(), nullable=True),
        sa.Column("first_response_met", sa.Boolean(), nullable=True),
        sa.Column("resolution_met", sa.Boolean(), nullable=True),
        sa.Column("reopens", sa.Integer(), nullable=False),
        sa.Column("satisfaction", sa.SmallInteger(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_metrics_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_ticket_metrics")),
    )
    op.create_index("ix_ticket_metrics_created_at", "ticket_metrics", ["created_at"], unique=False)
    op.create_index("ix_ticket_metrics_finished_at", "ticket_metrics", ["finished_at"], unique=False)
    # tickets from before this revision get their row (no durations: those were never measured)
    op.execute(
        "INSERT INTO ticket_metrics (ticket_id, created_at, finished_at, queue, channel, category, priority, type,"
        " reopens) SELECT id, created_at, CASE WHEN status IN ('resolved', 'closed', 'cancelled')"
        " THEN COALESCE(resolved_at, closed_at, updated_at) END, queue, channel, category, priority, type, 0"
        " FROM tickets"
    )
    op.create_index("ix_tickets_category_created_at", "tickets", ["category", "created_at"], unique=False)
    op.create_index("ix_tickets_duplicate_of_id", "tickets", ["duplicate_of_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tickets_duplicate_of_id", table_name="tickets")
    op.drop_index("ix_tickets_category_created_at", table_name="tickets")
    op.drop_index("ix_ticket_metrics_finished_at", table_name="ticket_metrics")
    op.drop_index("ix_ticket_metrics_created_at", table_name="ticket_metrics")
    op.drop_table("ticket_metrics")
    op.drop_index("ix_sla_timers_next_check_at", table_name="sla_timers")
    op.drop_table("sla_timers")
