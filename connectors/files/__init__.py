"""Export files dropped in a directory: nightly CSV exports of finance systems (Tyler Munis and
the like), JSON or JSON Lines dumps. Each row becomes one raw event.

Exports carry states, not events: the same row shows up every night. A row's dedup key is the
hash of its content, so an unchanged row is ignored and a changed row is a new event that the
mapping's external id sends to the same ticket.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any, ClassVar

from hub import jsonutil
from hub.sdk import CheckResult, FatalError, PolledConnector, PollResult, RawEvent, SkipRecord

EXAMPLE_CSV = b"""Invoice,Vendor,Amount,Department,Exception,Contact Email,Date
INV-88123,Acme Paving,12500.00,Public Works,PO amount exceeded,ap@city.example.gov,2026-11-28
"""


class FilesConnector(PolledConnector):
    name = "files"
    channel = "file"
    uses_mapping = True
    config_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "required": ["directory"],
        "properties": {
            "directory": {"type": "string", "minLength": 1, "description": "Relative to the config file."},
            "pattern": {"type": "string", "default": "*.csv"},
            "format": {"enum": ["csv", "json", "jsonl"], "default": "csv"},
            "encoding": {"type": "string", "default": "utf-8-sig"},
            "delimiter": {"type": "string", "minLength": 1, "maxLength": 1, "default": ","},
            "page_size": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 500},
        },
    }

    @property
    def directory(self) -> Path:
        path = Path(self.settings["directory"])
        return path if path.is_absolute() else (self.context.base_dir / path).resolve()

    def check(self) -> list[CheckResult]:
        directory = self.directory
        if not directory.is_dir():
            return [CheckResult("directory", False, f"{directory} does not exist")]
        files = sorted(directory.glob(self.settings.get("pattern", "*.csv")))
        return [CheckResult("directory", True, f"{directory}: {len(files)} matching file(s)")]

    def poll(self, cursor: Any) -> PollResult:
        """One page = up to page_size rows of the oldest file not yet fully read."""
        state = dict(cursor or {"done": {}})
        done: dict[str, str] = dict(state.get("done") or {})
        directory = self.directory
        if not directory.is_dir():
            raise FatalError(f"directory {directory} does not exist")
        files = sorted(directory.glob(self.settings.get("pattern", "*.csv")), key=lambda p: (p.stat().st_mtime, p.name))
        done = {name: sha for name, sha in done.items() if (directory / name).exists()}
        current = state.get("current")
        for path in files:
            data = path.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            if done.get(path.name) == sha:
                continue
            offset = current["offset"] if current and current["name"] == path.name and current["sha"] == sha else 0
            try:
                rows = self._rows(path.name, data)
            except SkipRecord as exc:  # keep the unreadable file as one dead-lettered event
                done[path.name] = sha
                bad = RawEvent(
                    f"file:{path.name}:{sha}",
                    data,
                    {"x-file": path.name, "x-parse-error": str(exc)},
                    "application/octet-stream",
                )
                return PollResult([bad], {"done": done}, more=True)
            page_size = int(self.settings.get("page_size", 500))
            page = rows[offset : offset + page_size]
            events = [self._event(path.name, offset + i, row) for i, row in enumerate(page)]
            if offset + page_size >= len(rows):
                done[path.name] = sha
                new_state: dict[str, Any] = {"done": done}
            else:
                new_state = {"done": done, "current": {"name": path.name, "sha": sha, "offset": offset + page_size}}
            pending = any(done.get(p.name) != hashlib.sha256(p.read_bytes()).hexdigest() for p in files)
            return PollResult(events, new_state, more=pending)
        return PollResult([], {"done": done})

    def _rows(self, name: str, data: bytes) -> list[dict[str, Any]]:
        try:
            text = data.decode(self.settings.get("encoding", "utf-8-sig"))
        except UnicodeDecodeError as exc:
            text = data.decode("cp1252", errors="replace")  # exports from older systems
            self.log.warning("%s is not %s (%s); read as cp1252", name, self.settings.get("encoding"), exc.reason)
        fmt = self.settings.get("format", "csv")
        if fmt == "csv":
            reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=self.settings.get("delimiter", ","))
            return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
        if fmt == "jsonl":
            return [self._json(name, line) for line in text.splitlines() if line.strip()]
        loaded = self._json(name, text)
        return loaded if isinstance(loaded, list) else [loaded]

    @staticmethod
    def _json(name: str, text: str) -> Any:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise SkipRecord(f"{name}: not valid JSON: {exc}") from None

    @staticmethod
    def _event(name: str, index: int, row: Any) -> RawEvent:
        key = "sha256:" + hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()
        return RawEvent(key, jsonutil.dumpb(row), {"x-file": name, "x-row": str(index + 1)})

    def normalize(self, raw: RawEvent) -> list[dict[str, Any]]:
        if "x-parse-error" in raw.headers:
            raise SkipRecord(raw.headers["x-parse-error"])
        return super().normalize(raw)

    @classmethod
    def contract_examples(cls) -> list[tuple[dict[str, Any], list[RawEvent]]]:
        row = next(csv.DictReader(io.StringIO(EXAMPLE_CSV.decode())))
        mapping = {
            "external_id": "/Invoice",
            "fields": {
                "ticket.create": {
                    "title": {"template": "Invoice {Invoice} from {Vendor}: {Exception}"},
                    "description": {"template": "Amount {Amount}, department {Department}, dated {Date}."},
                    "requester.email": "/Contact Email",
                    "queue": {"const": "finance"},
                }
            },
        }
        return [({"settings": {"directory": "."}, "mapping": mapping}, [cls._event("x.csv", 0, row)])]
