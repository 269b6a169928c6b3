"""`ivote ceremony pki`: the test CA, voters' e-IDs, revocation and CRLs, officials' keys,
and putting an e-ID on a PKCS#11 token. See ceremonies/pki.py for the files it writes."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from i18n import _, format_datetime
from ivote.cli_support import new_secret, open_with_secret

F = TypeVar("F", bound=Callable[..., Any])


def _clean_errors(command: F) -> F:
    """The project's errors become a one-line message and exit status 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from canonical.encoding import FormatError
        from ceremonies.pki import PkiError
        from crypto.errors import CryptoError

        try:
            return command(*args, **kwargs)
        except (FormatError, CryptoError, PkiError) as exc:
            raise click.ClickException(str(exc)) from exc
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(f"{where}{exc.strerror or exc}") from exc
        except KeyboardInterrupt:
            raise click.Abort() from None

    return wrapper  # type: ignore[return-value]


def _election_scheme(election: Path) -> str:
    """The personal-code scheme of an election directory: its signed manifest once keygen
    has run, the draft manifest before."""
    from formats.manifest import ElectionDirectory

    directory = ElectionDirectory(election)
    if directory.signed_manifest.exists():
        return directory.read_signed_manifest().personal_code_scheme
    return directory.read_manifest(check_key=False).personal_code_scheme


def _ca_signer(ca: Any, passphrase_file: Path | None, which: str) -> tuple[str, Any]:
    """The CA passphrase, checked at once by opening the CA key that will sign (`which`:
    "root" or "issuing"): a wrong one is refused before anything else is asked."""

    def opener(passphrase: str) -> tuple[str, Any]:
        signer = ca.root_signer if which == "root" else ca.issuing_signer
        return passphrase, signer(passphrase)

    return open_with_secret(
        passphrase_file, _("CA passphrase"), _("the CA passphrase"), opener
    )


def _time(text: str | None, option: str) -> dt.datetime | None:
    if text is None:
        return None
    from canonical.encoding import FormatError
    from ceremonies.pki import parse_iso

    try:
        return parse_iso(text, option)
    except FormatError as exc:
        raise click.BadParameter(exc.problem, param_hint=option) from exc


_CA = click.option(
    "--ca",
    "ca_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help=_("The CA directory made by `pki init`."),
)
_CA_PASSPHRASE = click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=_("The CA passphrase in a file, first line (otherwise asked)."),
)


@click.group(
    name="pki",
    help=_(
        "Test CA for voters' e-IDs, revocation and CRLs, officials' signing keys.\n\n"
        "A real election skips `init` and `issue` and trusts the national CA's certificates "
        "and CRLs instead."
    ),
)
def pki() -> None:
    pass


@pki.command(
    name="init", help=_('Create a TEST root CA and a "TEST ID-card CA" issuing voters\' e-IDs.')
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help=_("Directory for the CA (certificates, sealed keys, records)."),
)
@_CA_PASSPHRASE
@_clean_errors
def init(out: Path, passphrase_file: Path | None) -> None:
    from ceremonies.pki import ISSUING_CERT, ROOT_CERT, ROOT_KEY, PkiError, init_ca

    if (out / ROOT_KEY).exists():  # before the passphrase is chosen
        raise PkiError(_("{out} already holds a CA ({key}); choose another --out").format(
            out=out, key=ROOT_KEY
        ))
    passphrase = new_secret(
        passphrase_file, _("New CA passphrase"), _("the CA passphrase")
    )
    init_ca(out, passphrase)
    click.echo(
        _("Test CA in {out}: trust anchor {root}, issuing CA {issuing}.").format(
            out=out, root=out / ROOT_CERT, issuing=out / ISSUING_CERT
        )
    )
    click.echo(
        _("Keys are sealed under the CA passphrase. Next: ivote ceremony pki officials ...")
    )


