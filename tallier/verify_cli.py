"""`ivote verify RECORD`: the observers' verifier."""

from __future__ import annotations

import click


@click.command(name="verify")
@click.argument("record", type=click.Path(exists=True))
def verify(record: str) -> None:
    """Re-check an election record. (Not built yet: see issue 6.)"""
    raise click.ClickException("the verifier is not built yet (issue 6)")
