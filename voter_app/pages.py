"""The voter app's pages: Jinja2 templates in voter_app/templates, every text through i18n.

Templates call `_("...")` (and `ngettext`) as Python code does, with `{name}` placeholders
filled by `.format(...)` after translation, so the catalogs have one convention; the output is
autoescaped, translations included. Texts the page's script shows are rendered into the page as
JSON (a `<script type="application/json">` block of the template), never written in the script.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from i18n import (
    LANGUAGE_NAMES,
    LANGUAGES,
    _,
    current_language,
    format_date,
    format_datetime,
    ngettext,
    normalise_language,
)

_ENVIRONMENT = Environment(
    loader=PackageLoader("voter_app", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENVIRONMENT.globals.update(
    _=_,
    ngettext=ngettext,
    format_date=format_date,
    format_datetime=format_datetime,
    languages=LANGUAGES,
    language_names=LANGUAGE_NAMES,
)


def render(template: str, **context: Any) -> str:
    """A page in the current language (i18n.current_language)."""
    return _ENVIRONMENT.get_template(template).render(lang=current_language(), **context)


def request_language(query: Mapping[str, str], headers: Mapping[str, str], default: str) -> str:
    """The language a request asks for: `?lang=`, then the page's X-Ivote-Lang header (the
    script sends the page's language with every API call), then the browser's
    Accept-Language, else `default`."""
    for value in (query.get("lang"), headers.get("x-ivote-lang")):
        if value:
            try:
                return normalise_language(value)
            except ValueError:
                pass
    for entry in (headers.get("accept-language") or "").split(","):
        try:
            return normalise_language(entry.split(";")[0])
        except ValueError:
            continue
    return default
