"""The `hub` command. Errors are one clear line and a non-zero exit; --debug shows tracebacks."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from hub import clock, registry
from hub.config import ConfigError, config_path, load_config
from hub.runtime import Hub

ROLES = ("web", "worker", "scheduler")


class State:
    def __init__(self, config: str | None, debug: bool) -> None:
        self.config_file = config_path(config)
        self.debug = debug
        self._hub: Hub | None = None

    def hub(self, *, migrated: bool = True) -> Hub:
        if self._hub is None:
            self._hub = Hub(load_config(self.config_file))
            if migrated:
                from hub.store.migrate import is_current

                if not is_current(self._hub.engine):
                    raise click.ClickException("the database schema is not current: run `hub db upgrade`")
        return self._hub


pass_state = click.make_pass_decorator(State)


def _table(rows: Iterable[dict[str, Any]], columns: list[str]) -> None:
    rows = list(rows)
    if not rows:
        click.echo("(none)")
        return
    text = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in text)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for t in text:
        click.echo("  ".join(v.ljust(w) for v, w in zip(t, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


class HubGroup(click.Group):
    """Turns expected failures into one line on stderr instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            state = ctx.find_object(State)
            if state is not None and state.debug:
                raise
            raise click.ClickException(_explain(exc)) from None


def _explain(exc: Exception) -> str:
    if isinstance(exc, ConfigError):
        return "invalid configuration:\n  " + "\n  ".join(exc.problems)
    if isinstance(exc, OperationalError):
        return f"database unavailable: {str(exc.orig).strip().splitlines()[0]}"
    if isinstance(exc, SQLAlchemyError):
        return f"database error: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    if isinstance(exc, LookupError):
        return str(exc.args[0]) if exc.args else str(exc)
    return f"{type(exc).__name__}: {exc}"


@click.group(cls=HubGroup)
@click.option("--config", "config", metavar="PATH", help="Config file (default: $HUB_CONFIG or config/example.yaml).")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.version_option(package_name="service-desk-hub")
@click.pass_context
def main(ctx: click.Context, config: str | None, debug: bool) -> None:
    """Integration hub for public-sector service desks."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = State(config, debug)


# --- config ---------------------------------------------------------------------------------
@main.group("config")
def config_group() -> None:
    """Check configuration files."""


@config_group.command("validate")
@pass_state
def config_validate(state: State) -> None:
    """Validate the config file against the schemas and each connector's settings, and the HR
    workflow templates (errors name the file, the template and the field)."""
    cfg = load_config(state.config_file)
    click.echo(f"{state.config_file}: OK ({len(cfg.instances)} connector instances)")
    from hub import registry
    from hub.tickets.workflows.templates import load_directory

    directory = cfg.hub.workflows_dir
    if directory and directory.is_dir():
        actions = {i.id: set(registry.get(i.connector).action_names()) for i in cfg.instances}
        found = load_directory(directory, actions)
        click.echo(f"{directory}: OK ({len(found.templates)} workflow templates)")


# --- db -------------------------------------------------------------------------------------
@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@pass_state
def db_upgrade(state: State) -> None:
    """Create or migrate the database schema to the latest version."""
    from hub.store.migrate import current_revision, upgrade

    hub = state.hub(migrated=False)
    upgrade(hub.engine)
    click.echo(f"database at revision {current_revision(hub.engine)} ({hub.engine.url.render_as_string()})")


@db_group.command("current")
@pass_state
def db_current(state: State) -> None:
    """Show the schema revision of the database."""
    from hub.store.migrate import current_revision, head_revision

    hub = state.hub(migrated=False)
    current, head = current_revision(hub.engine), head_revision(hub.engine)
    click.echo(f"current: {current or '(empty database)'}; latest: {head}")


# --- serve ----------------------------------------------------------------------------------
@main.command("serve")
@click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice(["all", *ROLES]),
    default=["all"],
    show_default=True,
    help="What this process does; repeat to combine.",
)
@click.option("--host", default=None, help="Listen address (default from config).")
@click.option("--port", type=int, default=None, help="Listen port (default from config).")
@pass_state
def serve(state: State, roles: tuple[str, ...], host: str | None, port: int | None) -> None:
    """Run the hub: web endpoints, the inbox worker and the scheduler."""
    from hub.serve import run

    logging.getLogger("hub").setLevel(logging.DEBUG if state.debug else logging.INFO)
    chosen = set(ROLES) if "all" in roles else set(roles)
    run(state.hub(), chosen, host=host, port=port)


# --- connectors -----------------------------------------------------------------------------
@main.group("connectors")
def connectors_group() -> None:
    """Configured connector instances."""


@connectors_group.command("list")
@click.option("--available", is_flag=True, help="List installed connector types instead of instances.")
@pass_state
def connectors_list(state: State, available: bool) -> None:
    """Configured instances with their state (or --available connector types)."""
    if available:
        _table(
            (
                {"connector": n, "class": f"{c.__module__}.{c.__qualname__}", "channel": c.channel}
                for n, c in registry.all_connectors().items()
            ),
            ["connector", "class", "channel"],
        )
        return
    from hub.pipeline import state as instance_state
    from hub.pipeline.events import counts
    from hub.store.db import read

    hub = state.hub()
    with read(hub.engine) as conn:
        states, totals = instance_state.all_states(conn), counts(conn)
    rows = []
    for inst in hub.config.instances:
        st = states.get(inst.id)
        rows.append(
            {
                "id": inst.id,
                "connector": inst.connector,
                "enabled": inst.enabled,
                "schedule": (inst.schedule or {}).get("every") or (inst.schedule or {}).get("cron") or "push",
                "received": sum(v for (i, _s), v in totals.items() if i == inst.id),
                "dead": totals.get((inst.id, "dead"), 0),
                "last_success": clock.isoformat(st.last_success_at) if st and st.last_success_at else None,
                "last_error": st.last_error if st else None,
            }
        )
    _table(rows, ["id", "connector", "enabled", "schedule", "received", "dead", "last_success", "last_error"])


@main.command("status")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def status(state: State, as_json: bool) -> None:
    """Health of every instance: last event, lag, failures, circuits, expiries, problems."""
    from hub.health import assess

    now = clock.now()
    rows = []
    for h in assess(state.hub(), now):
        expiry = h.next_expiry()
        lag = h.lag_seconds(now)
        rows.append(
            {
                "instance": h.instance,
                "connector": h.connector,
                "enabled": h.enabled,
                "last_event": clock.isoformat(h.last_event_at) if h.last_event_at else None,
                "lag": _age(lag) if lag is not None else None,
                "last_success": clock.isoformat(h.last_success_at) if h.last_success_at else None,
                "failures": h.failures,
                "circuit": f"in:{h.circuit_in} out:{h.circuit_out}",
                "next_expiry": f"{expiry[0]} in {_age((expiry[1] - now).total_seconds())}" if expiry else None,
                "problems": "; ".join(f"{k}: {v}" for k, v in h.problems.items()) or "ok",
            }
        )
    if as_json:
        _json(rows)
    else:
        _table(rows, ["instance", "connector", "last_event", "lag", "failures", "circuit", "next_expiry", "problems"])
    if any(r["problems"] != "ok" for r in rows):
        raise click.exceptions.Exit(3)


def _age(seconds: float) -> str:
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{sign}{seconds / size:.1f}{unit}"
    return f"{sign}{seconds:.0f}s"


@connectors_group.command("check")
@click.argument("instance")
@pass_state
def connectors_check(state: State, instance: str) -> None:
    """Run an instance's connection test."""
    results = state.hub(migrated=False).connector(instance).check()
    for result in results:
        click.echo(f"{'ok  ' if result.ok else 'FAIL'} {result.name}: {result.detail}")
    if not all(r.ok for r in results):
        raise click.exceptions.Exit(1)


