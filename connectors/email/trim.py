"""Cutting quoted history and signatures from a reply, so a comment shows what the person wrote.

Conservative on purpose: a reply written between quoted lines (inline answers) keeps everything,
and when trimming would leave nothing the full text is kept.
"""

from __future__ import annotations

import re

# Lines that introduce the quoted original, in the languages a city's mail arrives in.
_ATTRIBUTION = re.compile(
    r"^\s*(on\b.{0,200}\bwrote:|am\b.{0,200}\bschrieb\b.{0,120}:|le\b.{0,200}\ba [ée]crit\s?:|"
    r"el\b.{0,200}\bescribi[óo]:|il giorno\b.{0,200}\bha scritto:|op\b.{0,200}\bschreef\b.{0,80}:)\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|mensaje original|"
    r"forwarded message|weitergeleitete nachricht)\s*-{2,}|_{20,})\s*$",
    re.IGNORECASE,
)
# Outlook's header block: "From: ..." followed within a few lines by "Sent:"/"Date:" and "To:"/"Subject:".
_OUTLOOK_FROM = re.compile(r"^\s*\*?(from|von|de|van)\s?:\*?\s", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(sent|date|gesendet|datum|envoy[ée]|enviado|to|an|subject|betreff)\s?:", re.I)
_MOBILE = re.compile(
    r"^\s*(sent from my \w+|get outlook for \w+|von meinem \w+ gesendet|envoy[ée] de mon \w+)", re.IGNORECASE
)


def trim_reply(text: str) -> str:
    """The new part of a reply."""
    lines = text.replace("\r\n", "\n").split("\n")
    cut = _history_start(lines)
    kept = lines[:cut]
    kept = _drop_signature(kept)
    while kept and (not kept[-1].strip() or kept[-1].lstrip().startswith(">")):
        kept.pop()
    if any(line.lstrip().startswith(">") for line in kept):
        return text.strip()  # quotes in the middle: an inline answer, keep it all
    result = "\n".join(kept).strip()
    return result or text.strip()


def _history_start(lines: list[str]) -> int:
    for i, line in enumerate(lines):
        if _SEPARATOR.match(line):
            return i
        if _ATTRIBUTION.match(line):
            return i
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and following.strip() and _ATTRIBUTION.match(f"{line} {following}"):
            return i  # "On Mon, 3 Nov 2026 at 10:00, Ann <a@b>\nwrote:" wrapped by the client
        if _OUTLOOK_FROM.match(line) and sum(bool(_OUTLOOK_NEXT.match(n)) for n in lines[i + 1 : i + 5]) >= 2:
            return i
    return len(lines)


def _drop_signature(lines: list[str]) -> list[str]:
    for i in range(len(lines) - 1, -1, -1):
        if lines[i] in ("-- ", "--") and len(lines) - i <= 15:
            return lines[:i]
    while lines and (not lines[-1].strip() or _MOBILE.match(lines[-1])):
        lines = lines[:-1]
    return lines
