"""`ivote collector`: The online ballot collector."""

from __future__ import annotations

import click


@click.group(name="collector")
def collector() -> None:
    """The online ballot collector."""
