"""`ivote bench`: Benchmarks."""

from __future__ import annotations

import click


@click.group(name="bench")
def bench() -> None:
    """Benchmarks."""
