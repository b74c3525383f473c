"""`hub rules test`, `hub report`, `hub sla check` and `hub tickets link`: the desk from the shell."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from hub import clock
from hub.cli import State, _json, main, pass_state, tickets_group
from hub.runtime import Hub


@main.group("rules")
def rules_group() -> None:
    """Routing rules (the routing file named by desk.routing)."""


def _events(hub: Hub, path: str, instance: str | None) -> list[dict[str, Any]]:
    """A canonical event, or a raw payload run through INSTANCE's connector as the pipeline would."""
    body = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise click.ClickException(f"{path}: not JSON: {exc}") from None
    if isinstance(doc, dict) and "type" in doc and "data" in doc and instance is None:
        return [{"instance": doc.get("instance", "api"), **doc}]
    if instance is None:
        raise click.UsageError("this is not a canonical event; say which instance receives it: --instance ID")
    from hub.pipeline.normalize import normalize
    from hub.sdk.connector import RawEvent

    return normalize(hub, instance, RawEvent("rules-test", body, {}, "application/json"))


@rules_group.command("test")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--instance", help="Treat FILE as a raw payload received by this instance.")
@click.option("--at", "at_text", help="Evaluate as if received at this ISO 8601 time (default: the event's).")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def rules_test(state: State, file: str, instance: str | None, at_text: str | None, as_json: bool) -> None:
    """Show which routing rule matches EVENT and why, without touching the database."""
    from hub.tickets.routing import Candidate, route

    hub = state.hub(migrated=False)
    desk = hub.config.desk
    creates = [e for e in _events(hub, file, instance) if e["type"] == "ticket.create"]
    if not creates:
        raise click.ClickException("no ticket.create event in this file: routing applies to new tickets")
    event = creates[0]
    defaults = hub.instance(event["instance"]).defaults if _configured(hub, event["instance"]) else {}
    data = {**defaults, **event["data"]}
    channel = data.get("channel") or (
        hub.connector(event["instance"]).channel if _configured(hub, event["instance"]) else "api"
    )
    at = clock.parse(at_text or event.get("occurred_at") or clock.now())
    before = dict(data)
    decision = route(desk.rules, Candidate(data, event["instance"], channel, at), desk.triage_queue)
    result = {
        "instance": event["instance"],
        "channel": channel,
        "at": clock.isoformat(at),
        "rules": [{"rule": t.rule, "matched": t.matched, "reasons": t.reasons} for t in decision.trace],
        "total_rules": len(desk.rules),
        "matched": decision.matched,
        "triaged": decision.triaged,
        "changes": {k: {"from": old, "to": new} for k, (old, new) in decision.changes.items()},
        "sla": _sla_preview(hub, data, decision.sla_policy, at),
    }
    if as_json:
        _json(result)
        return
    _explain(result, desk.routing_file, before)


def _configured(hub: Hub, instance: str) -> bool:
    return any(i.id == instance for i in hub.config.instances)


def _sla_preview(hub: Hub, data: dict[str, Any], pinned: str | None, at: Any) -> dict[str, Any] | None:
    desk = hub.config.desk
    policy = desk.policies.get(pinned or "")
    if policy is None:
        policy = next((p for p in desk.policies.values() if data.get("queue") in p.queues), None)
        policy = policy or desk.policies.get(desk.default_policy or "")
    if policy is None:
        return None
    cal = desk.calendar(policy.calendar)
    targets = policy.for_priority(data.get("priority", "normal"))
    due = {
        metric: clock.isoformat(cal.add(at, seconds)) if seconds is not None else None
        for metric, seconds in (("first_response", targets.first_response), ("resolution", targets.resolution))
    }
    return {"policy": policy.name, "calendar": policy.calendar, "due": due}


