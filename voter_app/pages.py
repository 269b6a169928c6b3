"""The voter app's pages: Jinja2 templates in voter_app/templates, every text through i18n.

Templates call `_("...")` (and `ngettext`) as Python code does (i18n.templates). Texts the
page's script shows are rendered into the page as JSON (a `<script type="application/json">`
block of the template), never written in the script.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from i18n import current_language, normalise_language
from i18n.templates import environment

_ENVIRONMENT = environment("voter_app")


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
