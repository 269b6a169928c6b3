"""The committed vectors are exactly what the project's code makes now (tests/vectors/
generate.py): a change of an encoding, a hash input, a proof or a signature format that is
not carried into the vectors fails here, so outside implementations never test against stale
files."""

from __future__ import annotations

import pytest

from tests.vectors.fixed import HERE, render
from tests.vectors.generate import VECTORS


def test_every_vector_file_is_generated() -> None:
    on_disk = {path.name for path in HERE.glob("*.json")}
    assert on_disk == set(VECTORS)


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_vector_file_is_current(name: str) -> None:
    committed = (HERE / name).read_text(encoding="utf-8")
    assert committed == render(VECTORS[name]()), (
        f"tests/vectors/{name} differs from what the code makes now: if the change is "
        "deliberate, run `python -m tests.vectors.generate` and review the diff"
    )
