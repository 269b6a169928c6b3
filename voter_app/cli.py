"""`ivote vote`: cast (and revote), audit, check a vote from a second device, the local page."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from canonical.encoding import FormatError
from crypto.errors import CryptoError
from ivote.cli_support import allow_test_key_option

F = TypeVar("F", bound=Callable[..., Any])


def _latest_counts() -> str:
    from voter_app.voting import LATEST_COUNTS_TEXT  # lazily: --help needs no crypto stack

    return LATEST_COUNTS_TEXT


def _clean_errors(command: F) -> F:
    """The project's errors become one line and exit status 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from crypto.eid import WrongPin
        from voter_app.code import CodeError
        from voter_app.transport import VoterAppError

        try:
            return command(*args, **kwargs)
        except WrongPin as exc:
            raise click.ClickException(
                f"wrong PIN for {exc.field}: nothing was sent; try again (a card locks after "
                "a few wrong PINs)"
            ) from exc
        except (VoterAppError, CodeError, FormatError, CryptoError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


def _client(collector: str, retries: int) -> Any:
    from voter_app.transport import CollectorClient, RetryPolicy

    def on_retry(attempt: int, problem: str) -> None:
        click.echo(
            f"collector not answering ({problem}); retrying (attempt {attempt + 1})", err=True
        )

    return CollectorClient(collector, RetryPolicy(attempts=retries), on_retry=on_retry)


def _confirm_fingerprint(manifest: Any) -> bool:
    """First contact without --fingerprint: the voter compares it with the published one."""
    if not sys.stdin.isatty():
        return False
    click.echo(f"Election: {manifest.name} ({manifest.election_id})")
    click.echo(f"Fingerprint: {manifest.fingerprint_groups}")
    return click.confirm(
        "Is this exactly the fingerprint the election officials published?", default=False
    )


def _read_pin(pin_file: Path | None) -> str:
    if pin_file is not None:
        try:
            return pin_file.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            raise click.ClickException(f"{pin_file}: cannot read a PIN from it") from exc
    return click.prompt("e-ID PIN", hide_input=True)


def _show_candidates(election: Any, district: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for contest in district.contests:
        table = Table(title=f"{contest.name} — {district.name}")
        table.add_column("Number", justify="right")
        table.add_column("Candidate")
        table.add_column("Party")
        for candidate in contest.candidates:
            table.add_row(str(candidate.number), candidate.name, candidate.party or "independent")
        console.print(table)


def _choose_district(election: Any, district_id: str | None) -> Any:
    districts = election.manifest.districts
    if district_id is not None:
        return election.district(district_id)
    if len(districts) == 1:
        return districts[0]
    # The voter list is not public, so the app cannot look the district up; the collector
    # refuses a ballot for the wrong district (wrong_district) and the voter chooses again.
    for district in districts:
        click.echo(f"  {district.id}: {district.name}")
    if not sys.stdin.isatty():
        raise click.ClickException("several districts: say which is yours with --district ID")
    chosen = click.prompt(
        "Your district", type=click.Choice([d.id for d in districts]), show_choices=False
    )
    return election.district(chosen)


def _choices(district: Any, given: tuple[str, ...]) -> dict[str, int]:
    from voter_app.voting import resolve_choice

    contests = district.contests
    by_contest: dict[str, str] = {}
    for item in given:
        if "=" in item and len(contests) > 1:
            contest_id, _, text = item.partition("=")
            if contest_id not in {c.id for c in contests}:
                raise click.ClickException(f"{district.name} has no contest {contest_id!r}")
            by_contest[contest_id] = text
        elif len(contests) == 1:
            by_contest[contests[0].id] = item
        else:
            raise click.ClickException("several contests: give each choice as CONTEST=CANDIDATE")
    choices = {}
    for contest in contests:
        text = by_contest.get(contest.id)
        if text is None:
            if not sys.stdin.isatty():
                raise click.ClickException(f"no choice given for {contest.name}: use --choice")
            text = click.prompt(f"{contest.name}: candidate number or name")
        choices[contest.id] = resolve_choice(contest, text)
    return choices


@click.group(name="vote")
def vote() -> None:
    """Voters: cast, revote, audit and check a ballot."""


_COMMON = [
    click.option("--collector", required=True, help="The collector's URL, e.g. https://..."),
    click.option(
        "--fingerprint",
        help="The election fingerprint the officials published (hex; spaces allowed). "
        "Without it, the one you confirmed on first use is required.",
    ),
    click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Where sealed receipts and pinned fingerprints live (default ~/.local/share/ivote).",
    ),
    click.option(
        "--retries",
        type=click.IntRange(1, 20),
        default=6,
        show_default=True,
        help="Attempts per request when the collector does not answer.",
    ),
]


def _common(command: F) -> F:
    for option in reversed(_COMMON):
        command = option(command)
    return command


@vote.command(name="cast")
@_common
@click.option("--eid", "eid_spec", help="Your e-ID: a PKCS#12 file or a pkcs11: URI.")
@click.option(
    "--choice",
    "choice",
    multiple=True,
    help="Candidate number or name (CONTEST=... when there are several contests).",
)
@click.option("--district", help="Your district id (asked when the election has several).")
@click.option(
    "--pin-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the PIN from this file instead of asking (automation).",
)
@click.option(
    "--qr-png",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the check code's QR code to this PNG file.",
)
@click.option(
    "--organiser-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The organiser's certificate (PEM), if the officials published it.",
)
@click.option(
    "--audit",
    is_flag=True,
    help="Prepare a ballot and reveal its contents instead of casting it (Benaloh).",
)
@click.option(
    "--audit-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where --audit writes the revealed ballot (for `ivote vote verify-audit`).",
)
@allow_test_key_option
@_clean_errors
def cast(
    collector: str,
    fingerprint: str | None,
    data_dir: Path | None,
    retries: int,
    eid_spec: str | None,
    choice: tuple[str, ...],
    district: str | None,
    pin_file: Path | None,
    qr_png: Path | None,
    organiser_cert: Path | None,
    audit: bool,
    audit_out: Path | None,
    allow_test_key: bool,
) -> None:
    """Cast a ballot (casting again is revoting: only the latest ballot counts)."""
    from voter_app.eid import open_eid
    from voter_app.store import VoterStore
    from voter_app.voting import (
        audit_document,
        cast_ballot,
        check_own_certificate,
        fetch_election,
        prepare_ballot,
    )

    store = VoterStore(data_dir)
    with _client(collector, retries) as client, contextlib.ExitStack() as closing:
        election = fetch_election(
            client,
            store,
            fingerprint=fingerprint,
            organiser_certificate=organiser_cert.read_bytes() if organiser_cert else None,
            confirm=_confirm_fingerprint,
            allow_test_key=allow_test_key,
        )
        manifest = election.manifest
        click.echo(f"Election: {manifest.name} ({manifest.election_id})")
        if manifest.test_election:
            click.echo(f"This is a TEST election: {manifest.test_election}.", err=True)
        click.echo(f"Fingerprint checked: {election.fingerprint}")
        signer = pin = None
        if not audit:
            election.require_open()
            if not eid_spec:
                raise click.ClickException("give your e-ID with --eid FILE or --eid pkcs11:...")
            pin = _read_pin(pin_file)
            signer = open_eid(eid_spec, pin)
            # a token session stays open until the ballot is signed, then closes with us
            closing.callback(getattr(signer, "close", lambda: None))
            identity = check_own_certificate(election, signer.certificate)
            click.echo(
                f"Voter: {identity.given_name} {identity.surname} ({identity.personal_code})"
            )
        the_district = _choose_district(election, district)
        if not choice:
            _show_candidates(election, the_district)
        choices = _choices(the_district, choice)
        prepared = prepare_ballot(client, election, the_district.id, choices)
        click.echo(f"Encrypted ballot prepared; its hash: {prepared.payload_hash.hex()}")
        if audit:
            _print_audit(prepared, audit_document(prepared), audit_out)
            return
        assert signer is not None and pin is not None
        result = cast_ballot(client, prepared, signer, store, pin)
    _print_receipt(election, the_district, choices, result, qr_png)


def _print_audit(prepared: Any, document: dict[str, Any], out: Path | None) -> None:
    from canonical.encoding import canonical_bytes
    from canonical.files import write_atomic
    from voter_app.voting import describe

    district = prepared.election.district(prepared.district)
    click.echo("AUDIT: this ballot was NOT cast and never will be (its randomness is revealed).")
    for contest in district.contests:
        click.echo(f"  {contest.name}: encodes {describe(contest, prepared.choices[contest.id])}")
    for contest_id, values in document["randomness"].items():
        click.echo(f"  randomness {contest_id}: {', '.join(values)}")
    if out is not None:
        write_atomic(out, canonical_bytes(document) + b"\n")
        click.echo(f"Audit data written to {out}; check it on another device with")
        click.echo(f"  ivote vote verify-audit {out} --collector URL")
    click.echo("Run `ivote vote cast` again to prepare a new ballot and cast it.")


def _print_receipt(
    election: Any, district: Any, choices: dict[str, int], result: Any, qr_png: Path | None
) -> None:
    from voter_app.qr import qr_terminal, write_qr_png
    from voter_app.voting import describe

    received = dt.datetime.fromtimestamp(result.receipt.received / 1000, dt.UTC)
    click.echo(
        "Your ballot was received and its receipt checked (collector signature, log "
        "inclusion proof against the signed log head)."
    )
    for contest in district.contests:
        click.echo(f"  {contest.name}: {describe(contest, choices[contest.id])}")
    click.echo(f"  ballot hash:   {result.ballot_hash.hex()}")
    click.echo(f"  log index:     {result.receipt.log_index} of {result.receipt.head.size}")
    click.echo(f"  received:      {received.isoformat(timespec='seconds')}")
    click.echo(f"  verification code: {result.verification_code}")
    click.echo(
        "Check your vote on a second device within "
        f"{election.manifest.policy.vote_check_window_minutes} minutes "
        f"(at most {election.manifest.policy.max_checks} times): scan this QR code or run"
    )
    click.echo(f"  ivote vote check --collector URL --code {result.check_code.text}")
    click.echo(qr_terminal(result.check_code.text))
    if qr_png is not None:
        write_qr_png(qr_png, result.check_code.text)
        click.echo(f"QR code written to {qr_png}")
    if result.record_path:
        click.echo(f"Receipt and randomness saved, sealed under your PIN: {result.record_path}")
    click.echo(_latest_counts())


@vote.command(name="check")
@click.option("--code", required=True, help="The check code (QR content) the voting app showed.")
@_common
@allow_test_key_option
@_clean_errors
def check(
    collector: str,
    code: str,
    fingerprint: str | None,
    data_dir: Path | None,
    retries: int,
    allow_test_key: bool,
) -> None:
    """On a second device: show which candidates your stored ballot holds, when it was
    received and whether it is your latest ballot."""
    from i18n import _, format_datetime
    from voter_app.check import check_vote
    from voter_app.code import CheckCode
    from voter_app.store import VoterStore
    from voter_app.voting import describe, fetch_election

    parsed = CheckCode.parse(code)  # a typing mistake is refused before anything is fetched
    with _client(collector, retries) as client:
        election = fetch_election(
            client,
            VoterStore(data_dir),
            fingerprint=fingerprint,
            confirm=_confirm_fingerprint,
            allow_test_key=allow_test_key,
        )
        result = check_vote(client, election, parsed)
    manifest = result.election.manifest
    voter = result.voter
    click.echo(
        _("Election: {name} ({election_id}), district {district}").format(
            name=manifest.name, election_id=manifest.election_id, district=result.district.name
        )
    )
    if manifest.test_election:
        click.echo(
            _("This is a TEST election: {reason}.").format(reason=manifest.test_election),
            err=True,
        )
    click.echo(
        _("Signed by the e-ID of: {given_name} {surname} ({personal_code})").format(
            given_name=voter.given_name, surname=voter.surname, personal_code=voter.personal_code
        )
    )
    click.echo(
        _("Received: {time}, log index {index} (inclusion in the signed log checked)").format(
            time=format_datetime(result.received), index=result.receipt.log_index
        )
    )
    for contest in result.district.contests:
        click.echo(
            _("Your ballot in {contest}: {candidate}").format(
                contest=contest.name, candidate=describe(contest, result.choices[contest.id])
            )
        )
    click.echo(
        _("Verification code: {code} (the same as your voting app showed)").format(
            code=result.verification_code
        )
    )
    if result.newer is None:
        click.echo(
            _(
                "This is your latest ballot: it is the one that counts now (the collector's "
                "signed statement, when its log held {size} ballots)."
            ).format(size=result.latest.log_size)
        )
    else:
        newer = dt.datetime.fromtimestamp(result.newer.received / 1000, dt.UTC)
        click.echo(
            _(
                "This is NOT your latest ballot: a newer ballot signed with your e-ID, received "
                "{time} (log index {index}), replaced it and counts instead. If you did not "
                "cast it, tell the election officials."
            ).format(time=format_datetime(newer), index=result.newer.log_index)
        )


@vote.command(name="verify-audit")
@click.argument("audit_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--collector", required=True, help="The collector whose manifest to use.")
@click.option("--retries", type=click.IntRange(1, 20), default=6, show_default=True)
@allow_test_key_option
@_clean_errors
def verify_audit_command(
    audit_file: Path, collector: str, retries: int, allow_test_key: bool
) -> None:
    """Check an audited ballot: its ciphertexts re-encrypt from the revealed randomness."""
    from canonical.encoding import parse_b64url, require
    from canonical.files import read_json_file
    from voter_app.voting import describe, fetch_election, verify_audit

    document = read_json_file(audit_file, str(audit_file))
    payload = require(document, "payload", dict, "audit")
    manifest_hash = parse_b64url(
        require(payload, "manifest_hash", str, "audit.payload"), "audit.payload.manifest_hash"
    )
    with _client(collector, retries) as client:
        election = fetch_election(
            client, fingerprint=manifest_hash, allow_test_key=allow_test_key
        )
    result = verify_audit(election.manifest, document)
    click.echo(
        f"Audit verified: ballot {result.payload_hash.hex()} re-encrypts exactly from the "
        "revealed randomness, and its proofs are valid."
    )
    for contest in result.district.contests:
        click.echo(f"  {contest.name}: {describe(contest, result.choices[contest.id])}")
    click.echo("Compare the hash with the one the voting app showed before you chose to audit.")


@vote.command(name="receipts")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--pin-file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--export",
    "export_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write each signed receipt to DIR/<ballot hash>.json, to hand to observers "
    "(`ivote verify RECORD --receipts DIR`). A receipt reveals neither your choice nor your "
    "identity.",
)
@_clean_errors
def receipts(data_dir: Path | None, pin_file: Path | None, export_dir: Path | None) -> None:
    """List the ballots this computer cast (opens the sealed records with your PIN)."""
    from canonical.files import write_canonical_json
    from crypto.errors import SealError
    from voter_app.store import VoterStore

    store = VoterStore(data_dir)
    paths = store.record_paths()
    if not paths:
        click.echo(f"No ballots recorded in {store.root}.")
        return
    pin = _read_pin(pin_file)
    for path in paths:
        try:
            record = store.load_record(path, pin)
        except SealError:
            click.echo(f"{path.name}: sealed under another PIN")
            continue
        receipt = record.get("receipt", {}).get("payload", {})
        status = record["status"]
        line = f"{path.name[:16]}  {record['election_id']}  {record['district']}  {status}"
        if "log_index" in receipt:
            line += f"  log index {receipt['log_index']}"
        click.echo(line)
        if "check_code" in record:
            click.echo(f"  check code: {record['check_code']}")
        if export_dir is not None and "receipt" in record:
            target = export_dir / f"{path.name.split('.')[0]}.json"
            write_canonical_json(target, record["receipt"])
            click.echo(f"  receipt written to {target}")
    click.echo(_latest_counts())


