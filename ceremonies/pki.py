"""The PKI ceremony for tests and demos: a test root CA and a "TEST ID-card CA", voters' e-IDs,
revocation and CRLs, the officials' signing keys, and loading an e-ID onto a PKCS#11 token.

A real deployment skips the voters' part and points the election at the national CA's
certificates and CRLs; nothing outside this module knows about the test CA.

CA directory (`pki init --out DIR`):
    root-ca.pem          the root certificate (publish it: the voters' trust anchor)
    id-card-ca.pem       the issuing CA's certificate (publish it: the intermediate)
    root-ca.key          root key, sealed under the CA passphrase (crypto.sealing)
    id-card-ca.key       issuing key, sealed under the CA passphrase
    issued.json          every voter certificate issued: serial, personal code, validity
    revocations.json     revoked serials with their revocation times, and the CRL counter

CA and officials' keys are PKCS#8 sealed with crypto.sealing (scrypt, AES-256-GCM) under a
passphrase. Voters' e-IDs are PKCS#12 files (PBES2: PBKDF2-HMAC-SHA256 with EID_KDF_ROUNDS,
AES-256-CBC; HMAC-SHA256 MAC) under the voter's PIN, the format every tool reads: a 5-digit
PIN has 10^5 values, so no KDF makes an offline guess expensive; a real card's protection is
its chip's retry counter, and the e-ID file stands in for the card. Cheap rounds keep issuing
10,000 e-IDs well under a minute.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import multiprocessing
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from canonical.encoding import FormatError, canonical_bytes, check_version, parse_canonical, require
from canonical.files import write_atomic
from crypto.eid import (
    OFFICIAL_KEY_PURPOSES,
    KeySigner,
    load_pkcs12_signer,
    load_sealed_signer,
    parse_certificate,
    pkcs12_bytes,
    seal_signer,
)
from crypto.sealing import DEFAULT_SCRYPT_N
from formats import personal_codes
from formats.personal_codes import OPAQUE
from formats.voters import Voter
from i18n import _

EID_KDF_ROUNDS = 2_048
# scrypt cost for the sealed CA and officials' keys; tests lower it (monkeypatch).
SCRYPT_COST = DEFAULT_SCRYPT_N
ROOT_YEARS = 20
ISSUING_YEARS = 10
EID_DAYS = 5 * 365
OFFICIAL_DAYS = 2 * 365
CRL_DAYS = 7
DEMO_PIN_DIGITS = 5
PIN_RE = re.compile(r"[0-9]{4,12}\Z")  # \Z: "$" would let "1234\n" through
OFFICIAL_ROLES = tuple(OFFICIAL_KEY_PURPOSES)

ROOT_CERT, ROOT_KEY = "root-ca.pem", "root-ca.key"
ISSUING_CERT, ISSUING_KEY = "id-card-ca.pem", "id-card-ca.key"
ROOT_PURPOSE, ISSUING_PURPOSE = "pki-root-ca-key", "pki-issuing-ca-key"
ISSUED_FILE, REVOCATIONS_FILE = "issued.json", "revocations.json"

# CRL reasons by their RFC 5280 names.
REASONS = {
    "unspecified": x509.ReasonFlags.unspecified,
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
}


class PkiError(Exception):
    """A ceremony step that cannot be done as asked; the message says what and where."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: Any, field: str) -> dt.datetime:
    if not isinstance(text, str):
        raise FormatError(field, "expected an ISO 8601 time")
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FormatError(field, f"not an ISO 8601 time: {text!r}") from exc
    if moment.tzinfo is None:
        raise FormatError(field, "time without a timezone")
    return moment.astimezone(dt.UTC)