@connectors_group.command("poll")
@click.argument("instance")
@click.option("--process/--no-process", default=True, show_default=True, help="Also run the worker afterwards.")
@pass_state
def connectors_poll(state: State, instance: str, process: bool) -> None:
    """Poll an instance once now (all pages)."""
    from hub.pipeline.poll import poll_instance

    hub = state.hub()
    report = poll_instance(hub, instance)
    click.echo(f"{instance}: {report.pages} page(s), {report.received} new, {report.duplicates} already known")
    if process:
        _drain(hub)
    if report.error:
        raise click.ClickException(f"poll failed: {report.error}")


def _drain(hub: Hub) -> None:
    from hub.pipeline.worker import process_batch

    done = dead = ignored = 0
    show = sys.stderr.isatty()
    while True:
        report = process_batch(hub)
        done, dead, ignored = done + report.done, dead + report.dead, ignored + report.ignored
        if show:
            click.echo(f"\rprocessing: {done + dead + ignored} event(s)", nl=False, err=True)
        if report.claimed == 0 or report.claimed == report.deferred:
            break
    if show:
        click.echo("", err=True)
    click.echo(f"processed: {done} applied, {ignored} ignored, {dead} dead-lettered")


# --- events ---------------------------------------------------------------------------------
@main.group("events")
def events_group() -> None:
    """Inbox events and dead letters."""


@events_group.command("list")
@click.option("--dead", is_flag=True, help="Only dead-lettered events.")
@click.option("--state", "state_filter", type=click.Choice(["received", "done", "ignored", "dead"]))
@click.option("--instance")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def events_list(
    state: State, dead: bool, state_filter: str | None, instance: str | None, limit: int, as_json: bool
) -> None:
    """List inbox events, newest first."""
    from hub.pipeline.events import listing
    from hub.store.db import read

    with read(state.hub().engine) as conn:
        rows = listing(conn, state="dead" if dead else state_filter, instance=instance, limit=limit)
    if as_json:
        _json(rows)
    else:
        _table(rows, ["id", "instance", "state", "received_at", "ticket_id", "last_error"])


