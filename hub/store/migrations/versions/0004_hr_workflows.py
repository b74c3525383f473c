"""HR intake and workflows: SCIM resources, people as HR reported them, workflows and tasks

Revision ID: 0004_hr
Revises: 0003_desk
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_hr"
down_revision = "0003_desk"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scim_resources",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name_key", sa.String(length=300), nullable=False),
        sa.Column("external_id", sa.String(length=300), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_resources")),
        sa.UniqueConstraint("instance", "kind", "name_key", name=op.f("uq_scim_resources_instance_kind_name_key")),
    )
    op.create_table(
        "hr_people",
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("employee_id", sa.String(length=200), nullable=False),
        sa.Column("person", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("effective_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("instance", "employee_id", name=op.f("pk_hr_people")),
    )
    with op.batch_alter_table("hr_people", schema=None) as batch_op:
        batch_op.create_index("ix_hr_people_employee_id", ["employee_id"], unique=False)
    op.create_table(
        "workflows",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("employee_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("template", sa.String(length=200), nullable=False),
        sa.Column("event_key", sa.String(length=300), nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("effective_at", TS, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("person", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_workflows_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflows")),
        sa.UniqueConstraint("instance", "event_key", name=op.f("uq_workflows_instance_event_key")),
    )
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.create_index("ix_workflows_person", ["instance", "employee_id", "id"], unique=False)
    op.create_table(
        "workflow_tasks",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("workflow_id", ID, nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("depends_on", sa.JSON(), nullable=False),
        sa.Column("run", sa.JSON(), nullable=True),
        sa.Column("offset_seconds", sa.Integer(), nullable=True),
        sa.Column("outbox_key", sa.String(length=300), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_workflow_tasks_ticket_id_tickets")),
        sa.ForeignKeyConstraint(
            ["workflow_id"], ["workflows.id"], name=op.f("fk_workflow_tasks_workflow_id_workflows")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_tasks")),
        sa.UniqueConstraint("workflow_id", "key", name=op.f("uq_workflow_tasks_workflow_id_key")),
    )
    with op.batch_alter_table("workflow_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_workflow_tasks_ticket_id", ["ticket_id"], unique=False)
        batch_op.create_index("ix_workflow_tasks_outbox_key", ["outbox_key"], unique=False)


def downgrade() -> None:
    op.drop_table("workflow_tasks")
    op.drop_table("workflows")
    op.drop_table("hr_people")
    op.drop_table("scim_resources")
