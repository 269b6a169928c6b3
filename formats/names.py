"""Names that people read, in one language or in each of the election's languages.

The manifest gives every name (the election's, a district's, a contest's, a candidate's, a
party's, a referendum question and its answers) either as one string, shown in every
language, or as an object with a text per language, e.g. {"en": "Party list", "th":
"บัญชีรายชื่อ"}. Both forms are signed with the manifest. Shown to a person, a name is in
the language they speak (i18n.current_language), else in the first of i18n.LANGUAGES that it
has. Format: docs/spec.md, "Names".

A `Name` is what every role holds: `str(name)` is the text for the current language, so
f-strings and templates show the voter's language without asking.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from i18n import LANGUAGES, current_language, translations


@dataclass(frozen=True)
class Name:
    # ("", text) for one text in every language, else (language, text) in LANGUAGES order
    texts: tuple[tuple[str, str], ...]
    # a catalog text instead (i18n), for names ivote itself gives, e.g. "vote no"
    msgid: str = ""

    @classmethod
    def plain(cls, text: str) -> Name:
        return cls((("", text),))

    @classmethod
    def of(cls, value: Name | str | Mapping[str, str]) -> Name:
        """A Name from a Name, a plain string or a {language: text} mapping (not checked:
        the manifest's and the definition's rules name what is wrong, see `name_problems`)."""
        if isinstance(value, Name):
            return value
        if isinstance(value, str):
            return cls.plain(value)
        return cls(tuple((code, value[code]) for code in LANGUAGES if code in value))

    @classmethod
    def catalog(cls, msgid: str) -> Name:
        return cls((), msgid)

    def text(self, code: str | None = None) -> str:
        """The text for language `code` (default: the current one), else the first there is."""
        wanted = code or current_language()
        if self.msgid:
            return translations(wanted).gettext(self.msgid)
        for language, text in self.texts:
            if language in ("", wanted):
                return text
        return self.texts[0][1] if self.texts else ""

    def languages(self) -> tuple[str, ...]:
        """The languages given, () for one text in every language."""
        return tuple(code for code, _text in self.texts if code)

    def all_texts(self) -> Iterator[str]:
        """Every text the manifest gives (none for a catalog name: see `text`)."""
        for _code, text in self.texts:
            yield text

    def to_json(self) -> str | dict[str, str]:
        """The manifest's form: a string, or {language: text}."""
        if len(self.texts) == 1 and self.texts[0][0] == "":
            return self.texts[0][1]
        return dict(self.texts)

    def __str__(self) -> str:
        return self.text()

    def __bool__(self) -> bool:
        return bool(self.msgid) or any(text for _code, text in self.texts)


def name_problems(value: Any) -> Iterator[tuple[tuple[str, ...], str]]:
    """What is wrong with a name's JSON or TOML form, as (sub-path, problem): not a string
    nor an object, no language, an unknown language, a text that is not a string. The texts'
    content (empty, too long, control characters) is checked with every other text."""
    if isinstance(value, str):
        return
    if not isinstance(value, Mapping):
        yield (), "expected a string or an object with a text per language"
        return
    if not value:
        yield (), f"no text: give one per language ({', '.join(LANGUAGES)})"
    for code, text in value.items():
        if code not in LANGUAGES:
            yield (str(code),), f"{code!r} is not a language (expected {' or '.join(LANGUAGES)})"
        elif not isinstance(text, str):
            yield (code,), "expected a string"
