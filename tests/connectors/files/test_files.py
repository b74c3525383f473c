"""Export files in a drop folder, read with real files on disk."""

from __future__ import annotations

import json

from sqlalchemy import select

from hub.pipeline import events as inbox_events
from hub.pipeline.poll import poll_instance
from hub.pipeline.worker import drain
from hub.store.db import read
from hub.store.tables import tickets
from hub.tickets import queries

CONFIG = """
hub: {data_dir: {data_dir}}
instances:
  - id: exports
    connector: files
    settings: {directory: drop, pattern: "*.csv", page_size: 2}
    defaults: {queue: finance}
    mapping:
      external_id: /Invoice
      fields:
        ticket.create:
          title: {template: "Invoice {Invoice}: {Exception}"}
          attributes.amount: {path: /Amount, as: number}
"""
HEADER = "Invoice,Vendor,Amount,Exception\n"


def titles(hub) -> list[str]:
    with read(hub.engine) as conn:
        return sorted(t["title"] for t in queries.search(conn, limit=100))


def test_rows_become_tickets_paged_and_resumable(make_hub, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    rows = "".join(f"INV-{i},Acme,{i}.50,Over PO\n" for i in range(5))
    (drop / "ap-2026-11-28.csv").write_text(HEADER + rows)
    hub = make_hub(CONFIG)
    report = poll_instance(hub, "exports")
    assert (report.pages, report.received) == (3, 5)
    drain(hub)
    assert len(titles(hub)) == 5
    assert poll_instance(hub, "exports").received == 0


def test_next_nights_export_only_changed_rows_update_their_ticket(make_hub, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "night1.csv").write_text(HEADER + "INV-1,Acme,10.00,Over PO\nINV-2,Bolt,5.00,No receipt\n")
    hub = make_hub(CONFIG)
    poll_instance(hub, "exports")
    drain(hub)
    (drop / "night2.csv").write_text(HEADER + "INV-1,Acme,10.00,Over PO\nINV-2,Bolt,5.00,Price mismatch\n")
    report = poll_instance(hub, "exports")
    assert (report.received, report.duplicates) == (1, 1)
    drain(hub)
    assert titles(hub) == ["Invoice INV-1: Over PO", "Invoice INV-2: Price mismatch"]


def test_unreadable_file_is_kept_as_a_dead_letter_and_others_continue(make_hub, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    settings_json = CONFIG.replace('pattern: "*.csv"', 'pattern: "*.json", format: json')
    (drop / "a-broken.json").write_text('{"Invoice": "INV-9", ')
    (drop / "b-good.json").write_text(json.dumps([{"Invoice": "INV-7", "Exception": "Duplicate", "Amount": "1"}]))
    hub = make_hub(settings_json)
    poll_instance(hub, "exports")
    drain(hub)
    assert titles(hub) == ["Invoice INV-7: Duplicate"]
    with read(hub.engine) as conn:
        (dead,) = inbox_events.listing(conn, state="dead")
        raw = inbox_events.get(conn, dead["id"], with_body=True)
    assert "a-broken.json: not valid JSON" in dead["last_error"]
    assert raw["body"] == '{"Invoice": "INV-9", '


def test_legacy_encoding_and_check(make_hub, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "x.csv").write_bytes((HEADER + "INV-5,Café Müller,3.00,Über budget\n").encode("cp1252"))
    hub = make_hub(CONFIG)
    (result,) = hub.connector("exports").check()
    assert result.ok and "1 matching file" in result.detail
    poll_instance(hub, "exports")
    drain(hub)
    assert titles(hub) == ["Invoice INV-5: Über budget"]
    with read(hub.engine) as conn:
        assert conn.execute(select(tickets.c.attributes)).scalar_one() == {"amount": 3.0}
