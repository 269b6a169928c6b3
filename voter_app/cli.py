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
from i18n import _, format_datetime
from ivote.cli_support import allow_test_key_option

F = TypeVar("F", bound=Callable[..., Any])


def _latest_counts() -> str:
    from voter_app.voting import LATEST_COUNTS_TEXT  # lazily: --help needs no crypto stack

    return _(LATEST_COUNTS_TEXT)


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
                _(
                    "wrong PIN for {what}: nothing was sent; try again (a card locks after a "
                    "few wrong PINs)"
                ).format(what=exc.field)
            ) from exc
        except (VoterAppError, CodeError, FormatError, CryptoError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


def _client(collector: str, retries: int) -> Any:
    from voter_app.transport import CollectorClient, RetryPolicy

    def on_retry(attempt: int, problem: str) -> None:
        click.echo(
            _("collector not answering ({problem}); retrying (attempt {attempt})").format(
                problem=problem, attempt=attempt + 1
            ),
            err=True,
        )

    return CollectorClient(collector, RetryPolicy(attempts=retries), on_retry=on_retry)


def _confirm_fingerprint(manifest: Any) -> bool:
    """First contact without --fingerprint: the voter compares it with the published one."""
    if not sys.stdin.isatty():
        return False
    click.echo(
        _("Election: {name} ({election_id})").format(
            name=manifest.name, election_id=manifest.election_id
        )
    )
    click.echo(_("Fingerprint: {fingerprint}").format(fingerprint=manifest.fingerprint_groups))
    return click.confirm(
        _("Is this exactly the fingerprint the election officials published?"), default=False
    )


def _read_pin(pin_file: Path | None) -> str:
    if pin_file is not None:
        try:
            return pin_file.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            raise click.ClickException(
                _("{path}: cannot read a PIN from it").format(path=pin_file)
            ) from exc
    return click.prompt(_("e-ID PIN"), hide_input=True)


def _show_candidates(district: Any) -> None:
    """Each contest of the ballot as a table, in ballot order: a referendum's question above
    its answers; candidates with their parties (a list of parties, or answers, by number and
    name only); the "vote no" box last, set apart from the others as on the paper ballot."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from formats.manifest import VOTE_NO

    console = Console()
    for contest in district.contests:
        # a national contest (the party list, a referendum) is the same in every district
        title = str(contest.name) if contest.national else f"{contest.name} — {district.name}"
        table = Table(title=Text(title))
        table.add_column(_("Number"), justify="right")
        with_party = any(candidate.party for candidate in contest.candidates)
        if contest.is_referendum:
            table.add_column(_("Answer"))
        elif with_party:
            table.add_column(_("Candidate"))
            table.add_column(_("Party"))
        else:
            table.add_column(_("Name"))
        for candidate in contest.candidates:
            row = [str(candidate.number), str(candidate.name)]
            if with_party and not contest.is_referendum:
                row.append(str(candidate.party) or _("independent"))
            table.add_row(*map(Text, row))  # names are text, never rich markup
        if contest.vote_no:
            table.add_section()
            table.add_row(
                str(VOTE_NO), _("{label} (type 0 or no)").format(label=contest.options[-1].name)
            )
        if contest.is_referendum:  # the question, before the answers
            question = _("Referendum question: {question}").format(question=contest.question)
            console.print(Text(question))
        console.print(table)
        if contest.choose_several:  # under its table: how many the voter may mark
            console.print(Text(contest.rule or ""))


def _choices(district: Any, given: tuple[str, ...]) -> dict[str, Any]:
    from voter_app.marks import resolve_marks
    from voter_app.voting import resolve_choice

    contests = district.contests
    by_contest: dict[str, str] = {}
    for item in given:
        if len(contests) == 1:
            # CONTEST=... is understood for a single contest too
            contest_id, text = contests[0].id, item.removeprefix(f"{contests[0].id}=")
        elif "=" in item:
            contest_id, _equals, text = item.partition("=")
            if contest_id not in {c.id for c in contests}:
                raise click.ClickException(
                    _("{district} has no contest {contest!r}; its contests are {known}").format(
                        district=district.name,
                        contest=contest_id,
                        known=", ".join(c.id for c in contests),
                    )
                )
        else:
            raise click.ClickException(
                _("several contests: give each choice as CONTEST=CANDIDATE ({known})").format(
                    known=", ".join(c.id for c in contests)
                )
            )
        several = any(c.id == contest_id and c.choose_several for c in contests)
        if several and contest_id in by_contest:  # marks given in several --choice
            text = f"{by_contest[contest_id]},{text}"
        by_contest[contest_id] = text
    choices = {}
    for contest in contests:
        text = by_contest.get(contest.id)
        if text is None:
            if not sys.stdin.isatty():
                raise click.ClickException(
                    _("no choice given for {contest}: use --choice").format(contest=contest.name)
                )
            choices[contest.id] = (
                _ask_marks(contest) if contest.choose_several else _ask_choice(contest)
            )
            continue
        resolve = resolve_marks if contest.choose_several else resolve_choice
        choices[contest.id] = resolve(contest, text)
    return choices


def _ask_choice(contest: Any) -> int:
    """Ask on the terminal until the answer names a choice of the contest."""
    from voter_app.transport import VoterAppError
    from voter_app.voting import resolve_choice

    prompt = (
        _("{contest}: number or name, or 0 to vote no")
        if contest.vote_no
        else _("{contest}: number or name")
    ).format(contest=contest.name)
    while True:
        try:
            return resolve_choice(contest, click.prompt(prompt))
        except VoterAppError as exc:
            click.echo(str(exc), err=True)


def _ask_marks(contest: Any) -> frozenset[int]:
    """Ask on the terminal for a choose-several contest's marks: each answer adds numbers or
    names (commas between them), the prompt says how many more may be marked, "none" clears
    the marks, Enter ends (asking again while too few are marked). A bad answer is one line
    and changes nothing."""
    from voter_app.marks import in_ballot_order, is_blank_answer, marks_problem, resolve_marks
    from voter_app.transport import VoterAppError
    from voter_app.voting import describe

    marked: list[int] = []
    while True:
        left = contest.max_marks - len(marked)
        prompt = _(
            "{contest}: numbers or names, commas between them ({left} more may be marked; "
            "Enter when done)"
        ).format(contest=contest.name, left=left)
        answer = click.prompt(prompt, default="", show_default=False)
        if not answer.strip():
            problem = marks_problem(contest, len(marked))
            if problem is None:
                return frozenset(marked)
            click.echo(problem, err=True)
            continue
        if is_blank_answer(answer):
            marked.clear()
            click.echo(_("{contest}: no candidate marked.").format(contest=contest.name))
            continue
        try:
            new = resolve_marks(contest, answer, check_bounds=False)
            again = [n for n in in_ballot_order(contest, new) if n in marked]
            if again:
                raise VoterAppError(
                    _("{contest}: {candidate} is marked already.").format(
                        contest=contest.name, candidate=describe(contest, again[0])
                    )
                )
            total = len(marked) + len(new)
            if total > contest.max_marks:
                raise VoterAppError(marks_problem(contest, total) or "")
        except VoterAppError as exc:
            click.echo(str(exc), err=True)
            continue
        marked = in_ballot_order(contest, [*marked, *new])
        click.echo(
            _("{contest}, marked: {marks}").format(
                contest=contest.name, marks=describe(contest, frozenset(marked))
            )
        )


@click.group(name="vote")
def vote() -> None:
    """Voters: cast, revote, audit and check a ballot."""


_DATA_DIR = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help=_("Where sealed receipts and pinned fingerprints live (default ~/.local/share/ivote)."),
)
_PIN_FILE = click.option(
    "--pin-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=_("Read the PIN from this file instead of asking (automation)."),
)
_RETRIES = click.option(
    "--retries",
    type=click.IntRange(1, 20),
    default=6,
    show_default=True,
    help=_("Attempts per request when the collector does not answer."),
)
_COMMON = [
    click.option("--collector", required=True, help=_("The collector's URL, e.g. https://...")),
    click.option(
        "--fingerprint",
        help=_(
            "The election fingerprint the officials published (hex; spaces allowed). Without "
            "it, the one you confirmed on first use is required."
        ),
    ),
    _DATA_DIR,
    _RETRIES,
]


def _common(command: F) -> F:
    for option in reversed(_COMMON):
        command = option(command)
    return command


@vote.command(
    name="cast",
    help=_(
        "Cast a ballot (casting again is revoting: only the latest ballot counts). Opens your "
        "e-ID, asks the collector for your district, shows its candidates, encrypts your "
        "choices and shows the encrypted ballot's hash; then you cast it, audit it (it is "
        "shown and never cast) or quit."
    ),
)
@_common
@click.option("--eid", "eid_spec", help=_("Your e-ID: a PKCS#12 file or a pkcs11: URI."))
@click.option(
    "--choice",
    "choice",
    multiple=True,
    help=_(
        "A choice: the number or name (0 or no: vote no, where the contest has that box); "
        "CONTEST=... when there are several contests. A choose-several contest takes numbers "
        "or names separated by commas (CONTEST=11,13); empty, none or blank for no mark, "
        "where the contest allows it."
    ),
)
@_PIN_FILE
@click.option(
    "--yes",
    is_flag=True,
    help=_("Cast without asking Cast / Audit / Quit (for scripts; needed without a terminal)."),
)
@click.option(
    "--audit",
    is_flag=True,
    help=_("Answer Audit instead of asking (for scripts): the ballot is shown and never cast."),
)
@click.option(
    "--audit-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help=_("Where an audit writes the revealed ballot (default: DATA/audits/<hash>.json)."),
)
@click.option(
    "--qr-png",
    type=click.Path(dir_okay=False, path_type=Path),
    help=_("Also write the check code's QR code to this PNG file."),
)
@click.option(
    "--organiser-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=_("The organiser's certificate (PEM), if the officials published it."),
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
    pin_file: Path | None,
    yes: bool,
    audit: bool,
    audit_out: Path | None,
    qr_png: Path | None,
    organiser_cert: Path | None,
    allow_test_key: bool,
) -> None:
    """Cast a ballot (casting again is revoting: only the latest ballot counts).

    Opens your e-ID, asks the collector for your district, shows its candidates, encrypts
    your choices and shows the encrypted ballot's hash; then you cast it, audit it (it is
    shown and never cast) or quit."""
    from voter_app.eid import open_eid
    from voter_app.store import VoterStore
    from voter_app.voting import (
        KEY_CHECK_TEXT,
        cast_ballot,
        check_eligibility,
        check_key_proofs,
        fetch_election,
        prepare_ballot,
    )

    if yes and audit:
        raise click.ClickException(_("give --yes (cast) or --audit (audit), not both"))
    if not (yes or audit) and not sys.stdin.isatty():
        raise click.ClickException(
            _(
                "there is no terminal to ask whether to cast the ballot: pass --yes to cast "
                "without asking (or --audit to audit)"
            )
        )
    if not eid_spec:
        raise click.ClickException(_("give your e-ID with --eid FILE or --eid pkcs11:..."))
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
        click.echo(
            _("Election: {name} ({election_id})").format(
                name=manifest.name, election_id=manifest.election_id
            )
        )
        if manifest.test_election:
            click.echo(
                _("This is a TEST election: {reason}.").format(reason=manifest.test_election),
                err=True,
            )
        click.echo(_("Fingerprint checked: {fingerprint}").format(fingerprint=election.fingerprint))
        # this computer's clock first: no PIN is asked for an election that is not open
        _refuse_unless_open(election, election.status())
        # the key's proofs before the PIN: no ballot is made under a key not proven well formed
        # (once per election: the store remembers a check that passed)
        election = check_key_proofs(
            client, election, store, checking=lambda: click.echo(_(KEY_CHECK_TEXT))
        )
        pin = _read_pin(pin_file)
        signer = open_eid(eid_spec, pin)
        # a token session stays open until the ballot is signed, then closes with us
        closing.callback(getattr(signer, "close", lambda: None))
        eligibility = check_eligibility(client, election, signer)
        voter = eligibility.voter
        district = eligibility.district
        click.echo(
            _("Voter: {given} {surname} ({code})").format(
                given=voter.given_name, surname=voter.surname, code=voter.personal_code
            )
        )
        click.echo(_("Your district: {district}").format(district=district.name))
        _refuse_unless_open(election, eligibility.status)  # the collector's word
        if eligibility.has_ballot:
            click.echo(
                _(
                    "You have voted before in this election: a new ballot replaces the earlier "
                    "one."
                )
            )
        while True:
            if not choice:
                _show_candidates(district)
            choices = _choices(district, choice)
            _print_choices(district, choices, _("Your choices:"))
            prepared = prepare_ballot(client, election, district.id, choices, store)
            _print_commitment(prepared.payload_hash)
            decision = "cast" if yes else "audit" if audit else _ask_decision()
            if decision == "quit":
                click.echo(_("Nothing was cast. Run `ivote vote cast` again to vote."))
                return
            if decision == "audit":
                _print_audit(prepared, store, audit_out)
                audit_out = None  # a later audit of this run must not overwrite this one
                if audit or not click.confirm(_("Make a new ballot now?"), default=True):
                    click.echo(_("Run `ivote vote cast` again to make a new ballot and cast it."))
                    return
                continue
            result = cast_ballot(client, prepared, signer, store, pin)
            break
    _print_receipt(
        election, district, choices, prepared.payload_hash, result, qr_png, client.base_url
    )


def _refuse_unless_open(election: Any, status: str) -> None:
    message = election.status_message(status)
    if message is not None:
        raise click.ClickException(message)


def _print_choices(district: Any, choices: dict[str, Any], title: str) -> None:
    from voter_app.voting import describe

    click.echo(title)
    for contest in district.contests:
        click.echo(
            _("  {contest}: {candidate}").format(
                contest=contest.name, candidate=describe(contest, choices[contest.id])
            )
        )


def _grouped(digest: bytes) -> str:
    from formats.manifest import grouped_fingerprint

    return grouped_fingerprint(digest)


def _print_commitment(payload_hash: bytes) -> None:
    """Benaloh's order: the encrypted ballot's hash is shown before the voter decides."""
    click.echo(_("Your ballot is encrypted. The encrypted ballot's hash:"))
    click.echo(f"  {_grouped(payload_hash)}")
    click.echo(
        _(
            "Note it: an audit shows this same hash, and so does your receipt if you cast this "
            "ballot."
        )
    )


def _ask_decision() -> str:
    answer = click.prompt(
        _(
            "Cast this ballot (c), audit it (a: it is shown to you and never cast) or quit "
            "(q)?"
        ),
        type=click.Choice(["c", "a", "q"], case_sensitive=False),
        show_choices=False,
    )
    return {"c": "cast", "a": "audit", "q": "quit"}[answer.lower()]


def _print_audit(prepared: Any, store: Any, out: Path | None) -> None:
    from canonical.encoding import canonical_bytes
    from canonical.files import write_atomic
    from voter_app.voting import audit_document, describe

    document = audit_document(prepared)
    district = prepared.election.district(prepared.district)
    click.echo(
        _("AUDIT: this ballot was NOT cast and never will be (its randomness is revealed).")
    )
    click.echo(_("Encrypted ballot {hash} holds:").format(hash=_grouped(prepared.payload_hash)))
    for contest in district.contests:
        click.echo(
            _("  {contest}: encodes {candidate}").format(
                contest=contest.name, candidate=describe(contest, prepared.choices[contest.id])
            )
        )
    path = out or store.root / "audits" / f"{prepared.payload_hash.hex()}.json"
    try:
        if out is None:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(path, canonical_bytes(document) + b"\n")
    except OSError as exc:
        raise click.ClickException(
            _("{path}: cannot write the audit there ({problem}); the ballot was not cast").format(
                path=path, problem=exc.strerror or exc
            )
        ) from exc
    click.echo(_("Audit data written to {path}; check it on another device with").format(path=path))
    click.echo(f"  ivote vote verify-audit {path} --collector URL")


def _print_receipt(
    election: Any,
    district: Any,
    choices: dict[str, Any],
    payload_hash: bytes,
    result: Any,
    qr_png: Path | None,
    collector_url: str,
) -> None:
    from voter_app.qr import qr_terminal, write_qr_png

    received = dt.datetime.fromtimestamp(result.receipt.received / 1000, dt.UTC)
    click.echo(
        _(
            "Your ballot was received and its receipt checked (collector signature, log "
            "inclusion proof against the signed log head)."
        )
    )
    _print_choices(district, choices, _("Your ballot:"))
    click.echo(_("  encrypted ballot: {hash}").format(hash=_grouped(payload_hash)))
    click.echo(
        _("  log index: {index} of {size}").format(
            index=result.receipt.log_index, size=result.receipt.head.size
        )
    )
    click.echo(_("  received: {time}").format(time=format_datetime(received)))
    click.echo(_("  verification code: {code}").format(code=result.verification_code))
    policy = election.manifest.policy
    click.echo(
        _(
            "Check your vote on a second device within {minutes} minutes (at most {checks} "
            "times): scan this QR code or run"
        ).format(minutes=policy.vote_check_window_minutes, checks=policy.max_checks)
    )
    # the second device trusts the election by its fingerprint, as this one did
    click.echo(
        f"  ivote vote check --collector {collector_url} "
        f"--fingerprint '{election.fingerprint}' --code {result.check_code.text}"
    )
    click.echo(qr_terminal(result.check_code.text))
    if qr_png is not None:
        write_qr_png(qr_png, result.check_code.text)
        click.echo(_("QR code written to {path}").format(path=qr_png))
    if result.record_path:
        click.echo(
            _("Receipt and randomness saved, sealed under your PIN: {path}").format(
                path=result.record_path
            )
        )
    click.echo(_latest_counts())


@vote.command(
    name="check",
    help=_(
        "On a second device: show which candidates your stored ballot holds, when it was "
        "received and whether it is your latest ballot."
    ),
)
@click.option("--code", required=True, help=_("The check code (QR content) the voting app showed."))
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


@vote.command(
    name="verify-audit",
    help=_(
        "Check an audited ballot: its ciphertexts re-encrypt from the revealed randomness."
    ),
)
@click.argument("audit_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--collector", required=True, help=_("The collector whose manifest to use."))
@_RETRIES
@allow_test_key_option
@_clean_errors
def verify_audit_command(
    audit_file: Path, collector: str, retries: int, allow_test_key: bool
) -> None:
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
        _(
            "Audit verified: encrypted ballot {hash} re-encrypts exactly from the revealed "
            "randomness, and its proofs are valid."
        ).format(hash=_grouped(result.payload_hash))
    )
    for contest in result.district.contests:
        click.echo(
            _("  {contest}: {candidate}").format(
                contest=contest.name, candidate=describe(contest, result.choices[contest.id])
            )
        )
    click.echo(
        _("Compare the hash with the one the voting app showed before you chose to audit.")
    )


@vote.command(
    name="receipts",
    help=_(
        "List the ballots this computer cast (opens the sealed records with your PIN): which "
        "were received, refused or left without an answer, and which one counts now."
    ),
)
@_DATA_DIR
@_PIN_FILE
@click.option(
    "--export",
    "export_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help=_(
        "Also write each signed receipt to DIR/<ballot hash>.json, to hand to observers "
        "(`ivote verify RECORD --receipts DIR`). A receipt reveals neither your choice nor your "
        "identity."
    ),
)
@_clean_errors
def receipts(data_dir: Path | None, pin_file: Path | None, export_dir: Path | None) -> None:
    """List the ballots this computer cast (opens the sealed records with your PIN): which
    were received, refused or left without an answer, and which one counts now."""
    from canonical.files import write_canonical_json
    from formats.ballot import verification_code
    from voter_app.store import VoterStore
    from voter_app.voting import refusal_advice, stored_ballots

    store = VoterStore(data_dir)
    paths = store.record_paths()
    if not paths:
        click.echo(_("No ballots recorded in {directory}.").format(directory=store.root))
        return
    pin = _read_pin(pin_file)
    ballots, skipped = stored_ballots(store, pin)
    if not ballots:
        raise click.ClickException(
            _(
                "wrong PIN: none of the {count} ballots recorded in {directory} opens with it. "
                "Give the PIN of the e-ID you voted with."
            ).format(count=len(skipped), directory=store.root)
        )
    for ballot in ballots:
        head = f"{verification_code(ballot.ballot_hash)}  {ballot.election_id}  {ballot.district}"
        if ballot.status == "received" and ballot.received is not None:
            received = dt.datetime.fromtimestamp(ballot.received / 1000, dt.UTC)
            line = _("{ballot}  received {time}, log index {index}").format(
                ballot=head, time=format_datetime(received), index=ballot.log_index
            )
            if ballot.counts_now:
                line += "  " + _("<- COUNTS NOW")
        elif ballot.status == "refused":
            reason = refusal_advice(ballot.refusal_code or "") or ballot.refusal_message or ""
            line = _("{ballot}  REFUSED by the collector: {reason} ({code})").format(
                ballot=head, reason=reason, code=ballot.refusal_code
            )
        else:
            line = _(
                "{ballot}  sent, no answer: it may or may not have arrived (cast again to be "
                "sure)"
            ).format(ballot=head)
        click.echo(line)
        if ballot.check_code:
            click.echo(_("  check code: {code}").format(code=ballot.check_code))
        if export_dir is not None and ballot.receipt is not None:
            target = export_dir / f"{ballot.ballot_hash.hex()}.json"
            write_canonical_json(target, ballot.receipt)
            click.echo(_("  receipt written to {path}").format(path=target))
    if skipped:
        click.echo(
            _("{count} more ballot records are sealed under another PIN (another e-ID).").format(
                count=len(skipped)
            )
        )
    if any(b.counts_now for b in ballots):
        click.echo(
            _(
                "COUNTS NOW marks the latest ballot of each election that this computer cast and "
                "the collector received; a ballot cast later from another device replaces it."
            )
        )
    click.echo(_latest_counts())


@vote.command(
    name="verify-receipt",
    help=_(
        "Check that your ballots are in the final log of the published record: each receipt's "
        "ballot at its index, and the log the receipt showed kept whole in the final one."
    ),
)
@click.option(
    "--record",
    "record_path",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help=_("The published election record (a record directory or its record.json)."),
)
@click.option(
    "--receipt",
    "receipt_files",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=_("A signed receipt file (default: every receipt this computer stored)."),
)
@click.option("--fingerprint", help=_("The manifest fingerprint the officials published."))
@_DATA_DIR
@_PIN_FILE
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
            click.echo(_("{name}: sealed under another PIN; skipped").format(name=name), err=True)
        if not receipts:
            raise click.ClickException(
                _(
                    "no receipt of election {election_id} in {directory}: give --receipt FILE"
                ).format(election_id=manifest.election_id, directory=store.root)
            )
    click.echo(
        _(
            "Election {election_id}, manifest fingerprint {fingerprint}; final log of {size} "
            "ballots."
        ).format(
            election_id=manifest.election_id,
            fingerprint=manifest.fingerprint,
            size=published.head.size,
        )
    )
    failed = 0
    for verdict in (verify_receipt(published, name, doc) for name, doc in receipts):
        if verdict.problem is None:
            assert verdict.ballot_hash is not None
            click.echo(
                _("OK  ballot {ballot} is in the final log at index {index}.").format(
                    ballot=verification_code(verdict.ballot_hash), index=verdict.log_index
                )
            )
            continue
        failed += 1
        ballot = verification_code(verdict.ballot_hash) if verdict.ballot_hash else verdict.name
        click.echo(
            _("PROBLEM  ballot {ballot}: {problem}").format(ballot=ballot, problem=verdict.problem)
        )
        if verdict.evidence:
            click.echo(f"  {_(RECEIPT_EVIDENCE_TEXT)}")
    if failed:
        raise SystemExit(1)


@vote.command(
    name="app",
    help=_(
        "Serve the voting page on 127.0.0.1 only, and print its address."
    ),
)
@click.option("--collector", required=True, help=_("The collector's URL."))
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8421,
    show_default=True,
    help=_("Port on 127.0.0.1 (0: any free port)."),
)
@click.option("--fingerprint", help=_("The election fingerprint the officials published."))
@_DATA_DIR
@_RETRIES
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
    from voter_app.web import serve

    serve(collector, port, fingerprint, data_dir, retries, allow_test_key)
