"""Workday (or any HR system with a report API): poll a RaaS report of workers as JSON.

Reports carry states, not events, so the connector remembers the last seen state per worker (in
the cursor, which the core saves only after the derived events are committed) and derives:
- a worker new to the report -> joiner at the hire date (often in the future);
- a termination date appearing -> leaver at that date; a changed one -> leaver with the new date
  (the workflow moves its scheduled steps); one withdrawn -> leaver rescinded;
- a new hire date after a termination -> joiner (rehire); a changed future hire date -> joiner
  with the new date; a future hire gone from the report -> joiner rescinded;
- department, manager, job title, location or cost center changed -> mover.
The first poll only records the baseline, emitting nothing but future-dated hires and terminations.
https://doc.workday.com (Reports-as-a-Service: customreport2 with ?format=json)
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from hub import clock, jsonutil
from hub.sdk import FatalError, PolledConnector, PollResult, RawEvent, SkipRecord

FIELDS = {
    "employee_id": "Employee_ID",
    "name": "Worker",
    "given_name": "First_Name",
    "family_name": "Last_Name",
    "email": "Email_Address",
    "department": "Supervisory_Organization",
    "job_title": "Job_Title",
    "location": "Location",
    "manager_employee_id": "Manager_Employee_ID",
    "cost_center": "Cost_Center",
    "hire_date": "Hire_Date",
    "termination_date": "Termination_Date",
}
MOVER_FIELDS = ("department", "job_title", "manager_employee_id", "location", "cost_center")
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url", "username", "password"],
    "properties": {
        "url": {"type": "string", "format": "uri", "description": "The RaaS report URL (customreport2/...)."},
        "username": {"type": "string", "minLength": 1},
        "password": {"type": "string", "minLength": 1, "description": "Use ${ENV_VAR}."},
        "timezone": {"type": "string", "description": "Zone of the report's dates (default UTC)."},
        "hire_time": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$", "description": "Default 08:00."},
        "termination_time": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$", "description": "Default 17:00."},
        "fields": {
            "type": "object",
            "description": "Report column per person field, where the report differs from the defaults.",
            "additionalProperties": False,
            "properties": {name: {"type": "string"} for name in FIELDS},
        },
    },
}


class WorkdayConnector(PolledConnector):
    name = "workday"
    channel = "hr"
    config_schema: ClassVar[dict[str, Any]] = SCHEMA

    def poll(self, cursor: Any) -> PollResult:
        params = {} if "format=" in str(self.settings["url"]) else {"format": "json"}
        auth = (str(self.settings["username"]), str(self.settings["password"]))
        report = self.context.http.get_json(str(self.settings["url"]), params=params, auth=auth)
        if not isinstance(report, dict) or not isinstance(report.get("Report_Entry"), list):
            raise FatalError("the report has no Report_Entry list (is it a RaaS JSON report of workers?)")
        first = cursor is None
        known: dict[str, Any] = dict((cursor or {}).get("workers") or {})
        today = clock.now().date().isoformat()
        events: list[dict[str, Any]] = []
        seen: dict[str, Any] = {}
        for entry in report["Report_Entry"]:
            state = self._state(entry)
            if state is None:
                continue
            seen[state["person"]["employee_id"]] = state
            events += self._derive(known.get(state["person"]["employee_id"]), state, first, today)
        for eid, old in known.items():
            if eid not in seen and old.get("hire") and old["hire"] > today and not old.get("term"):
                events.append(self._event("joiner", old, self._at(old["hire"], "hire"), rescinded=True))
            elif eid not in seen:
                seen[eid] = old  # dropped from the report (e.g. filtered once gone): keep what we knew
        raws = [RawEvent(self._key(e), jsonutil.dumpb(e)) for e in events]
        return PollResult(raws, {"workers": seen})

    def _state(self, entry: dict[str, Any]) -> dict[str, Any] | None:
        columns = {**FIELDS, **(self.settings.get("fields") or {})}
        value = {name: entry.get(column) for name, column in columns.items()}
        if not value["employee_id"]:
            self.log.warning("report entry without %s skipped", columns["employee_id"])
            return None
        person = {k: (str(value[k]) if value[k] not in (None, "") else None) for k in FIELDS if not k.endswith("_date")}
        return {"person": person, "hire": _date(value["hire_date"]), "term": _date(value["termination_date"])}

    def _derive(self, old: dict[str, Any] | None, new: dict[str, Any], first: bool, today: str) -> list[dict[str, Any]]:
        out = []
        hire, term = new["hire"], new["term"]
        if old is None:
            if hire and (not first or hire > today):
                out.append(self._event("joiner", new, self._at(hire, "hire")))
            if term and (not first or term > today):
                out.append(self._event("leaver", new, self._at(term, "termination")))
            return out
        if hire and hire != old.get("hire"):
            out.append(self._event("joiner", new, self._at(hire, "hire")))  # rehire or corrected date
        if term != old.get("term"):
            if term:
                out.append(self._event("leaver", new, self._at(term, "termination")))
            else:
                out.append(self._event("leaver", new, self._at(old["term"], "termination"), rescinded=True))
        changes = {
            f: {"old": old["person"].get(f), "new": new["person"].get(f)}
            for f in MOVER_FIELDS
            if old["person"].get(f) != new["person"].get(f)
        }
        if changes and not term:
            out.append(self._event("mover", new, clock.isoformat(clock.now()), changes=changes))
        return out

    def _at(self, day: str, kind: str) -> str:
        zone = ZoneInfo(str(self.settings.get("timezone") or "UTC"))
        default = "08:00" if kind == "hire" else "17:00"
        hour, minute = (int(p) for p in str(self.settings.get(f"{kind}_time") or default).split(":"))
        local = datetime.combine(date.fromisoformat(day), time(hour, minute), zone)
        return clock.isoformat(local)

    def _event(
        self, kind: str, state: dict[str, Any], at: str, *, rescinded: bool = False, changes: Any = None
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"person": state["person"], "effective_at": at}
        if rescinded:
            data["rescinded"] = True
        if changes:
            data["changes"] = changes
        return {"type": f"person.{kind}", "external_id": state["person"]["employee_id"], "data": data}

    @staticmethod
    def _key(event: dict[str, Any]) -> str:
        digest = hashlib.sha256(jsonutil.dumpb(event["data"])).hexdigest()[:16]
        return f"{event['external_id']}:{event['type']}:{event['data']['effective_at']}:{digest}"

    def normalize(self, raw: RawEvent) -> list[dict[str, Any]]:
        try:
            return [jsonutil.loads(raw.body)]
        except jsonutil.JSONDecodeError as exc:
            raise SkipRecord(f"not a derived person event: {exc}") from None

    @classmethod
    def contract_examples(cls) -> list[tuple[dict[str, Any], list[RawEvent]]]:
        event = {
            "type": "person.joiner",
            "external_id": "21001",
            "data": {
                "person": {"employee_id": "21001", "name": "Logan McNeil"},
                "effective_at": "2026-12-01T14:00:00Z",
            },
        }
        settings = {
            "url": "https://wd2-impl-services1.workday.com/ccx/service/customreport2/t/u/Workers",
            "username": "u",
            "password": "p",
        }
        return [({"settings": settings}, [RawEvent(cls._key(event), jsonutil.dumpb(event))])]


def _date(value: Any) -> str | None:
    """Workday dates come as 2026-12-01 or 2026-12-01-08:00 (date with offset): keep the date."""
    text = str(value or "").strip()
    return text[:10] if len(text) >= 10 else None
