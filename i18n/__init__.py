"""Translations: every text a voter, official or observer reads goes through here.

Texts are marked in the source with `_("...")` (translated when called), `N_("...")` (only
marked: a module-level constant, translated where it is shown with `_(CONSTANT)`) and
`ngettext(singular, plural, n)`. Placeholders are str.format fields (`{name}`), filled after
translation: `_("{count} ballots").format(count=n)`.

The catalogs are gettext PO files, one per package that shows text, per language:
i18n/catalogs/<language>/<package>.po. They are read with Babel and merged at first use, so
two people adding texts to different packages never edit the same file. `python -m i18n.update`
extracts the marked texts and brings every catalog in step (new texts get an empty translation,
texts no longer in the source are dropped); tests/test_i18n.py fails while any Thai text is
untranslated or a translation loses a placeholder. English is the source language: its catalog
may leave a text untranslated, and the text itself is shown.

The language is chosen per command (`ivote --lang th`, else the LANGUAGE, LC_ALL, LC_MESSAGES
or LANG environment variable, else English) and per request in the voter app (a context
variable, so one process can serve both).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from babel.dates import get_month_names
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import Translations

LANGUAGES = ("en", "th")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "th": "ไทย"}
CATALOG_DIR = Path(__file__).parent / "catalogs"
DOMAIN = "ivote"
# Thai official dates count years in the Buddhist Era
BUDDHIST_ERA_OFFSET = 543

_language: ContextVar[str] = ContextVar("ivote_language", default=DEFAULT_LANGUAGE)


def N_(message: str) -> str:
    """Mark a text for the catalogs without translating it here."""
    return message


def language_from_environment(environ: dict[str, str] | None = None) -> str:
    """The first supported language named by LANGUAGE, LC_ALL, LC_MESSAGES or LANG (gettext's
    order), else English. "th_TH.UTF-8" and "th" both mean Thai."""
    environ = dict(os.environ) if environ is None else environ
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(variable, "")
        if not value:
            continue
        for entry in value.split(":"):
            code = entry.split(".")[0].split("@")[0].split("_")[0].split("-")[0].lower()
            if code in LANGUAGES:
                return code
        if variable != "LANGUAGE":
            break  # gettext stops at the first of the others that is set
    return DEFAULT_LANGUAGE


def normalise_language(code: str) -> str:
    """A supported language code from what a person typed ("th", "TH", "th_TH", "th-TH")."""
    short = code.strip().split(".")[0].replace("-", "_").split("_")[0].lower()
    if short not in LANGUAGES:
        raise ValueError(
            f"unsupported language {code!r}: ivote speaks {', '.join(LANGUAGES)}"
        )
    return short


def set_language(code: str) -> None:
    """Choose the language of this thread or task (the CLI sets it once, from --lang)."""
    _language.set(normalise_language(code))


def current_language() -> str:
    return _language.get()


@contextmanager
def language(code: str) -> Iterator[None]:
    """Speak `code` inside the block (one request of the voter app, one test)."""
    token = _language.set(normalise_language(code))
    try:
        yield
    finally:
        _language.reset(token)


def catalog_paths(code: str) -> list[Path]:
    return sorted((CATALOG_DIR / code).glob("*.po"))


def read_catalog(path: Path, code: str) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=code, domain=DOMAIN)


def catalog_bytes(catalog: Catalog) -> bytes:
    """A catalog as its PO file: sorted by text, no line numbers, no header (so that edits
    elsewhere in the source never touch it and two branches rarely touch the same lines)."""
    buffer = io.BytesIO()
    write_po(
        buffer,
        catalog,
        width=100,
        omit_header=True,
        sort_output=True,
        no_location=True,
        ignore_obsolete=True,
        include_previous=False,
    )
    return buffer.getvalue()


@functools.cache
def translations(code: str) -> Translations:
    """The merged catalogs of one language, as gettext translations."""
    merged = Catalog(locale=code, domain=DOMAIN)
    for path in catalog_paths(code):
        for message in read_catalog(path, code):
            if message.id and message.string and not message.fuzzy:
                merged[message.id] = message
    buffer = io.BytesIO()
    write_mo(buffer, merged)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def _(message: str) -> str:
    """`message` in the current language (itself when the catalog has no translation)."""
    return translations(_language.get()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return translations(_language.get()).ngettext(singular, plural, count)


def format_date(value: dt.date, code: str | None = None) -> str:
    """A date as people of the language write it: "30 November 2026"; in Thai, the Buddhist
    Era: "30 พฤศจิกายน 2569"."""
    code = code or _language.get()
    month = get_month_names("wide", locale=code)[value.month]
    year = value.year + (BUDDHIST_ERA_OFFSET if code == "th" else 0)
    return f"{value.day} {month} {year}"


def format_datetime(value: dt.datetime, code: str | None = None) -> str:
    """A moment for people: date as format_date, then the time and its UTC offset, in the
    moment's own time zone (UTC when it has none)."""
    code = code or _language.get()
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    offset = value.strftime("%z")
    zone = "UTC" if offset in ("+0000", "") else f"UTC{offset[:3]}:{offset[3:]}"
    return f"{format_date(value, code)}, {value:%H:%M} {zone}"
