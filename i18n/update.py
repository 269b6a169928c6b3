"""Bring the catalogs in step with the source: `python -m i18n.update` (or `make catalogs`).

For every package that shows text and every language, the marked texts are extracted with Babel
and i18n/catalogs/<language>/<package>.po is updated: new texts get an empty translation (to be
filled in), texts no longer in the source are dropped, entries are sorted by text and carry no
line numbers, so that two branches adding texts rarely touch the same lines. `--check` changes
nothing and exits 1 when a catalog is out of step or a Thai text is untranslated
(tests/test_i18n.py runs the same checks).
"""

from __future__ import annotations

import importlib.util
import string
import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir

from i18n import CATALOG_DIR, DOMAIN, LANGUAGES, catalog_bytes, read_catalog

ROOT = Path(__file__).parent.parent
# the packages whose texts people read
PACKAGES = ("formats", "ivote", "ceremonies", "collector", "tallier", "verifier", "voter_app")
# libraries whose own texts people read (click: "Usage:", "Error: Missing option ..."), read
# from the installed package; a newer release's new texts are added by an update and shown in
# English until then, so the check only asks that the texts the catalog holds are translated
THIRD_PARTY = ("click",)
METHOD_MAP = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
MUST_TRANSLATE = ("th",)  # English is the source language


def package_dir(package: str) -> Path:
    if package in THIRD_PARTY:
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.origin is not None, package
        return Path(spec.origin).parent
    return ROOT / package


def extract(package: str) -> Catalog:
    """The texts marked in one package, with where each is used."""
    template = Catalog(domain=DOMAIN)
    for filename, lineno, message, _comments, _context in extract_from_dir(
        package_dir(package), METHOD_MAP, keywords=KEYWORDS
    ):
        template.add(message, locations=[(f"{package}/{filename}", lineno)])
    return template


def catalog_path(code: str, package: str) -> Path:
    return CATALOG_DIR / code / f"{package}.po"


def updated(code: str, package: str, template: Catalog) -> tuple[Catalog, bytes] | None:
    """The catalog for `code` and `package` brought in step with `template`, and its file
    bytes; None when the package has no texts and no catalog."""
    path = catalog_path(code, package)
    if not path.exists() and not len(template):
        return None
    catalog = read_catalog(path, code) if path.exists() else Catalog(locale=code, domain=DOMAIN)
    catalog.update(template, no_fuzzy_matching=True)
    catalog.obsolete.clear()
    return catalog, catalog_bytes(catalog)


def placeholders(text: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return {"<malformed>"}


def _forms(value: str | tuple[str, ...]) -> tuple[str, ...]:
    """A message's ids or translations as a tuple (a plural has several)."""
    return value if isinstance(value, tuple) else (value,)


def _catalogs() -> Iterator[tuple[str, str, Path, Catalog, bytes]]:
    """(package, language, path, the catalog brought in step, its file bytes) for each."""
    for package in PACKAGES + THIRD_PARTY:
        template = extract(package)
        for code in LANGUAGES:
            result = updated(code, package, template)
            if result is not None:
                yield package, code, catalog_path(code, package), *result


def translation_problems(code: str, package: str, catalog: Catalog) -> list[str]:
    """Untranslated texts (in a language that must be complete) and lost placeholders."""
    found: list[str] = []
    for message in catalog:
        if not message.id:
            continue
        ids, strings = _forms(message.id), _forms(message.string)
        if code in MUST_TRANSLATE and not all(strings):
            found.append(f"{code}/{package}.po: untranslated: {ids[0]!r}")
            continue
        # a plural's translation may leave out what only one form names (Thai has one form
        # for every count); it may never name a field the source does not fill
        each = [placeholders(i) for i in ids]
        allowed, needed = set().union(*each), set.intersection(*each)
        for text in strings:
            if not text:  # untranslated (None for a message new in this run)
                continue
            got = placeholders(text)
            if not (needed <= got <= allowed):
                found.append(
                    f"{code}/{package}.po: {ids[0]!r}: the translation's placeholders "
                    f"{sorted(got)} are not {sorted(allowed)}"
                )
    return found


def problems() -> list[str]:
    """Every way the catalogs are out of step with the source, one line each."""
    found: list[str] = []
    for package, code, path, catalog, data in _catalogs():
        if package in THIRD_PARTY and path.exists():
            catalog = read_catalog(path, code)  # what it holds, whatever the release
        elif not path.exists() or path.read_bytes() != data:
            found.append(f"{path.relative_to(ROOT)} is out of step: run python -m i18n.update")
        found += translation_problems(code, package, catalog)
    return found


def main(argv: list[str]) -> int:
    if "--check" in argv:
        found = problems()
        for line in found:
            print(line)
        return 1 if found else 0
    untranslated = 0
    for package, code, path, catalog, data in _catalogs():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
            print(f"updated {path.relative_to(ROOT)}")
        untranslated += sum(
            "untranslated" in line for line in translation_problems(code, package, catalog)
        )
    if untranslated:
        print(f"{untranslated} texts still need a Thai translation; see --check")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
