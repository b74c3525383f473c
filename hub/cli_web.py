"""`hub tokens ...` and `hub webhooks ...`: API tokens and testing a webhook instance end to end."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hub.cli import State, _json, _table, main, pass_state


# --- tokens ---------------------------------------------------------------------------------
@main.group("tokens")
def tokens_group() -> None:
    """API bearer tokens (stored only as hashes)."""


@tokens_group.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(["tickets:read", "tickets:write", "events:admin", "admin"]),
    help="Repeat for several. tickets:write grants tickets:read; admin grants everything.",
)
@pass_state
def tokens_create(state: State, name: str, scopes: tuple[str, ...]) -> None:
    """Create a token; it is printed once and cannot be shown again."""
    from hub.store.db import write
    from hub.web import tokens

    with write(state.hub().engine) as conn:
        token_id, plaintext = tokens.create(conn, name, list(scopes))
    click.echo(f"token {token_id} ({name}: {' '.join(sorted(set(scopes)))}), shown only now:", err=True)
    click.echo(plaintext)


@tokens_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def tokens_list(state: State, as_json: bool) -> None:
    """Tokens with their scopes and last use (never the token itself)."""
    from hub.store.db import read
    from hub.web import tokens

    with read(state.hub().engine) as conn:
        rows = tokens.listing(conn)
    if as_json:
        _json(rows)
    else:
        _table(rows, ["id", "name", "scopes", "created_at", "last_used_at", "revoked_at"])


@tokens_group.command("revoke")
@click.argument("ref")
@pass_state
def tokens_revoke(state: State, ref: str) -> None:
    """Revoke a token by id, or every live token with this name."""
    from hub.store.db import write
    from hub.web import tokens

    with write(state.hub().engine) as conn:
        count = tokens.revoke(conn, ref)
    if not count:
        raise click.ClickException(f"no live token {ref!r}")
    click.echo(f"{count} token(s) revoked")


# --- webhooks -------------------------------------------------------------------------------
@main.group("webhooks")
def webhooks_group() -> None:
    """Test webhook instances."""


@webhooks_group.command("send")
@click.argument("instance")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--url", help="Hub base URL (default: hub.base_url from the config).")
@click.option("--id", "msg_id", help="Delivery id (default: a new random one; reuse one to test redelivery).")
@click.option("--content-type", default="application/json", show_default=True)
@pass_state
def webhooks_send(
    state: State, instance: str, file: str, url: str | None, msg_id: str | None, content_type: str
) -> None:
    """Sign FILE with INSTANCE's verify settings and POST it to the running hub."""
    import requests

    from hub.web.verify import build_verifier

    config = state.hub(migrated=False).config
    inst = config.instance(instance)
    body = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    headers = {"Content-Type": content_type, **build_verifier(inst.verify).sign(body, msg_id=msg_id)}
    target = f"{(url or config.hub.base_url).rstrip('/')}/hooks/{instance}"
    try:
        response = requests.post(target, data=body, headers=headers, timeout=30)
    except requests.RequestException as exc:
        raise click.ClickException(f"cannot reach {target}: {type(exc).__name__} (is `hub serve` running?)") from None
    click.echo(f"{response.status_code} {response.reason}")
    click.echo(response.text.strip())
    if not response.ok:
        raise click.exceptions.Exit(1)


@webhooks_group.command("new-secret")
def webhooks_new_secret() -> None:
    """Print a fresh random Standard Webhooks secret (whsec_...)."""
    from hub.web.verify import new_whsec

    click.echo(new_whsec())
