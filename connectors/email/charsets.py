"""Turning the bytes of a text part into text, whatever its label says.

Mail in the wild declares charsets that do not exist (`unknown-8bit`, `x-user-defined`), declares
none, or declares Latin-1 for what is really UTF-8 (older Outlook and web forms). The order below
never fails: declared charset (if it decodes strictly), UTF-8, Windows-1252, then Latin-1, which
accepts any byte.
"""

from __future__ import annotations

import codecs
import re

_LATIN = {"ascii", "iso8859-1", "cp1252"}  # codec names of the labels most often put on the wrong bytes
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def known(charset: str | None) -> str | None:
    """The Python codec name of a declared charset, or None if Python does not know it."""
    if not charset:
        return None
    try:
        return codecs.lookup(charset.strip().strip('"').lower()).name
    except LookupError:
        return None


def sniff_html(data: bytes) -> str | None:
    """The charset an HTML document declares in a <meta> tag (for parts with no charset param)."""
    match = _META_CHARSET.search(data[:4096])
    return known(match.group(1).decode("ascii", "replace")) if match else None


def decode(data: bytes, declared: str | None) -> str:
    """Decode with the declared charset, falling back sensibly; never raises."""
    codec = known(declared)
    if codec and codec not in _LATIN:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            pass
    try:
        # Also when Latin-1/ASCII is declared: valid multi-byte UTF-8 labelled Latin-1 is far more
        # likely mislabelled UTF-8 than real Latin-1 (which is almost never valid UTF-8).
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")  # what "iso-8859-1" and unlabelled 8-bit mail usually is
    except UnicodeDecodeError:
        return data.decode("latin-1")


def fix_header(value: str) -> str:
    """Headers with raw 8-bit bytes (no RFC 2047) come back from the parser with surrogate escapes;
    decode those bytes like a body part with no declared charset."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    return decode(value.encode("utf-8", "surrogateescape"), None)
