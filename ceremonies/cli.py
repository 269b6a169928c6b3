"""`ivote ceremony`: Officials' offline ceremonies."""

from __future__ import annotations

import click


@click.group(name="ceremony")
def ceremony() -> None:
    """Officials' offline ceremonies."""