# -- certificates -----------------------------------------------------------------------------


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def new_serial() -> int:
    """A positive 159-bit serial from `secrets` (RFC 5280: at most 20 octets, unpredictable)."""
    return secrets.randbits(159) | 1 << 64


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def signing_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _test_ca_name(common_name: str) -> x509.Name:
    """The subject of a test CA: clearly marked TEST, never mistaken for a national CA."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "EE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ivote TEST"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_root_ca(
    name: str = "ivote TEST root CA", now: dt.datetime | None = None, years: int = ROOT_YEARS
) -> KeySigner:
    now = now or utc_now()
    key = new_key()
    subject = _test_ca_name(name)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(new_serial())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA384())
    )
    return KeySigner(key, certificate)


def make_intermediate_ca(
    root: KeySigner,
    name: str = "TEST ID-card CA",
    now: dt.datetime | None = None,
    years: int = ISSUING_YEARS,
) -> KeySigner:
    now = now or utc_now()
    key = new_key()
    subject = _test_ca_name(name)
    certificate = (
        _issued_by(root, subject, key.public_key(), now, now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .sign(root.private_key, hashes.SHA384())
    )
    return KeySigner(key, certificate)


def _issued_by(
    issuer: KeySigner,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    serial: int | None = None,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject)
        .public_key(public_key)
        .serial_number(serial or new_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.certificate.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )


def _at_most_bytes(text: str, limit: int = 64) -> str:
    """`text` cut to the common name's limit, which X.509 counts in UTF-8 bytes (a Thai
    letter takes three), never inside a character."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def voter_subject(voter: Voter) -> x509.Name:
    """Subject as on an Estonian ID card: serialNumber PNOEE-..., CN "SURNAME,GIVEN,CODE"."""
    code = voter.personal_code
    national = re.match(r"^PNO([A-Z]{2})-(.+)$", code)
    attributes = []
    if national:
        attributes.append(x509.NameAttribute(NameOID.COUNTRY_NAME, national.group(1)))
    short_code = national.group(2) if national else code
    attributes += [
        x509.NameAttribute(
            NameOID.COMMON_NAME,
            _at_most_bytes(f"{voter.surname.upper()},{voter.given_name.upper()},{short_code}"),
        ),
        x509.NameAttribute(NameOID.SURNAME, voter.surname),
        x509.NameAttribute(NameOID.GIVEN_NAME, voter.given_name),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, code),
    ]
    return x509.Name(attributes)


def make_eid(
    issuer: KeySigner,
    voter: Voter,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    key_usage: x509.KeyUsage | None = None,
) -> KeySigner:
    """A voter's e-ID: new P-384 key and its certificate from `issuer` (tests pass odd
    validity periods and key usages to build bad e-IDs)."""
    not_before = not_before or utc_now()
    not_after = not_after or not_before + dt.timedelta(days=EID_DAYS)
    key = new_key()
    certificate = (
        _issued_by(issuer, voter_subject(voter), key.public_key(), not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage or signing_key_usage(), critical=True)
        .sign(issuer.private_key, hashes.SHA384())
    )
    return KeySigner(key, certificate)


