from __future__ import annotations

import pytest

from connectors.files import FilesConnector
from connectors.webhook import WebhookConnector
from hub import registry


def test_builtin_connectors_come_from_entry_points():
    assert registry.get("webhook") is WebhookConnector
    assert registry.get("files") is FilesConnector
    assert {"webhook", "files", "memory"} <= set(registry.names())


def test_unknown_name_suggests():
    with pytest.raises(registry.UnknownConnector, match="did you mean 'files'"):
        registry.get("filez")
