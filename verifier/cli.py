"""`ivote verify RECORD` and `ivote results RECORD`: the observers' verifier (verifier/record.py
does the checks, verifier/results.py decides which results they establish, verifier/report.py
and verifier/show.py present them)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from i18n import _, language
from ivote.cli_support import (
    allow_test_key_option,
    audit_input_options,
    manifest_pin_options,
)

if TYPE_CHECKING:
    from verifier.record import Verdict

FORMATS = ("table", "csv", "json", "html")


def verification_options(command: Any) -> Any:
    """What both commands take besides RECORD: the material of the checks."""
    for option in reversed(
        (
            click.option(
                "--bundle",
                type=click.Path(dir_okay=False, exists=True, path_type=Path),
                help=_(
                    "The observers' bundle (default: observers-bundle.json next to the "
                    "record, if any)."
                ),
            ),
            manifest_pin_options,
            audit_input_options(required=False),
            click.option(
                "--receipts",
                "receipts_dir",
                type=click.Path(file_okay=False, exists=True, path_type=Path),
                help=_(
                    "A directory of voters' receipts (*.json, as `ivote vote receipts "
                    "--export` writes them): each must be in the final log."
                ),
            ),
            allow_test_key_option,
            click.option(
                "--workers", type=int, default=None, help=_("Processes (default: every core).")
            ),
        )
    ):
        command = option(command)
    return command


def locate_record(record: Path) -> Path:
    """The record (or tally) file RECORD names: the file itself; in a directory its
    record.json, else its tally.json; in the folder `ivote demo` writes, its record/."""
    from formats.record import RECORD_FILE, TALLY_FILE

    if not record.is_dir():
        return record
    for name in (RECORD_FILE, TALLY_FILE):
        if (record / name).is_file():
            return record / name
    inner = record / "record" / RECORD_FILE
    if inner.is_file():
        click.echo(
            _("{folder} is not a record directory; using the record inside it: {record}").format(
                folder=record, record=inner.parent
            ),
            err=True,
        )
        return inner
    raise click.ClickException(
        _(
            "{folder} holds no {record_file} or {tally_file}: give a record directory (what "
            "`ivote tally combine --out` writes; in a folder of `ivote demo`, its record/ "
            "folder), a tally directory, or the file itself"
        ).format(folder=record, record_file=RECORD_FILE, tally_file=TALLY_FILE)
    )


def run_verification(
    record: Path,
    *,
    bundle: Path | None,
    fingerprint: str | None,
    organiser_cert: Path | None,
    ballot_box: Path | None,
    paper_voters: Path | None,
    crl_paths: tuple[Path, ...],
    receipts_dir: Path | None,
    allow_test_key: bool,
    workers: int | None,
    show_progress: bool,
) -> tuple[Path, Verdict]:
    """Read the material and run every check (verifier.record.verify_record): the one
    verification both commands make. Returns the record file read and the verdict."""
    if (ballot_box is None) != (paper_voters is None):
        raise click.UsageError(
            _("the auditors' check needs both --ballot-box and --paper-voters")
        )

    from canonical.encoding import FormatError
    from canonical.files import read_json_file
    from crypto.errors import CryptoError
    from formats.record import bundle_path_next_to
    from ivote.cli_support import progress_bars, read_certificate_file
    from verifier.audit import read_audit_material
    from verifier.record import verify_record

    path = locate_record(record)
    try:
        document = read_json_file(path, "record")
        bundle_path = bundle or bundle_path_next_to(path)
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
    with progress_bars(enabled=show_progress) as factory:
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
    return path, verdict


@click.command(
    name="verify",
    help=_(
        "Re-check an election record (a record directory or record.json; a tally directory "
        "also works before decryption), then show the results the checks establish. "
        "Observers give the record (and the observers' bundle); auditors add the ballot box "
        "and the signed paper-voter list. Exits 0 only when no check fails; says which checks "
        "could not be made for want of material."
    ),
)
@click.argument("record", type=click.Path(exists=True, path_type=Path))
@verification_options
@click.option(
    "--json", "as_json", is_flag=True, help=_("Print one JSON object for machines.")
)
def verify(record: Path, as_json: bool, **material: Any) -> None:
    from verifier.results import outcome
    from verifier.show import print_verification

    if as_json:
        with language("en"):  # JSON is never translated: its checks' details neither
            path, verdict = run_verification(record, show_progress=False, **material)
            found = outcome(verdict)
            click.echo(json.dumps(found.to_dict(), sort_keys=True, ensure_ascii=False))
    else:
        path, verdict = run_verification(record, show_progress=True, **material)
        found = outcome(verdict)
        print_verification(path, found)
    if verdict.failed:
        raise SystemExit(1)


@click.command(
    name="results",
    help=_(
        "The verified results of an election record. The record is verified first, as "
        "`ivote verify` does (same options); a record whose checks fail, or do not establish "
        "the results, is refused with the checks named, and nothing is printed or written."
    ),
)
@click.argument("record", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help=_(
        "table: for people in a terminal; csv and json: for machines (docs/spec.md, "
        '"Results"); html: one self-contained report file.'
    ),
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help=_("Write to this file (atomically) instead of the standard output."),
)
@verification_options
def results(record: Path, output_format: str, out: Path | None, **material: Any) -> None:
    from verifier import show
    from verifier.results import outcome

    if out is not None:
        if out.is_dir():
            raise click.ClickException(_("--out {path} is a directory").format(path=out))
        if not out.parent.is_dir():
            raise click.ClickException(
                _("--out {path}: the folder {folder} does not exist").format(
                    path=out, folder=out.parent
                )
            )
    path, verdict = run_verification(
        record, show_progress=output_format == "table" and sys.stderr.isatty(), **material
    )
    found = outcome(verdict)
    if found.results is None:
        raise click.ClickException(found.refusal())
    if output_format == "table" and out is None:
        show.print_results_table(found)
        return
    if output_format == "table":
        text = show.results_table_text(found)
    elif output_format == "csv":
        text = show.results_csv(found.results)
    elif output_format == "json":
        text = json.dumps(found.results.to_dict(), indent=2, ensure_ascii=False) + "\n"
    else:
        from verifier.report import render_report

        text = render_report(path, found)
    if out is None:
        click.echo(text, nl=False)
        return
    from canonical.files import write_atomic

    try:
        write_atomic(out, text.encode("utf-8"))
    except OSError as exc:
        raise click.ClickException(
            _("cannot write {path}: {reason}").format(path=out, reason=exc.strerror)
        ) from exc
    click.echo(_("Results written to {path}").format(path=out), err=True)
