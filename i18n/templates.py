"""Jinja2 environments for the pages people read (the voting page, the results report): one
setup, so every template calls `_()` / `ngettext` and formats dates the same way as Python
code does, with `{name}` placeholders filled by `.format(...)` after translation, and its
output autoescaped, translations included."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from i18n import LANGUAGE_NAMES, LANGUAGES, _, format_date, format_datetime, ngettext


def environment(package: str, folder: str = "templates") -> Environment:
    """The templates in `package`/`folder`, with the translation helpers as globals."""
    made = Environment(
        loader=PackageLoader(package, folder),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    made.globals.update(
        _=_,
        ngettext=ngettext,
        format_date=format_date,
        format_datetime=format_datetime,
        languages=LANGUAGES,
        language_names=LANGUAGE_NAMES,
    )
    return made
