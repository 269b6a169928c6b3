"""`ivote ceremony pki`: the test CA, voters' e-IDs, revocation and CRLs, officials' keys,
and putting an e-ID on a PKCS#11 token. See ceremonies/pki.py for the files it writes."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

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

    return wrapper  # type: ignore[return-value]


def _secret_from_file(path: Path, what: str) -> str:
    try:
        secret = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot read the {what} ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path}: the {what} file is not UTF-8") from exc
    if not secret or not secret[0]:
        raise click.ClickException(f"{path}: the {what} file is empty")
    return secret[0]


def _passphrase(path: Path | None, what: str, confirm: bool = False) -> str:
    if path is not None:
        return _secret_from_file(path, what)
    return str(
        click.prompt(what.capitalize(), hide_input=True, confirmation_prompt=confirm, err=True)
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
    help="The CA directory made by `pki init`.",
)
_CA_PASSPHRASE = click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The CA passphrase in a file, first line (otherwise asked).",
)


@click.group(name="pki")
def pki() -> None:
    """Test CA for voters' e-IDs, revocation and CRLs, officials' signing keys.

    A real election skips `init` and `issue` and trusts the national CA's certificates and
    CRLs instead."""


@pki.command(name="init")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the CA (certificates, sealed keys, records).",
)
@_CA_PASSPHRASE
@_clean_errors
def init(out: Path, passphrase_file: Path | None) -> None:
    """Create a TEST root CA and a "TEST ID-card CA" issuing voters' e-IDs."""
    from ceremonies.pki import ISSUING_CERT, ROOT_CERT, check_passphrase, init_ca

    passphrase = check_passphrase(_passphrase(passphrase_file, "CA passphrase", confirm=True))
    init_ca(out, passphrase)
    click.echo(
        f"Test CA in {out}: trust anchor {out / ROOT_CERT}, issuing CA {out / ISSUING_CERT}."
    )
    click.echo("Keys are sealed under the CA passphrase. Next: ivote ceremony pki issue ...")


@pki.command(name="issue")
@_CA
@click.option(
    "--voters",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Voter list CSV: personal_code,given_name,surname,district.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="New directory for the e-IDs (<personal code>.p12, index.csv, chain.pem).",
)
@click.option(
    "--pin-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="CSV personal_code,pin with every voter's PIN (4-12 digits). Without it each voter "
    "gets a random 5-digit PIN, written to OUT/pins.csv (0600): the PIN envelopes.",
)
@click.option("--valid-from", help="Start of validity, ISO 8601 with timezone (default: now).")
@click.option("--days", type=click.IntRange(min=1), default=5 * 365, show_default=True)
@_CA_PASSPHRASE
@_clean_errors
def issue(
    ca_dir: Path,
    voters: Path,
    out: Path,
    pin_file: Path | None,
    valid_from: str | None,
    days: int,
    passphrase_file: Path | None,
) -> None:
    """Issue one e-ID (P-384 key + certificate, PKCS#12 under a PIN) per voter."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from ceremonies.pki import issue_eids, open_ca, read_pin_file
    from formats.voters import read_voter_csv

    not_before = _time(valid_from, "--valid-from")
    ca = open_ca(ca_dir)
    voter_list = read_voter_csv(voters)
    pins = read_pin_file(pin_file) if pin_file else None
    passphrase = _passphrase(passphrase_file, "CA passphrase")
    with Progress(
        "[bold]Issuing e-IDs",
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
        )
    rate = report.count / report.seconds if report.seconds else 0.0
    click.echo(f"Issued {report.count} e-IDs in {report.seconds:.1f} s ({rate:.0f}/s) to {out}.")
    if report.pins_file:
        click.echo(f"PINs: {report.pins_file} (hand out like PIN envelopes, then delete).")


@pki.command(name="revoke")
@_CA
@click.option("--serial", help="Certificate serial number (hex, as in index.csv).")
@click.option("--personal-code", help="Revoke every certificate issued to this personal code.")
@click.option("--at", "at_text", help="Revocation time, ISO 8601 with timezone (default: now).")
@click.option(
    "--reason",
    type=click.Choice(
        ["unspecified", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation"]
    ),
    default="unspecified",
    show_default=True,
)
@_clean_errors
def revoke(
    ca_dir: Path, serial: str | None, personal_code: str | None, at_text: str | None, reason: str
) -> None:
    """Record a revocation; the next `pki crl` publishes it."""
    from ceremonies.pki import iso, open_ca
    from ceremonies.pki import revoke as record_revocation

    serial_number = None
    if serial is not None:
        try:
            serial_number = int(serial.replace(":", ""), 16)
        except ValueError as exc:
            raise click.BadParameter(
                "expected a hexadecimal serial", param_hint="--serial"
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
            f"Revoked serial {item.serial:x} ({item.personal_code}) at {iso(item.revoked_at)}."
        )
    click.echo("Publish a new CRL: ivote ceremony pki crl ...")


@pki.command(name="crl")
@_CA
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the CRL (DER).",
)
@click.option(
    "--days", type=click.IntRange(min=1), default=7, show_default=True, help="Until next update."
)
@_CA_PASSPHRASE
@_clean_errors
def crl(ca_dir: Path, out: Path, days: int, passphrase_file: Path | None) -> None:
    """Sign the issuing CA's CRL (every revocation so far) for the collector and tallier."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from canonical.files import write_atomic
    from ceremonies.pki import iso, make_ca_crl, open_ca

    ca = open_ca(ca_dir)
    passphrase = _passphrase(passphrase_file, "CA passphrase")
    made = make_ca_crl(ca, passphrase, days=days)
    write_atomic(out, made.public_bytes(Encoding.DER))
    click.echo(
        f"CRL number {made.extensions.get_extension_for_class(_crl_number()).value.crl_number}: "
        f"{len(list(made))} revoked, next update {iso(made.next_update_utc)}; wrote {out}."
    )


