"""Which application permission each feature needs (least privileged first), from the Graph API
reference pages of the calls it makes. Used to name the missing permission on a 403 and by
`hub connectors check` to list what works."""

from __future__ import annotations

MAIL_READ = ("Mail.Read", "Mail.ReadWrite")
MAIL_SEND = ("Mail.Send",)
CHANNEL_READ = ("ChannelMessage.Read.All",)
# Graph accepts app-only channel posts only for migration; replies need this or a delegated token
CHANNEL_REPLY = ("Teamwork.Migrate.All",)
USER_READ = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All")
USER_WRITE = ("User.ReadWrite.All",)
USER_ENABLE = ("User.EnableDisableAccount.All", "User.ReadWrite.All")
USER_REVOKE = ("User.RevokeSessions.All", "User.ReadWrite.All")
GROUP_MEMBERS = ("GroupMember.ReadWrite.All", "Group.ReadWrite.All")
LICENSES = ("LicenseAssignment.ReadWrite.All", "User.ReadWrite.All")
SKUS_READ = ("LicenseAssignment.Read.All", "Organization.Read.All", "Directory.Read.All")

# feature -> (permissions any of which suffices, what it is for)
FEATURES: dict[str, tuple[tuple[str, ...], str]] = {
    "mail intake": (MAIL_READ, "read the shared mailbox folder (delta)"),
    "mail replies": (MAIL_SEND, "send_reply, temporary password delivery"),
    "teams intake": (CHANNEL_READ, "read channel messages (delta)"),
    "teams replies": (CHANNEL_REPLY, "reply_in_thread (app-only posting is migration-only)"),
    "read users": (USER_READ, "get_user, users delta, resolving managers"),
    "create/update users": (USER_WRITE, "create_user, set_manager, set_department"),
    "enable/disable users": (USER_ENABLE, "disable_user"),
    "revoke sessions": (USER_REVOKE, "revoke_sessions"),
    "group membership": (GROUP_MEMBERS, "add_to_groups, remove_from_groups"),
    "licenses": (LICENSES, "assign_licenses, remove_licenses"),
}


def satisfied(roles: list[str], wanted: tuple[str, ...]) -> str | None:
    """The granted permission that satisfies `wanted`, if any."""
    have = set(roles)
    return next((w for w in wanted if w in have), None)
