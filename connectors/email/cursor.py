"""The IMAP cursor: per folder, its UIDVALIDITY, the highest UID stored in the inbox, and the
highest UID already flagged or moved as processed.

The core saves the cursor in the transaction that stores the messages, so the cursor handed to
`poll` always describes committed messages: marking them processed at the start of the next
call is safe. UIDs only grow within one UIDVALIDITY, so "above the highest UID" takes every new
mail, however many arrive in the same second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class FolderCursor:
    uidvalidity: int | None = None
    uid: int = 0  # highest UID whose message is in the inbox
    marked: int = 0  # highest UID already flagged/moved as processed

    def resynced(self, uidvalidity: int) -> FolderCursor:
        """A new UIDVALIDITY invalidates every UID: start over (dedup keys prevent duplicates)."""
        return FolderCursor(uidvalidity=uidvalidity, uid=0, marked=0)


def load(cursor: Any) -> dict[str, FolderCursor]:
    folders = (cursor or {}).get("folders", {}) if isinstance(cursor, dict) else {}
    return {
        name: FolderCursor(v.get("uidvalidity"), int(v.get("uid", 0)), int(v.get("marked", 0)))
        for name, v in folders.items()
    }


def dump(folders: dict[str, FolderCursor]) -> dict[str, Any]:
    return {
        "folders": {
            name: {"uidvalidity": f.uidvalidity, "uid": f.uid, "marked": f.marked}
            for name, f in sorted(folders.items())
        }
    }
