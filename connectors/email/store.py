"""Attachment content on disk, addressed by its sha256 under the instance's data directory.

Content addressing makes storing idempotent (a replayed or re-delivered mail writes nothing
new) and lets tickets refer to a file by hash. The raw mail stays in the inbox, so the store can
always be rebuilt by replaying events. Files are written to a temporary name and renamed, so a
crash never leaves a half file under a valid hash.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


class AttachmentStore:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> tuple[str, bool]:
        """Store `data` unless it is over the limit; returns (sha256, stored)."""
        digest = hashlib.sha256(data).hexdigest()
        if len(data) > self.max_bytes:
            return digest, False
        target = self.path(digest)
        if target.exists():
            return digest, True
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest, True

    def get(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()
