"""A git merge driver for the catalogs: two branches that both added texts merge without
conflict. `git config merge.po-union.driver "python -m i18n.merge_po %O %A %B"` once per clone
(.gitattributes names the driver for i18n/catalogs/**/*.po).

The result holds every entry of either side. A text translated on both sides differently takes
the side that changed it from the common ancestor, else ours; run `make catalogs` afterwards to
drop texts the merged source no longer has.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from i18n import catalog_bytes


def _read(path: str) -> Catalog:
    data = Path(path).read_bytes()
    return read_po(io.BytesIO(data)) if data.strip() else Catalog()


def merge(base: Catalog, ours: Catalog, theirs: Catalog) -> Catalog:
    merged = Catalog(locale=ours.locale, domain=ours.domain)
    for message in ours:
        if message.id:
            merged[message.id] = message
    for message in theirs:
        if not message.id:
            continue
        mine = merged.get(message.id)
        ancestor = base.get(message.id)
        if mine is None or not mine.string or (
            message.string and ancestor is not None and mine.string == ancestor.string
        ):
            if mine is not None:
                del merged[message.id]  # assigning over an entry would keep its translation
            merged[message.id] = message
    return merged


def main(argv: list[str]) -> int:
    base_path, ours_path, theirs_path = argv
    merged = merge(_read(base_path), _read(ours_path), _read(theirs_path))
    Path(ours_path).write_bytes(catalog_bytes(merged))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
