"""HTML mail -> clean text, and HTML kept for display only after sanitizing.

Text conversion uses the standard library's HTMLParser: block elements become line breaks, list
items get a dash, links keep their target, scripts/styles/head vanish. Sanitizing uses nh3 (the
Rust `ammonia` sanitizer): a maintained allow-list sanitizer, not a home-made regex.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

# Paragraph-like elements are set apart by a blank line, line-like ones start a new line
# (Outlook writes one <div> per line).
_PARAGRAPH = {
    "p", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "hr", "section",
    "article", "header", "footer", "address",
}  # fmt: skip
_LINE = {"div", "br", "tr", "li", "dd", "dt"}
_SKIP = {"script", "style", "head", "title", "template", "noscript"}
_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "div", "dl", "dt", "em", "font", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "small", "span", "strong",
    "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "center",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align"},
    "*": {"dir", "lang"},
}
# cid: lets inline images keep pointing at their attachment; never javascript: or data:.
_SCHEMES = {"http", "https", "mailto", "tel", "cid"}


def sanitize(html: str) -> str:
    """HTML safe to show in the agent UI: no scripts, handlers, styles or remote tricks."""
    return nh3.clean(html, tags=_TAGS, attributes=_ATTRIBUTES, url_schemes=_SCHEMES, link_rel="noopener noreferrer")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.href: list[str | None] = []
        self.link_text: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag in _PARAGRAPH:
            self.out.append("\n\n")
        elif tag in _LINE:
            self.out.append("\n- " if tag == "li" else "\n")
        if tag == "a":
            self.href.append(dict(attrs).get("href"))
            self.link_text.append(len(self.out))
        if tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.out.append(f"[{alt}]")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _PARAGRAPH:
            self.out.append("\n\n")
        elif tag == "a" and self.href:
            href, start = self.href.pop(), self.link_text.pop()
            shown = "".join(self.out[start:]).strip()
            if href and href.startswith(("http:", "https:")) and href != shown:
                self.out.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(re.sub(r"\s+", " ", data))


def to_text(html: str) -> str:
    """Readable plain text of an HTML body."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.out).replace("\xa0", " ").split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
