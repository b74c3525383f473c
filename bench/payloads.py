"""Realistic phone/IVR payloads (the example intake mapping): creates, notes and status changes."""

from __future__ import annotations

import random
from typing import Any

import orjson

CATEGORIES = ["Pothole", "Streetlight", "Graffiti", "Water leak", "Missed pickup", "Noise", "Tree down"]
DEPARTMENTS = ["Public Works", "Parks", "Water", "Sanitation"]
URGENCY = ["emergency", "high", "routine", "low"]


def reference(n: int) -> str:
    return f"IVR-BENCH-{n:08d}"


def create(n: int) -> dict[str, Any]:
    rnd = random.Random(n)
    category = rnd.choice(CATEGORIES)
    return {
        "event": "request.created",
        "request": {
            "reference": reference(n),
            "received_at": "2026-11-29T08:14:05-06:00",
            "category": category,
            "summary": f"{category} reported near {100 + n % 900} Main St",
            "description": "Caller reports the problem has been there since this morning; "
            "two neighbours called about it as well. " * 3,
            "department": rnd.choice(DEPARTMENTS),
            "urgency": rnd.choice(URGENCY),
            "address": f"{100 + n % 900} Main St",
        },
        "caller": {
            "name": f"Caller {n}",
            "callback_number": f"+1-555-{n % 10000:04d}",
            "email": f"caller{n % 5000}@example.org",
        },
        "call": {"id": f"CA{n:010x}", "language": rnd.choice(["en", "es"])},
    }


def note(n: int, target: int) -> dict[str, Any]:
    return {
        "event": "request.note",
        "request": {"reference": reference(target), "received_at": "2026-11-29T09:00:00-06:00"},
        "note": {"text": f"Caller {target} called again (note {n}): still not fixed."},
        "caller": {"name": f"Caller {target}"},
    }


def status(n: int, target: int) -> dict[str, Any]:
    return {
        "event": "request.status",
        "request": {"reference": reference(target), "received_at": "2026-11-29T10:00:00-06:00"},
        "status": ["open", "done", "closed"][n % 3],
        "note": {"text": f"Crew update {n}"},
    }


def mixed(count: int, seed: int = 6) -> list[tuple[str, bytes]]:
    """(dedup key, JSON body) for `count` events: ~50% creates, 30% notes, 20% status changes;
    notes and status changes target tickets created earlier in the sequence."""
    rnd = random.Random(seed)
    out: list[tuple[str, bytes]] = []
    created: list[int] = []
    for n in range(count):
        roll = rnd.random()
        if not created or roll < 0.5:
            created.append(n)
            doc = create(n)
        elif roll < 0.8:
            doc = note(n, rnd.choice(created))
        else:
            doc = status(n, rnd.choice(created))
        out.append((f"bench-{n:08d}", orjson.dumps(doc)))
    return out