def make_official(
    issuer: KeySigner, role: str, now: dt.datetime | None = None, days: int = OFFICIAL_DAYS
) -> KeySigner:
    """An election official's signing key (organiser: manifest; collector: receipts, log
    heads, ballot box). Verifiers pin these certificates; they carry no personal code."""
    if role not in OFFICIAL_ROLES:
        raise PkiError(f"unknown official role {role!r} (expected {', '.join(OFFICIAL_ROLES)})")
    now = now or utc_now()
    key = new_key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "EE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ivote election officials"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
            x509.NameAttribute(NameOID.COMMON_NAME, f"ivote {role}"),
        ]
    )
    certificate = (
        _issued_by(issuer, subject, key.public_key(), now, now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(signing_key_usage(), critical=True)
        .sign(issuer.private_key, hashes.SHA384())
    )
    return KeySigner(key, certificate)


@dataclass(frozen=True)
class Revocation:
    serial: int
    revoked_at: dt.datetime
    reason: str = "unspecified"
    personal_code: str | None = None


def make_crl(
    issuer: KeySigner,
    revocations: Iterable[Revocation],
    number: int,
    this_update: dt.datetime | None = None,
    next_update: dt.datetime | None = None,
) -> x509.CertificateRevocationList:
    this_update = this_update or utc_now()
    next_update = next_update or this_update + dt.timedelta(days=CRL_DAYS)
    if next_update <= this_update:
        raise PkiError(_("the CRL's next update must be after this update"))
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.certificate.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    for revocation in revocations:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(revocation.serial)
            .revocation_date(revocation.revoked_at)
        )
        if revocation.reason != "unspecified":
            entry = entry.add_extension(x509.CRLReason(REASONS[revocation.reason]), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(issuer.private_key, hashes.SHA384())


# -- the CA directory -------------------------------------------------------------------------


def check_passphrase(passphrase: str, what: str = "passphrase") -> str:
    if len(passphrase) < 8:
        raise PkiError(_("{what}: at least 8 characters").format(what=what))
    return passphrase


def check_pin(pin: str, what: str = "PIN") -> str:
    if not PIN_RE.match(pin):
        raise PkiError(_("{what}: 4 to 12 digits").format(what=what))
    return pin


def init_ca(out: str | os.PathLike[str], passphrase: str, now: dt.datetime | None = None) -> Path:
    """Create a test root CA and the TEST ID-card CA in `out` (which must not hold a CA)."""
    check_passphrase(passphrase, "CA passphrase")
    directory = Path(out)
    existing = [name for name in (ROOT_KEY, ISSUING_KEY) if (directory / name).exists()]
    if existing:
        raise PkiError(
            _("{out} already holds a CA ({key}); choose another --out").format(
                out=directory, key=existing[0]
            )
        )
    now = now or utc_now()
    root = make_root_ca(now=now)
    issuing = make_intermediate_ca(root, now=now)
    _write_json(directory / ISSUED_FILE, {"version": 1, "certificates": []})
    _write_json(directory / REVOCATIONS_FILE, {"version": 1, "crl_number": 0, "revoked": []})
    for signer, cert_name, key_name, purpose in (
        (root, ROOT_CERT, ROOT_KEY, ROOT_PURPOSE),
        (issuing, ISSUING_CERT, ISSUING_KEY, ISSUING_PURPOSE),
    ):
        write_atomic(directory / cert_name, _pem(signer.certificate))
        sealed = seal_signer(signer, passphrase, purpose, cost=SCRYPT_COST)
        write_atomic(directory / key_name, sealed, mode=0o600)
    return directory


@dataclass(frozen=True)
class CaDirectory:
    """A CA directory made by init_ca: certificates now, keys only with the passphrase."""

    path: Path
    root_certificate: x509.Certificate
    issuing_certificate: x509.Certificate

    def root_signer(self, passphrase: str) -> KeySigner:
        return self._signer(ROOT_KEY, self.root_certificate, ROOT_PURPOSE, passphrase)

    def issuing_signer(self, passphrase: str) -> KeySigner:
        return self._signer(ISSUING_KEY, self.issuing_certificate, ISSUING_PURPOSE, passphrase)

    def _signer(
        self, name: str, certificate: x509.Certificate, purpose: str, passphrase: str
    ) -> KeySigner:
        sealed = _read(self.path / name, "CA key")
        return load_sealed_signer(sealed, passphrase, purpose, certificate, str(self.path / name))

    def chain_pem(self) -> bytes:
        return _pem(self.issuing_certificate) + _pem(self.root_certificate)


def open_ca(ca_dir: str | os.PathLike[str]) -> CaDirectory:
    directory = Path(ca_dir)
    if not directory.is_dir():
        raise PkiError(
            _("{path}: no such CA directory (make one with `pki init`)").format(path=directory)
        )
    root = parse_certificate(_read(directory / ROOT_CERT, "CA"), str(directory / ROOT_CERT))
    issuing = parse_certificate(
        _read(directory / ISSUING_CERT, "CA"), str(directory / ISSUING_CERT)
    )
    return CaDirectory(directory, root, issuing)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise PkiError(
            _("{path}: {what} file not found").format(path=path, what=what)
        ) from exc
    except OSError as exc:
        raise PkiError(
            _("{path}: cannot read ({reason})").format(path=path, reason=exc.strerror)
        ) from exc


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _write_json(path: Path, obj: Any) -> None:
    write_atomic(path, canonical_bytes(obj) + b"\n")


def _read_json(path: Path) -> Any:
    obj = parse_canonical(_read(path, "CA record"), str(path))
    check_version(obj, str(path))
    return obj


@dataclass(frozen=True)
class IssuedRecord:
    serial: int
    personal_code: str
    not_before: dt.datetime
    not_after: dt.datetime


def issued_records(ca: CaDirectory) -> list[IssuedRecord]:
    path = ca.path / ISSUED_FILE
    obj = _read_json(path)
    records = []
    for index, item in enumerate(require(obj, "certificates", list, str(path))):
        where = f"{path}.certificates[{index}]"
        records.append(
            IssuedRecord(
                int(require(item, "serial", str, where), 16),
                require(item, "personal_code", str, where),
                parse_iso(require(item, "not_before", str, where), f"{where}.not_before"),
                parse_iso(require(item, "not_after", str, where), f"{where}.not_after"),
            )
        )
    return records


def revocations(ca: CaDirectory) -> tuple[int, list[Revocation]]:
    """(the last CRL number, every revocation recorded)."""
    path = ca.path / REVOCATIONS_FILE
    obj = _read_json(path)
    items = []
    for index, item in enumerate(require(obj, "revoked", list, str(path))):
        where = f"{path}.revoked[{index}]"
        items.append(
            Revocation(
                int(require(item, "serial", str, where), 16),
                parse_iso(require(item, "revoked_at", str, where), f"{where}.revoked_at"),
                require(item, "reason", str, where),
                item.get("personal_code"),
            )
        )
    return require(obj, "crl_number", int, str(path)), items


def _write_revocations(ca: CaDirectory, crl_number: int, items: list[Revocation]) -> None:
    _write_json(
        ca.path / REVOCATIONS_FILE,
        {
            "version": 1,
            "crl_number": crl_number,
            "revoked": [
                {
                    "serial": format(item.serial, "x"),
                    "revoked_at": iso(item.revoked_at),
                    "reason": item.reason,
                    "personal_code": item.personal_code,
                }
                for item in items
            ],
        },
    )


# -- issuing e-IDs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueReport:
    count: int
    seconds: float
    out: Path
    pins_file: Path | None


def read_pin_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """A CSV `personal_code,pin` (the PIN envelopes' contents) -> {personal code: PIN}."""
    text = _read(Path(path), "PIN").decode("utf-8-sig", errors="replace")
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or set(reader.fieldnames) != {"personal_code", "pin"}:
        raise PkiError(_("{path}: expected the columns personal_code,pin").format(path=path))
    pins: dict[str, str] = {}
    for row in reader:
        code, pin = (row["personal_code"] or "").strip(), (row["pin"] or "").strip()
        check_pin(pin, f"{path}:{reader.line_num}: pin")
        if code in pins:
            raise PkiError(
                _("{path}:{line}: personal_code {code} repeated").format(
                    path=path, line=reader.line_num, code=code
                )
            )
        pins[code] = pin
    return pins


def random_pin(digits: int = DEMO_PIN_DIGITS) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(digits))