@events_group.command("show")
@click.argument("event_id", type=int)
@pass_state
def events_show(state: State, event_id: int) -> None:
    """Show one event with its raw payload."""
    from hub.pipeline.events import get
    from hub.store.db import read

    with read(state.hub().engine) as conn:
        doc = get(conn, event_id, with_body=True)
    if doc is None:
        raise click.ClickException(f"no event {event_id}")
    _json(doc)


@events_group.command("replay")
@click.argument("event_ids", type=int, nargs=-1)
@click.option("--all-dead", is_flag=True, help="Replay every dead-lettered event.")
@click.option("--process/--no-process", default=True, show_default=True, help="Run the worker right away.")
@pass_state
def events_replay(state: State, event_ids: tuple[int, ...], all_dead: bool, process: bool) -> None:
    """Run events through normalize and apply again (after fixing a mapping or the config)."""
    from hub.pipeline.events import replay
    from hub.store.db import write

    if not event_ids and not all_dead:
        raise click.UsageError("give event ids or --all-dead")
    hub = state.hub()
    with write(hub.engine) as conn:
        count = replay(conn, event_ids, all_dead=all_dead)
    click.echo(f"{count} event(s) queued for replay")
    if process and count:
        _drain(hub)


@events_group.command("ingest")
@click.argument("instance")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--key", help="Dedup key (default: what the connector derives, else the body's sha256).")
@click.option("--process/--no-process", default=True, show_default=True, help="Run the worker right away.")
@pass_state
def events_ingest(state: State, instance: str, file: str, key: str | None, process: bool) -> None:
    """Feed a raw payload through the pipeline as INSTANCE would receive it."""
    from hub.pipeline.inbox import receive
    from hub.sdk.connector import InboundRequest, PushConnector, RawEvent

    hub = state.hub()
    body = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    connector = hub.connector(instance)
    content_type = "application/json" if file.endswith(".json") or file == "-" else "application/octet-stream"
    if key:
        raws = [RawEvent(key, body, {}, content_type)]
    elif isinstance(connector, PushConnector):
        raws = connector.receive(InboundRequest(body, {}, content_type))
    else:
        import hashlib

        raws = [RawEvent("sha256:" + hashlib.sha256(body).hexdigest(), body, {}, content_type)]
    for stored in receive(hub.engine, instance, raws):
        click.echo(f"event {stored.inbox_id}: {'already received, ignored' if stored.duplicate else 'stored'}")
    if process:
        _drain(hub)


# --- tickets --------------------------------------------------------------------------------
@main.group("tickets")
def tickets_group() -> None:
    """Tickets."""


@tickets_group.command("list")
@click.option("--status")
@click.option("--queue")
@click.option("--text", help="Search title, description and number.")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def tickets_list(
    state: State, status: str | None, queue: str | None, text: str | None, limit: int, as_json: bool
) -> None:
    """List tickets, newest first."""
    from hub.store.db import read
    from hub.tickets.queries import search

    with read(state.hub().engine) as conn:
        rows = search(conn, status=status, queue=queue, text=text, limit=limit)
    if as_json:
        _json(rows)
    else:
        _table(rows, ["number", "status", "priority", "queue", "channel", "title", "updated_at"])


@tickets_group.command("show")
@click.argument("ref")
@pass_state
def tickets_show(state: State, ref: str) -> None:
    """Show a ticket (by number or id) with its comments and history."""
    from hub.store.db import read
    from hub.tickets.queries import comment_list, get, history

    with read(state.hub().engine) as conn:
        doc = get(conn, ref)
        if doc is None:
            raise click.ClickException(f"no ticket {ref}")
        doc["comments"] = comment_list(conn, doc["id"])
        doc["history"] = history(conn, doc["id"])
    _json(doc)


# --- outbox ---------------------------------------------------------------------------------
@main.group("outbox")
def outbox_group() -> None:
    """Outbound actions waiting, sent or failed."""


@outbox_group.command("list")
@click.option("--state", "state_filter", type=click.Choice(["pending", "done", "dead"]))
@click.option("--limit", default=50, show_default=True)
@pass_state
def outbox_list(state: State, state_filter: str | None, limit: int) -> None:
    from hub.outbox.queue import listing
    from hub.store.db import read

    with read(state.hub().engine) as conn:
        _table(
            listing(conn, state_filter, limit),
            ["id", "instance", "action", "state", "attempts", "next_attempt_at", "last_error"],
        )


@outbox_group.command("retry")
@click.argument("ids", type=int, nargs=-1, required=True)
@pass_state
def outbox_retry(state: State, ids: tuple[int, ...]) -> None:
    """Queue dead outbox rows again."""
    from hub.outbox.dispatcher import retry

    click.echo(f"{retry(state.hub(), list(ids))} row(s) queued again")


def run_cli(argv: list[str] | None = None, **kwargs: Any) -> int:
    """Entry for tests: run the CLI in-process and return its exit code."""
    try:
        main.main(args=argv, prog_name="hub", standalone_mode=False, **kwargs)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return 0


# the command groups defined in their own modules register themselves on import
from hub import cli_desk, cli_web  # noqa: E402,F401