@pki.command(
    name="issue", help=_("Issue one e-ID (P-384 key + certificate, PKCS#12 under a PIN) per voter.")
)
@_CA
@click.option(
    "--voters",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=_("Voter list CSV: personal_code,given_name,surname,district."),
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help=_("New directory for the e-IDs (<personal code>.p12, index.csv, chain.pem)."),
)
@click.option(
    "--election",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help=_(
        "The election directory the e-IDs are for: every personal code must fit its "
        "personal-code scheme. Without it any personal code is issued."
    ),
)
@click.option(
    "--pin-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=_(
        "CSV personal_code,pin with every voter's PIN (4-12 digits). Without it each voter "
        "gets a random 5-digit PIN, written to OUT/pins.csv (0600): the PIN envelopes."
    ),
)
@click.option(
    "--valid-from", help=_("Start of validity, ISO 8601 with timezone (default: now).")
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=5 * 365,
    show_default=True,
    help=_("Days of validity."),
)
@_CA_PASSPHRASE
@_clean_errors
def issue(
    ca_dir: Path,
    voters: Path,
    out: Path,
    election: Path | None,
    pin_file: Path | None,
    valid_from: str | None,
    days: int,
    passphrase_file: Path | None,
) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from ceremonies.pki import PkiError, issue_eids, open_ca, read_pin_file
    from formats.personal_codes import OPAQUE
    from formats.voters import read_voter_csv

    not_before = _time(valid_from, "--valid-from")
    ca = open_ca(ca_dir)
    scheme = _election_scheme(election) if election is not None else OPAQUE
    voter_list = read_voter_csv(voters, scheme=scheme)
    pins = read_pin_file(pin_file) if pin_file else None
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PkiError(
            _("{out} already exists and is not empty; choose another --out").format(out=out)
        )
    passphrase, _signer = _ca_signer(ca, passphrase_file, "issuing")
    with Progress(
        "[bold]" + _("Issuing e-IDs"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("issue", total=len(voter_list))
        report = issue_eids(
            ca,
            passphrase,
            voter_list,
            out,
            pins=pins,
            not_before=not_before,
            days=days,
            progress=lambda done: progress.update(task, completed=done),
            scheme=scheme,
        )
    rate = report.count / report.seconds if report.seconds else 0.0
    click.echo(
        _("Issued {count} e-IDs in {seconds:.1f} s ({rate:.0f}/s) to {out}.").format(
            count=report.count, seconds=report.seconds, rate=rate, out=out
        )
    )
    if report.pins_file:
        click.echo(
            _("PINs: {path} (hand out like PIN envelopes, then delete).").format(
                path=report.pins_file
            )
        )


@pki.command(name="revoke", help=_("Record a revocation; the next `pki crl` publishes it."))
@_CA
@click.option("--serial", help=_("Certificate serial number (hex, as in index.csv)."))
@click.option(
    "--personal-code", help=_("Revoke every certificate issued to this personal code.")
)
@click.option(
    "--at", "at_text", help=_("Revocation time, ISO 8601 with timezone (default: now).")
)
@click.option(
    "--reason",
    type=click.Choice(
        ["unspecified", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation"]
    ),
    default="unspecified",
    show_default=True,
    help=_("The CRL's reason code."),
)
@_clean_errors
def revoke(
    ca_dir: Path, serial: str | None, personal_code: str | None, at_text: str | None, reason: str
) -> None:
    from ceremonies.pki import open_ca
    from ceremonies.pki import revoke as record_revocation

    serial_number = None
    if serial is not None:
        try:
            serial_number = int(serial.replace(":", ""), 16)
        except ValueError as exc:
            raise click.BadParameter(
                _("expected a hexadecimal serial"), param_hint="--serial"
            ) from exc
    done = record_revocation(
        open_ca(ca_dir),
        serial=serial_number,
        personal_code=personal_code,
        at=_time(at_text, "--at"),
        reason=reason,
    )
    for item in done:
        click.echo(
            _("Revoked serial {serial} ({code}) at {at}.").format(
                serial=f"{item.serial:x}",
                code=item.personal_code,
                at=format_datetime(item.revoked_at),
            )
        )
    click.echo(_("Publish a new CRL: ivote ceremony pki crl ..."))


@pki.command(
    name="crl",
    help=_(
        "Sign the issuing CA's CRL (every revocation so far) for the collector and tallier."
    ),
)
@_CA
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=_("Where to write the CRL (DER)."),
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=7,
    show_default=True,
    help=_("Until next update."),
)
@_CA_PASSPHRASE
@_clean_errors
def crl(ca_dir: Path, out: Path, days: int, passphrase_file: Path | None) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from canonical.files import write_atomic
    from ceremonies.pki import make_ca_crl, open_ca

    ca = open_ca(ca_dir)
    passphrase, _signer = _ca_signer(ca, passphrase_file, "issuing")
    made = make_ca_crl(ca, passphrase, days=days)
    write_atomic(out, made.public_bytes(Encoding.DER))
    number = made.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    click.echo(
        _("CRL number {number}: {revoked} revoked, next update {next}; wrote {out}.").format(
            number=number,
            revoked=len(list(made)),
            next=format_datetime(made.next_update_utc),
            out=out,
        )
    )


@pki.command(
    name="officials",
    help=_(
        "Signing keys for the organiser (manifest) and the collector (receipts, log heads, "
        "ballot box), issued by the root CA, each sealed under its own passphrase."
    ),
)
@_CA
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help=_("Directory for organiser.key/.pem and collector.key/.pem."),
)
@_CA_PASSPHRASE
@click.option(
    "--organiser-passphrase-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=_("Passphrase sealing the organiser's key (otherwise asked)."),
)
@click.option(
    "--collector-passphrase-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=_("Passphrase sealing the collector's key (otherwise asked)."),
)
@_clean_errors
def officials(
    ca_dir: Path,
    out: Path,
    passphrase_file: Path | None,
    organiser_passphrase_file: Path | None,
    collector_passphrase_file: Path | None,
) -> None:
    from ceremonies.pki import OFFICIAL_ROLES, PkiError, issue_officials, open_ca

    ca = open_ca(ca_dir)
    for role in OFFICIAL_ROLES:  # refused before any passphrase is typed
        if (out / f"{role}.key").exists():
            raise PkiError(
                _("{path} already exists; choose another --out").format(path=out / f"{role}.key")
            )
    # the CA passphrase is checked at once: a wrong one is refused before four more are typed
    passphrase, _signer = _ca_signer(ca, passphrase_file, "root")
    passphrases = {
        "organiser": new_secret(
            organiser_passphrase_file,
            _("New passphrase for the organiser's key"),
            _("the organiser's passphrase"),
        ),
        "collector": new_secret(
            collector_passphrase_file,
            _("New passphrase for the collector's key"),
            _("the collector's passphrase"),
        ),
    }
    written = issue_officials(ca, passphrase, out, passphrases)
    for role, path in written.items():
        label = _("organiser") if role == "organiser" else _("collector")
        click.echo(
            _("{role}: sealed key {key}, certificate {certificate}").format(
                role=label, key=path, certificate=path.with_suffix(".pem")
            )
        )


@pki.command(
    name="to-token",
    help=_(
        "Put a voter's e-ID on a PKCS#11 token (key not extractable), as a card is "
        "personalised; the token's user PIN is the e-ID's PIN."
    ),
)
@click.option(
    "--eid",
    "eid_file",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=_("The voter's e-ID file (<personal code>.p12)."),
)
@click.option(
    "--pin-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=_("The PIN: a file with it on the first line, or the pins.csv of `pki issue`."),
)
@click.option("--token", "token_label", required=True, help=_("Token label."))
@click.option(
    "--label",
    "object_label",
    default="ivote e-ID",
    show_default=True,
    help=_("Label of the key and certificate on the token."),
)
@click.option(
    "--module",
    help=_("PKCS#11 module (default: $IVOTE_PKCS11_MODULE, else Debian's SoftHSM2)."),
)
@click.option(
    "--init-token",
    is_flag=True,
    help=_("First create the token in a free SoftHSM2 slot, with the e-ID's PIN as user PIN."),
)
@click.option(
    "--so-pin-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=_("Security officer PIN for --init-token (otherwise asked)."),
)
@_clean_errors
def to_token(
    eid_file: Path,
    pin_file: Path | None,
    token_label: str,
    object_label: str,
    module: str | None,
    init_token: bool,
    so_pin_file: Path | None,
) -> None:
    import os

    from ceremonies.pki import (
        import_to_token,
        init_softhsm_token,
        load_eid_file,
        read_pin_file,
    )
    from crypto.eid import DEFAULT_PKCS11_MODULE, PKCS11_MODULE_ENV
    from ivote.cli_support import read_secret_file

    if pin_file is not None and pin_file.read_bytes().startswith(b"personal_code"):
        code = eid_file.stem
        pins = read_pin_file(pin_file)
        if code not in pins:
            raise click.ClickException(
                _("{path}: no PIN for {code}").format(path=pin_file, code=code)
            )
        eid = load_eid_file(eid_file, pins[code])
        pin = pins[code]
    else:

        def opener(typed: str) -> tuple[str, Any]:
            return typed, load_eid_file(eid_file, typed)

        pin, eid = open_with_secret(pin_file, _("e-ID PIN"), _("the e-ID PIN"), opener)
    module_path = module or os.environ.get(PKCS11_MODULE_ENV) or DEFAULT_PKCS11_MODULE
    if init_token:
        so_pin = (
            read_secret_file(so_pin_file, _("the security officer PIN"))
            if so_pin_file is not None
            else new_secret(
                None, _("New security officer PIN"), _("the security officer PIN"), minimum=4
            )
        )
        init_softhsm_token(token_label, pin, so_pin)
    uri = import_to_token(module_path, token_label, pin, eid, object_label)
    click.echo(
        _("e-ID of {code} is on token {token}: {uri}").format(
            code=eid_file.stem, token=repr(token_label), uri=uri
        )
    )