def issue_eids(
    ca: CaDirectory,
    passphrase: str,
    voters: Iterable[Voter],
    out: str | os.PathLike[str],
    pins: Mapping[str, str] | None = None,
    not_before: dt.datetime | None = None,
    days: int = EID_DAYS,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    scheme: str = OPAQUE,
) -> IssueReport:
    """One e-ID per voter, written as OUT/<personal code>.p12 under the voter's PIN, plus
    OUT/index.csv (personal_code,serial,not_after,file) and OUT/chain.pem.

    PINs come from `pins` (every voter needs one); without it each voter gets a random
    5-digit PIN, written to OUT/pins.csv (mode 0600): the PIN envelopes, to hand out and
    delete. OUT appears whole or not at all: files are staged in a sibling directory that is
    flushed to disk and renamed into place after the CA has recorded every certificate.
    Large batches are made by `workers` processes (default: one per CPU). Every personal
    code must fit `scheme`, the election's personal-code scheme when the CA knows it."""
    voters = list(voters)
    target = Path(out)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise PkiError(
            _("{out} already exists and is not empty; choose another --out").format(out=target)
        )
    if not voters:
        raise PkiError(_("no voters to issue e-IDs for"))
    seen: set[str] = set()
    for voter in voters:
        if personal_codes.problem(OPAQUE, voter.personal_code):
            raise PkiError(
                _("{code} is not a personal code").format(code=repr(voter.personal_code))
            )
        if problem := personal_codes.problem(scheme, voter.personal_code):
            raise PkiError(
                _(
                    "{code} does not fit the election's personal-code scheme ({scheme}): "
                    "{problem}"
                ).format(code=repr(voter.personal_code), scheme=scheme, problem=problem)
            )
        if voter.personal_code in seen:
            raise PkiError(_("{code} appears twice").format(code=voter.personal_code))
        seen.add(voter.personal_code)
    if pins is not None:
        missing = [voter.personal_code for voter in voters if voter.personal_code not in pins]
        if missing:
            raise PkiError(
                _("no PIN for {code} (and {more} more) in the PIN file").format(
                    code=missing[0], more=len(missing) - 1
                )
            )
        for code, pin in pins.items():
            check_pin(pin, f"PIN of {code}")
    issuer = ca.issuing_signer(passphrase)
    not_before = not_before or utc_now()
    not_after = not_before + dt.timedelta(days=days)
    if not_before < issuer.certificate.not_valid_before_utc:
        raise PkiError(
            _("the e-IDs would be valid before the issuing CA ({start})").format(
                start=iso(issuer.certificate.not_valid_before_utc)
            )
        )
    if not_after > issuer.certificate.not_valid_after_utc:
        raise PkiError(
            _("the e-IDs would outlive the issuing CA ({end}); issue for fewer days").format(
                end=iso(issuer.certificate.not_valid_after_utc)
            )
        )
    started = time.perf_counter()
    orders = [
        (voter, pins[voter.personal_code] if pins is not None else random_pin()) for voter in voters
    ]
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        index_rows = []
        records = []
        for code, data, serial_number in _make_eids(
            issuer, orders, not_before, not_after, workers, progress
        ):
            name = f"{code}.p12"
            _write_private(staging / name, data)
            serial = format(serial_number, "x")
            index_rows.append((code, serial, iso(not_after), name))
            records.append(
                {
                    "serial": serial,
                    "personal_code": code,
                    "not_before": iso(not_before),
                    "not_after": iso(not_after),
                }
            )
        _write_csv(
            staging / "index.csv", ("personal_code", "serial", "not_after", "file"), index_rows
        )
        (staging / "chain.pem").write_bytes(ca.chain_pem())
        pins_file = None
        if pins is None:
            pins_file = target / "pins.csv"
            pin_rows = [(voter.personal_code, pin) for voter, pin in orders]
            _write_csv(staging / "pins.csv", ("personal_code", "pin"), pin_rows, private=True)
        # One flush of everything staged (an fsync per file costs more than making the e-ID).
        os.sync()
        # Record first: an unrecorded e-ID could not be revoked by personal code.
        issued_path = ca.path / ISSUED_FILE
        issued = _read_json(issued_path)
        issued["certificates"] = require(issued, "certificates", list, str(issued_path)) + records
        _write_json(issued_path, issued)
        if target.exists():
            target.rmdir()  # empty (checked above); rename needs the name free
        os.replace(staging, target)
        _fsync_directory(target.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return IssueReport(len(voters), time.perf_counter() - started, target, pins_file)


# Below this many e-IDs, starting worker processes costs more than it saves.
PARALLEL_FROM = 2000
BATCH = 250
_worker_issuer: KeySigner | None = None


def _make_eids(
    issuer: KeySigner,
    orders: list[tuple[Voter, str]],
    not_before: dt.datetime,
    not_after: dt.datetime,
    workers: int | None,
    progress: Callable[[int], None] | None,
) -> Iterator[tuple[str, bytes, int]]:
    """(personal code, PKCS#12 bytes, serial) per order, in order."""
    workers = workers or os.cpu_count() or 1
    batches = [orders[i : i + BATCH] for i in range(0, len(orders), BATCH)]
    done = 0
    if workers == 1 or len(orders) < PARALLEL_FROM:
        results: Iterable[list[tuple[str, bytes, int]]] = (
            _eid_batch(issuer, batch, not_before, not_after) for batch in batches
        )
        for result in results:
            yield from result
            done += len(result)
            if progress:
                progress(done)
        return
    key_der = issuer.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_der = issuer.certificate.public_bytes(serialization.Encoding.DER)
    # spawn, not fork: the parent may run threads (the progress bar) and hold token sessions.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(key_der, cert_der),
    ) as pool:
        for result in pool.map(
            _worker_batch, batches, [not_before] * len(batches), [not_after] * len(batches)
        ):
            yield from result
            done += len(result)
            if progress:
                progress(done)


