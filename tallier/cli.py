"""`ivote tally`: The air-gapped tallier."""

from __future__ import annotations

import click


@click.group(name="tally")
def tally() -> None:
    """The air-gapped tallier."""
