"""`hub tokens` and `hub webhooks new-secret`, run in-process on SQLite and PostgreSQL."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from hub.cli import main
from hub.store.db import read
from hub.store.tables import api_tokens
from hub.web import tokens
from hub.web.verify import decode_whsec


def run(config, *args: str, db_url: str):
    return CliRunner().invoke(main, ["--config", str(config), *args], env={"HUB_DATABASE_URL": db_url})


def test_tokens_create_list_revoke(make_hub, write_config, db_url):
    hub = make_hub()
    config = write_config("hub: {data_dir: {data_dir}}\ninstances: []\n", name="cli.yaml")
    created = run(config, "tokens", "create", "dashboard", "--scope", "tickets:read", db_url=db_url)
    assert created.exit_code == 0, created.output
    plaintext = created.stdout.strip().splitlines()[-1]
    assert plaintext.startswith("hub_") and len(plaintext) > 40
    with read(hub.engine) as conn:
        row = conn.execute(select(api_tokens)).one()
    assert row.token_hash == tokens.hash_token(plaintext) and plaintext not in str(tuple(row))
    assert tokens.authenticate(hub.engine, plaintext).scopes == {"tickets:read"}

    listed = run(config, "tokens", "list", db_url=db_url)
    assert "dashboard" in listed.output and "tickets:read" in listed.output and plaintext not in listed.output

    assert run(config, "tokens", "revoke", "dashboard", db_url=db_url).output.strip() == "1 token(s) revoked"
    assert tokens.authenticate(hub.engine, plaintext) is None
    again = run(config, "tokens", "revoke", "dashboard", db_url=db_url)
    assert again.exit_code == 1 and "no live token" in again.output
    bad = run(config, "tokens", "create", "x", "--scope", "root", db_url=db_url)
    assert bad.exit_code == 2


def test_new_secret_is_a_random_standard_webhooks_secret():
    first = CliRunner().invoke(main, ["webhooks", "new-secret"]).output.strip()
    second = CliRunner().invoke(main, ["webhooks", "new-secret"]).output.strip()
    assert first.startswith("whsec_") and first != second
    assert len(decode_whsec(first)) == 32
