"""`ivote verify RECORD`: the observers' verifier (verifier/record.py does the checks)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

STYLE = {"pass": "green", "fail": "bold red", "not made": "yellow"}


@click.command(name="verify")
@click.argument("record", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--bundle",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The observers' bundle (default: observers-bundle.json next to the record, if any).",
)
@click.option(
    "--fingerprint",
    help="The manifest fingerprint the officials published (hex): pins the manifest.",
)
@click.option(
    "--organiser-cert",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The organiser's certificate (PEM or DER): pins the manifest's signer.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for machines.")
@click.option("--workers", type=int, default=None, help="Processes (default: every core).")
def verify(
    record: Path,
    bundle: Path | None,
    fingerprint: str | None,
    organiser_cert: Path | None,
    as_json: bool,
    workers: int | None,
) -> None:
    """Re-check an election record (a record directory or record.json; a tally directory
    also works before decryption). Exits 0 only when no check fails; says which checks
    could not be made for want of material."""
    from cryptography import x509

    from canonical.encoding import FormatError
    from canonical.files import read_json_file
    from crypto.errors import CryptoError
    from formats.record import (
        RECORD_FILE,
        TALLY_FILE,
        bundle_path_next_to,
    )
    from ivote.cli_support import progress_bars
    from verifier.record import verify_record

    path = record
    if record.is_dir():
        path = record / RECORD_FILE if (record / RECORD_FILE).exists() else record / TALLY_FILE
    try:
        document = read_json_file(path, "record")
        bundle_path = bundle or bundle_path_next_to(record)
        bundle_doc = read_json_file(bundle_path, "observers_bundle") if bundle_path else None
        pinned = None
        if organiser_cert is not None:
            data = organiser_cert.read_bytes()
            pinned = (
                x509.load_pem_x509_certificate(data)
                if b"-----BEGIN" in data
                else x509.load_der_x509_certificate(data)
            )
    except (FormatError, CryptoError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    with progress_bars(enabled=not as_json) as factory:
        verdict = verify_record(
            document,
            bundle_doc,
            workers=workers,
            expected_fingerprint=fingerprint,
            organiser_certificate=pinned,
            progress=factory,
        )
    if as_json:
        click.echo(json.dumps(verdict.to_dict(), sort_keys=True))
    else:
        table = Table(title=f"Verification of {path}")
        table.add_column("check")
        table.add_column("result")
        table.add_column("details")
        for check in verdict.checks:
            details = "\n".join([check.detail, *check.problems]) if check.problems else check.detail
            table.add_row(check.title, f"[{STYLE[check.status]}]{check.status}[/]", details)
        console = Console()
        console.print(table)
        summary = (
            f"{len(verdict.checks) - len(verdict.failed) - len(verdict.not_made)} passed, "
            f"{len(verdict.failed)} failed, {len(verdict.not_made)} not made"
        )
        if verdict.not_made:
            summary += " (for want of material: " + ", ".join(c.id for c in verdict.not_made) + ")"
        console.print(summary)
    if verdict.failed:
        raise SystemExit(1)
