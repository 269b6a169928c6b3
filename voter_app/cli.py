"""`ivote vote`: Voters' commands."""

from __future__ import annotations

import click


@click.group(name="vote")
def vote() -> None:
    """Voters' commands."""