def _crl_number() -> type:
    from cryptography import x509

    return x509.CRLNumber


@pki.command(name="officials")
@_CA
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for organiser.key/.pem and collector.key/.pem.",
)
@_CA_PASSPHRASE
@click.option(
    "--organiser-passphrase-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Passphrase sealing the organiser's key (otherwise asked).",
)
@click.option(
    "--collector-passphrase-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Passphrase sealing the collector's key (otherwise asked).",
)
@_clean_errors
def officials(
    ca_dir: Path,
    out: Path,
    passphrase_file: Path | None,
    organiser_passphrase_file: Path | None,
    collector_passphrase_file: Path | None,
) -> None:
    """Signing keys for the organiser (manifest) and the collector (receipts, log heads,
    ballot box), issued by the root CA, each sealed under its own passphrase."""
    from ceremonies.pki import check_passphrase, issue_officials, open_ca

    ca = open_ca(ca_dir)
    passphrase = _passphrase(passphrase_file, "CA passphrase")
    passphrases = {
        "organiser": _passphrase(organiser_passphrase_file, "organiser passphrase", True),
        "collector": _passphrase(collector_passphrase_file, "collector passphrase", True),
    }
    for role, secret in passphrases.items():
        check_passphrase(secret, f"{role} passphrase")
    written = issue_officials(ca, passphrase, out, passphrases)
    for role, path in written.items():
        click.echo(f"{role}: sealed key {path}, certificate {path.with_suffix('.pem')}")


@pki.command(name="to-token")
@click.option(
    "--eid",
    "eid_file",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The voter's e-ID file (<personal code>.p12).",
)
@click.option(
    "--pin-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The PIN: a file with it on the first line, or the pins.csv of `pki issue`.",
)
@click.option("--token", "token_label", required=True, help="Token label.")
@click.option("--label", "object_label", default="ivote e-ID", show_default=True)
@click.option(
    "--module",
    help="PKCS#11 module (default: $IVOTE_PKCS11_MODULE, else Debian's SoftHSM2).",
)
@click.option(
    "--init-token",
    is_flag=True,
    help="First create the token in a free SoftHSM2 slot, with the e-ID's PIN as user PIN.",
)
@click.option(
    "--so-pin-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Security officer PIN for --init-token (otherwise asked).",
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
    """Put a voter's e-ID on a PKCS#11 token (key not extractable), as a card is personalised;
    the token's user PIN is the e-ID's PIN."""
    import os

    from ceremonies.pki import (
        import_to_token,
        init_softhsm_token,
        load_eid_file,
        read_pin_file,
    )
    from crypto.eid import DEFAULT_PKCS11_MODULE, PKCS11_MODULE_ENV

    if pin_file is not None and pin_file.read_text(encoding="utf-8").startswith("personal_code"):
        code = eid_file.stem
        pins = read_pin_file(pin_file)
        if code not in pins:
            raise click.ClickException(f"{pin_file}: no PIN for {code}")
        pin = pins[code]
    else:
        pin = _passphrase(pin_file, "e-ID PIN")
    eid = load_eid_file(eid_file, pin)
    module_path = module or os.environ.get(PKCS11_MODULE_ENV) or DEFAULT_PKCS11_MODULE
    if init_token:
        so_pin = _passphrase(so_pin_file, "security officer PIN", confirm=True)
        init_softhsm_token(token_label, pin, so_pin)
    uri = import_to_token(module_path, token_label, pin, eid, object_label)
    click.echo(f"e-ID of {eid_file.stem} is on token {token_label!r}: {uri}")