def _explain(result: dict[str, Any], routing_file: Any, before: dict[str, Any]) -> None:
    click.echo(f"routing file: {routing_file or '(none: desk.routing is not set)'}")
    click.echo(f"event from {result['instance']} (channel {result['channel']}) at {result['at']}")
    for index, trace in enumerate(result["rules"], 1):
        verdict = "MATCH" if trace["matched"] else "no match"
        click.echo(f"  {index}. {trace['rule']}: {verdict}")
        for reason in trace["reasons"]:
            click.echo(f"       {reason}")
    if result["triaged"]:
        click.echo("no rule decided: the ticket goes to the triage queue")
    elif len(result["rules"]) < result["total_rules"]:
        click.echo(f"rule {result['rules'][-1]['rule']!r} decided; rules after it are not evaluated")
    for name, change in result["changes"].items():
        click.echo(f"  {name}: {change['from']!r} -> {change['to']!r}")
    if not result["changes"]:
        click.echo("  (no field changes)")
    sla = result["sla"]
    if sla:
        due = ", ".join(f"{k.replace('_', ' ')} due {v}" for k, v in sla["due"].items() if v)
        click.echo(f"SLA policy {sla['policy']} ({sla['calendar']}): {due or 'no targets for this priority'}")
    else:
        click.echo("no SLA policy applies")


@main.command("report")
@click.option("--from", "start", help="First day (YYYY-MM-DD, hub time zone) or ISO 8601 time; default: 30 days ago.")
@click.option("--to", "end", help="End, exclusive; default: now.")
@click.option(
    "--by",
    "group_by",
    default="queue",
    show_default=True,
    type=click.Choice(["queue", "department", "channel", "category", "priority", "type"]),
)
@click.option("--csv", "as_csv", is_flag=True, help="CSV for spreadsheets.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--chart", "chart_path", type=click.Path(dir_okay=False), help="Also write a chart (.png or .svg).")
@click.option(
    "--chart-kind",
    default="volume",
    show_default=True,
    type=click.Choice(["volume", "first_response", "resolution", "sla", "satisfaction"]),
)
@pass_state
def report(
    state: State,
    start: str | None,
    end: str | None,
    group_by: str,
    as_csv: bool,
    as_json: bool,
    chart_path: str | None,
    chart_kind: str,
) -> None:
    """Service-provider performance: volume, backlog, response and resolution times, SLA
    attainment, reopen rate, satisfaction, onboarding lead time."""
    from hub.reports import render
    from hub.reports.performance import performance
    from hub.reports.period import period
    from hub.store.db import read

    hub = state.hub()
    try:
        first, stop = period(start, end, hub.settings.timezone)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    with read(hub.engine) as conn:
        result = performance(conn, hub.config.desk, first, stop, group_by)
    if as_csv:
        click.echo(render.to_csv(result), nl=False)
    elif as_json:
        _json(result.as_dict())
    else:
        click.echo(render.to_text(result))
    if chart_path:
        from hub.reports.charts import chart

        fmt = Path(chart_path).suffix.lstrip(".").lower()
        Path(chart_path).write_bytes(chart(result, chart_kind, fmt))
        click.echo(f"chart written to {chart_path}", err=True)


@main.group("sla")
def sla_group() -> None:
    """SLA clocks."""


@sla_group.command("check")
@pass_state
def sla_check(state: State) -> None:
    """Record warnings and breaches that have come due now (the scheduler does this every minute)."""
    from hub.tickets.sla import check_due

    result = check_due(state.hub())
    click.echo(f"checked {result.checked} ticket(s): {result.warnings} warning(s), {result.breaches} breach(es)")


@tickets_group.command("link")
@click.argument("ref")
@pass_state
def tickets_link(state: State, ref: str) -> None:
    """Print the requester's signed status link of a ticket (by number or id)."""
    from hub.store.db import read
    from hub.tickets import queries, status_link

    hub = state.hub()
    with read(hub.engine) as conn:
        doc = queries.get(conn, ref)
    if doc is None:
        raise click.ClickException(f"no ticket {ref}")
    click.echo(status_link.status_url(hub.config.desk, doc["id"]))
