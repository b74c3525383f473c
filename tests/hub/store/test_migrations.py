"""Migrations build exactly the tables the code declares, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from hub.store.migrate import current_revision, head_revision, is_current, upgrade
from hub.store.tables import metadata


def test_upgrade_reaches_head_and_matches_metadata(engine):
    assert is_current(engine) and current_revision(engine) == head_revision(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())


def test_upgrade_is_idempotent(engine):
    upgrade(engine)
    assert is_current(engine)
