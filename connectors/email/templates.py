"""Jinja2 templates for outgoing mail: the built-in ones in ./templates, overridable per instance
by a directory holding files of the same names (`<kind>.subject`, `<kind>.txt`, optional
`<kind>.html`). Admins edit these, so they run sandboxed and a typo fails loudly (StrictUndefined)
instead of mailing citizens a blank."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from hub.sdk import FatalError

KINDS = ("acknowledgement", "comment", "status")
BUILT_IN = Path(str(resources.files("connectors.email").joinpath("templates")))


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None


class Templates:
    def __init__(self, override_dir: Path | None = None) -> None:
        dirs = [str(override_dir)] if override_dir else []
        loader = jinja2.FileSystemLoader([*dirs, str(BUILT_IN)])
        self.env = SandboxedEnvironment(
            loader=loader,
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
            keep_trailing_newline=True,
        )

    def check(self) -> list[str]:
        """Problems with the templates (missing or not compiling), for `hub connectors check`."""
        problems = []
        for kind in KINDS:
            for suffix in ("subject", "txt"):
                try:
                    self.env.get_template(f"{kind}.{suffix}")
                except jinja2.TemplateError as exc:
                    problems.append(f"{kind}.{suffix}: {exc}")
        return problems

    def render(self, kind: str, context: dict[str, Any]) -> Rendered:
        try:
            subject = " ".join(self.env.get_template(f"{kind}.subject").render(context).split())
            text = self.env.get_template(f"{kind}.txt").render(context)
            try:
                html: str | None = self.env.get_template(f"{kind}.html").render(context)
            except jinja2.TemplateNotFound:
                html = None
        except jinja2.TemplateError as exc:
            raise FatalError(f"mail template {kind}: {exc}") from None
        return Rendered(subject, text, html)
