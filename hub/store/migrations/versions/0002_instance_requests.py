"""instance_state: poll and maintenance requests

Connectors that learn of upstream changes between polls (change notifications, lifecycle events)
ask the scheduler to poll or run upkeep soon; the request is kept here so any process may make it
and the leading scheduler acts on it.

Revision ID: 0002_requests
Revises: 0001
Create Date: 2026-11-29 07:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_requests"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instance_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("poll_requested_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("maintenance_requested_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instance_state", schema=None) as batch_op:
        batch_op.drop_column("maintenance_requested_at")
        batch_op.drop_column("poll_requested_at")
