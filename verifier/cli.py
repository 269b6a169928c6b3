"""`ivote verify RECORD`: the observers' verifier (verifier/record.py does the checks)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ivote.cli_support import (
    allow_test_key_option,
    audit_input_options,
    manifest_pin_options,
)

STYLE = {"pass": "green", "fail": "bold red", "not made": "yellow"}


@click.command(name="verify")
@click.argument("record", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--bundle",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The observers' bundle (default: observers-bundle.json next to the record, if any).",
)
@manifest_pin_options
@audit_input_options(required=False)
@click.option(
    "--receipts",
    "receipts_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A directory of voters' receipts (*.json, as `ivote vote receipts --export` writes "
    "them): each must be in the final log.",
)
@allow_test_key_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for machines.")
@click.option("--workers", type=int, default=None, help="Processes (default: every core).")
def verify(
    record: Path,
    bundle: Path | None,
    fingerprint: str | None,
    organiser_cert: Path | None,
    ballot_box: Path | None,
    paper_voters: Path | None,
    crl_paths: tuple[Path, ...],
    receipts_dir: Path | None,
    allow_test_key: bool,
    as_json: bool,
    workers: int | None,
) -> None:
    """Re-check an election record (a record directory or record.json; a tally directory
    also works before decryption). Observers give the record (and the observers' bundle);
    auditors add the ballot box and the signed paper-voter list. Exits 0 only when no check
    fails; says which checks could not be made for want of material."""
    if (ballot_box is None) != (paper_voters is None):
        raise click.UsageError("the auditors' check needs both --ballot-box and --paper-voters")

    from canonical.encoding import FormatError
    from canonical.files import read_json_file
    from crypto.errors import CryptoError
    from formats.record import RECORD_FILE, TALLY_FILE, bundle_path_next_to
    from ivote.cli_support import progress_bars, read_certificate_file
    from verifier.audit import read_audit_material
    from verifier.record import verify_record

    path = record
    if record.is_dir():
        path = record / RECORD_FILE if (record / RECORD_FILE).exists() else record / TALLY_FILE
    try:
        document = read_json_file(path, "record")
        bundle_path = bundle or bundle_path_next_to(record)
        bundle_doc = read_json_file(bundle_path, "observers_bundle") if bundle_path else None
        pinned = (
            read_certificate_file(organiser_cert, "organiser's certificate")
            if organiser_cert is not None
            else None
        )
        receipts = None
        if receipts_dir is not None:
            receipts = [
                (p.name, read_json_file(p, p.name)) for p in sorted(receipts_dir.glob("*.json"))
            ]
        audit = None
        if ballot_box is not None and paper_voters is not None:
            audit = read_audit_material(ballot_box, paper_voters, crl_paths, path)
    except (FormatError, CryptoError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    with progress_bars(enabled=not as_json) as factory:
        verdict = verify_record(
            document,
            bundle_doc,
            workers=workers,
            expected_fingerprint=fingerprint,
            organiser_certificate=pinned,
            audit=audit,
            receipts=receipts,
            allow_test_key=allow_test_key,
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