def _init_worker(key_der: bytes, cert_der: bytes) -> None:
    global _worker_issuer
    key = serialization.load_der_private_key(key_der, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    _worker_issuer = KeySigner(key, x509.load_der_x509_certificate(cert_der))


def _worker_batch(
    batch: list[tuple[Voter, str]], not_before: dt.datetime, not_after: dt.datetime
) -> list[tuple[str, bytes, int]]:
    assert _worker_issuer is not None
    return _eid_batch(_worker_issuer, batch, not_before, not_after)


def _eid_batch(
    issuer: KeySigner,
    batch: list[tuple[Voter, str]],
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> list[tuple[str, bytes, int]]:
    made = []
    for voter, pin in batch:
        eid = make_eid(issuer, voter, not_before, not_after)
        data = pkcs12_bytes(eid, pin, EID_KDF_ROUNDS, voter.personal_code)
        made.append((voter.personal_code, data, eid.certificate.serial_number))
    return made


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _write_csv(
    path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]], private: bool = False
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    if private:
        _write_private(path, buffer.getvalue().encode("utf-8"))
    else:
        path.write_text(buffer.getvalue(), encoding="utf-8")


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- revocation and CRLs ----------------------------------------------------------------------


def revoke(
    ca: CaDirectory,
    serial: int | None = None,
    personal_code: str | None = None,
    at: dt.datetime | None = None,
    reason: str = "unspecified",
) -> list[Revocation]:
    """Record the revocation of one certificate (by serial) or of every unrevoked certificate
    issued to a personal code; the next `make_ca_crl` lists them."""
    if (serial is None) == (personal_code is None):
        raise PkiError(_("give exactly one of --serial and --personal-code"))
    if reason not in REASONS:
        raise PkiError(f"unknown reason {reason!r} (expected {', '.join(REASONS)})")
    at = at or utc_now()
    crl_number, recorded = revocations(ca)
    already = {item.serial for item in recorded}
    issued = issued_records(ca)
    if serial is not None:
        matches = [record for record in issued if record.serial == serial]
        if not matches:
            raise PkiError(
                _("serial {serial} was not issued by this CA").format(serial=f"{serial:x}")
            )
    else:
        matches = [record for record in issued if record.personal_code == personal_code]
        if not matches:
            raise PkiError(
                _("no certificate was issued to {code}").format(code=personal_code)
            )
    new = [
        Revocation(record.serial, at, reason, record.personal_code)
        for record in matches
        if record.serial not in already
    ]
    if not new:
        raise PkiError(_("already revoked"))
    _write_revocations(ca, crl_number, recorded + new)
    return new


def make_ca_crl(
    ca: CaDirectory,
    passphrase: str,
    now: dt.datetime | None = None,
    days: int = CRL_DAYS,
) -> x509.CertificateRevocationList:
    """The issuing CA's next CRL (every recorded revocation), with a new CRL number."""
    if days < 1:
        raise PkiError(_("a CRL must be valid for at least one day"))
    issuer = ca.issuing_signer(passphrase)
    crl_number, recorded = revocations(ca)
    now = now or utc_now()
    crl = make_crl(issuer, recorded, crl_number + 1, now, now + dt.timedelta(days=days))
    _write_revocations(ca, crl_number + 1, recorded)
    return crl


# -- officials --------------------------------------------------------------------------------


def issue_officials(
    ca: CaDirectory,
    ca_passphrase: str,
    out: str | os.PathLike[str],
    passphrases: Mapping[str, str],
    now: dt.datetime | None = None,
    days: int = OFFICIAL_DAYS,
) -> dict[str, Path]:
    """Signing keys for the organiser and the collector, issued by the root CA:
    OUT/<role>.key (sealed under that role's passphrase, purpose
    crypto.eid.OFFICIAL_KEY_PURPOSES[role]) and OUT/<role>.pem."""
    for role in OFFICIAL_ROLES:
        if role not in passphrases:
            raise PkiError(f"no passphrase for the {role}")
        check_passphrase(passphrases[role], f"{role} passphrase")
    directory = Path(out)
    for role in OFFICIAL_ROLES:
        if (directory / f"{role}.key").exists():
            raise PkiError(
                _("{path} already exists; choose another --out").format(
                    path=directory / f"{role}.key"
                )
            )
    root = ca.root_signer(ca_passphrase)
    written = {}
    for role in OFFICIAL_ROLES:
        official = make_official(root, role, now, days)
        sealed = seal_signer(
            official, passphrases[role], OFFICIAL_KEY_PURPOSES[role], cost=SCRYPT_COST
        )
        write_atomic(directory / f"{role}.key", sealed, mode=0o600)
        write_atomic(directory / f"{role}.pem", _pem(official.certificate))
        written[role] = directory / f"{role}.key"
    write_atomic(directory / "root-ca.pem", _pem(ca.root_certificate))
    return written


def load_signer_file(path: str | os.PathLike[str], passphrase: str) -> KeySigner:
    """A signing key from a file: an official's sealed key (<role>.key, its certificate in
    <role>.pem beside it) or a PKCS#12 file (a voter's e-ID)."""
    source = Path(path)
    if source.suffix == ".p12" and not source.exists() and source.with_suffix(".key").exists():
        source = source.with_suffix(".key")  # officials' keys were PKCS#12 files at first
    if source.suffix == ".key":
        return load_official(source.parent, source.stem, passphrase)
    return load_eid_file(source, passphrase)


def load_eid_file(path: str | os.PathLike[str], pin: str) -> KeySigner:
    """A voter's PKCS#12 e-ID file; WrongPin / MalformedKeyFile name the file."""
    return load_pkcs12_signer(_read(Path(path), "e-ID"), pin, str(path))


def load_official(directory: str | os.PathLike[str], role: str, passphrase: str) -> KeySigner:
    """An official's signing key from OUT/<role>.key and OUT/<role>.pem."""
    if role not in OFFICIAL_KEY_PURPOSES:
        raise PkiError(f"unknown official role {role!r}")
    base = Path(directory)
    certificate = parse_certificate(_read(base / f"{role}.pem", "certificate"), f"{role}.pem")
    sealed = _read(base / f"{role}.key", "sealed key")
    return load_sealed_signer(
        sealed, passphrase, OFFICIAL_KEY_PURPOSES[role], certificate, str(base / f"{role}.key")
    )


# -- PKCS#11 tokens ---------------------------------------------------------------------------


def init_softhsm_token(label: str, pin: str, so_pin: str) -> None:
    """Initialise a free SoftHSM2 slot as token `label` (demo and tests; a real card comes
    initialised). SoftHSM reads its configuration from SOFTHSM2_CONF."""
    check_pin(pin, "token PIN")
    tool = shutil.which("softhsm2-util")
    if tool is None:
        raise PkiError(_("softhsm2-util not found (Debian package softhsm2)"))
    result = subprocess.run(
        [tool, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", so_pin],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        raise PkiError(
            _("softhsm2-util could not create token {label}: {problem}").format(
                label=repr(label), problem=" ".join(message)
            )
        )


def import_to_token(
    module: str,
    token_label: str,
    pin: str,
    eid: KeySigner,
    object_label: str = "ivote e-ID",
) -> str:
    """Put an e-ID's key (sensitive, not extractable) and certificate on a PKCS#11 token, as
    a card is personalised; returns the pkcs11: URI the voter app opens."""
    import pkcs11
    from pkcs11 import Attribute, CertificateType, KeyType, ObjectClass
    from pkcs11.exceptions import NoSuchToken, PinIncorrect, PKCS11Error
    from pkcs11.util.ec import encode_named_curve_parameters

    from crypto.eid import WrongPin

    try:
        library = pkcs11.lib(module)
    except (RuntimeError, OSError, PKCS11Error) as exc:
        raise PkiError(
            _("cannot load the PKCS#11 module {module}: {problem}").format(
                module=module, problem=exc
            )
        ) from exc
    library.reinitialize()  # see tokens created since the module was loaded
    key_id = eid.certificate.fingerprint(hashes.SHA256())[:16]
    numbers = eid.private_key.private_numbers()
    point = eid.private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    params = encode_named_curve_parameters("secp384r1")
    certificate = eid.certificate
    try:
        token = library.get_token(token_label=token_label)
        with token.open(rw=True, user_pin=pin) as session:
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                    Attribute.KEY_TYPE: KeyType.EC,
                    Attribute.EC_PARAMS: params,
                    Attribute.VALUE: numbers.private_value.to_bytes(48, "big"),
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.SIGN: True,
                    Attribute.LABEL: object_label,
                    Attribute.ID: key_id,
                }
            )
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.PUBLIC_KEY,
                    Attribute.KEY_TYPE: KeyType.EC,
                    Attribute.EC_PARAMS: params,
                    # EC_POINT is a DER OCTET STRING holding the point (short form: 97 bytes)
                    Attribute.EC_POINT: b"\x04" + bytes([len(point)]) + point,
                    Attribute.TOKEN: True,
                    Attribute.VERIFY: True,
                    Attribute.LABEL: object_label,
                    Attribute.ID: key_id,
                }
            )
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.CERTIFICATE,
                    Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                    Attribute.VALUE: certificate.public_bytes(serialization.Encoding.DER),
                    Attribute.SUBJECT: certificate.subject.public_bytes(),
                    Attribute.ISSUER: certificate.issuer.public_bytes(),
                    Attribute.SERIAL_NUMBER: _der_integer(certificate.serial_number),
                    Attribute.TOKEN: True,
                    Attribute.LABEL: object_label,
                    Attribute.ID: key_id,
                }
            )
    except NoSuchToken as exc:
        raise PkiError(
            _("no PKCS#11 token labelled {label} in {module}").format(
                label=repr(token_label), module=module
            )
        ) from exc
    except PinIncorrect as exc:
        raise WrongPin(f"token {token_label}", "wrong PIN") from exc
    except PKCS11Error as exc:
        raise PkiError(f"token {token_label!r}: {type(exc).__name__} {exc}") from exc
    return f"pkcs11:token={_pct(token_label)};object={_pct(object_label)}"


def _der_integer(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return b"\x02" + bytes([len(body)]) + body


def _pct(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")
