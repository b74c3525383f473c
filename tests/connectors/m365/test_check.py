"""`hub connectors check` lists which permissions work, from the CLI."""

from __future__ import annotations

from click.testing import CliRunner

from connectors.m365.examples import CHANNEL, MAILBOX, TEAM
from hub.cli import main
from tests.connectors.m365.conftest import hub_config


def test_check_lists_granted_and_missing_permissions(fake, write_config, monkeypatch):
    monkeypatch.setenv("M365_TEST_SECRET", "s3cret-value")
    fake.roles = ["Mail.Read", "User.Read.All", "User.RevokeSessions.All"]
    fake.on("GET", f"users/{MAILBOX}/mailFolders/inbox/messages", (200, {"value": []}, {}))
    denied = {"error": {"code": "Forbidden", "message": "Missing role permissions on the request."}}
    fake.on("GET", f"teams/{TEAM}/channels/{CHANNEL}/messages", (403, denied, {}))
    path = write_config(hub_config())
    result = CliRunner().invoke(main, ["--config", str(path), "connectors", "check", "m365"])
    lines = result.output.splitlines()
    assert result.exit_code == 1, result.output
    assert "ok   token: app 24d3b144-21ae-4080-943f-7067b395b913 in tenant contoso.onmicrosoft.com" in lines
    assert "ok   permission: mail intake: Mail.Read granted" in lines
    assert "ok   permission: revoke sessions: User.RevokeSessions.All granted" in lines
    assert any(line.startswith("FAIL permission: mail replies: needs Mail.Send") for line in lines)
    assert any(line.startswith("FAIL permission: group membership: needs GroupMember.ReadWrite.All") for line in lines)
    assert f"ok   read mail:{MAILBOX}:inbox: readable" in lines
    teams = next(line for line in lines if line.startswith(f"FAIL read teams:{TEAM}"))
    assert "ChannelMessage.Read.All" in teams
    assert "s3cret-value" not in result.output


def test_check_reports_a_bad_secret_in_one_line(fake, write_config, monkeypatch):
    monkeypatch.setenv("M365_TEST_SECRET", "wrong")
    fake.token_error = {
        "error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided.",
    }
    result = CliRunner().invoke(main, ["--config", str(write_config(hub_config())), "connectors", "check", "m365"])
    assert result.exit_code == 1
    assert (
        result.output.strip()
        == "FAIL token: token request failed: invalid_client: AADSTS7000215: Invalid client secret provided."
    )