@vote.command(name="verify-receipt")
@click.option(
    "--record",
    "record_path",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="The published election record (a record directory or its record.json).",
)
@click.option(
    "--receipt",
    "receipt_files",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A signed receipt file (default: every receipt this computer stored).",
)
@click.option("--fingerprint", help="The manifest fingerprint the officials published.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--pin-file", type=click.Path(dir_okay=False, path_type=Path))
@allow_test_key_option
@_clean_errors
def verify_receipt_command(
    record_path: Path,
    receipt_files: tuple[Path, ...],
    fingerprint: str | None,
    data_dir: Path | None,
    pin_file: Path | None,
    allow_test_key: bool,
) -> None:
    """Check that your ballots are in the final log of the published record: each receipt's
    ballot at its index, and the log the receipt showed kept whole in the final one."""
    from canonical.files import read_json_file
    from formats.ballot import verification_code
    from formats.record import RECORD_FILE, TALLY_FILE
    from voter_app.store import VoterStore
    from voter_app.voting import (
        RECEIPT_EVIDENCE_TEXT,
        open_published_log,
        stored_receipts,
        verify_receipt,
    )

    path = record_path
    if record_path.is_dir():
        named = record_path / RECORD_FILE
        path = named if named.exists() else record_path / TALLY_FILE
    published = open_published_log(read_json_file(path, "record"), fingerprint, allow_test_key)
    manifest = published.manifest
    receipts: list[tuple[str, Any]] = []
    if receipt_files:
        receipts = [(p.name, read_json_file(p, p.name)) for p in receipt_files]
    else:
        store = VoterStore(data_dir)
        pin = _read_pin(pin_file) if store.record_paths() else ""
        receipts, skipped = stored_receipts(store, pin, manifest)
        for name in skipped:
            click.echo(f"{name}: sealed under another PIN; skipped", err=True)
        if not receipts:
            raise click.ClickException(
                f"no receipt of election {manifest.election_id} in {store.root}: give "
                "--receipt FILE"
            )
    click.echo(
        f"Election {manifest.election_id}, manifest fingerprint {manifest.fingerprint}; final "
        f"log of {published.head.size} ballots."
    )
    failed = 0
    for verdict in (verify_receipt(published, name, doc) for name, doc in receipts):
        if verdict.problem is None:
            assert verdict.ballot_hash is not None
            click.echo(
                f"OK  ballot {verification_code(verdict.ballot_hash)} is in the final log at "
                f"index {verdict.log_index}."
            )
            continue
        failed += 1
        ballot = verification_code(verdict.ballot_hash) if verdict.ballot_hash else verdict.name
        click.echo(f"PROBLEM  ballot {ballot}: {verdict.problem}")
        if verdict.evidence:
            click.echo(f"  {RECEIPT_EVIDENCE_TEXT}")
    if failed:
        raise SystemExit(1)


@vote.command(name="app")
@click.option("--collector", required=True, help="The collector's URL.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8421,
    show_default=True,
    help="Port on 127.0.0.1 (0: any free port).",
)
@click.option("--fingerprint", help="The election fingerprint the officials published.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--retries", type=click.IntRange(1, 20), default=6, show_default=True)
@allow_test_key_option
@_clean_errors
def app(
    collector: str,
    port: int,
    fingerprint: str | None,
    data_dir: Path | None,
    retries: int,
    allow_test_key: bool,
) -> None:
    """Serve the voting page on 127.0.0.1 only, and print its address."""
    from voter_app.web import serve

    serve(collector, port, fingerprint, data_dir, retries, allow_test_key)
