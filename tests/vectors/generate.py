"""Write every vector file of tests/vectors/ from the project's own code:

    .venv/bin/python -m tests.vectors.generate

Deterministic (tests/vectors/README.md): running it again gives the same bytes, and
tests/vectors/test_vectors_current.py fails whenever the committed files differ from what the
code makes now, so a vector never drifts from the implementation unnoticed. Regenerate only
for a deliberate change of a format or an algorithm, and say so in the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.vectors import (
    gen_check,
    gen_contest,
    gen_encoding_membership,
    gen_keyproofs,
    gen_log,
    gen_marks,
    gen_tally_hash,
    gen_threshold,
)
from tests.vectors.fixed import HERE, render

# file name -> the function that makes its content
VECTORS: dict[str, Callable[[], Any]] = {
    **gen_encoding_membership.VECTORS,
    **gen_threshold.VECTORS,
    **gen_contest.VECTORS,
    **gen_log.VECTORS,
    **gen_marks.VECTORS,
    **gen_tally_hash.VECTORS,
    **gen_check.VECTORS,
    **gen_keyproofs.VECTORS,
}


def main() -> None:
    for name, make in VECTORS.items():
        (HERE / name).write_text(render(make()), encoding="utf-8")


if __name__ == "__main__":
    main()
