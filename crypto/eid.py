"""e-ID signatures and certificate checks: ECDSA P-384 with SHA-384 over domain-separated
canonical bytes, X.509 path validation to the election's trusted roots, revocation by CRL at a
given time, and the voter's identity from the certificate subject.

Pure: no file or network I/O; everything comes in as bytes or `cryptography` objects. The
formats that carry signatures live in formats/signed.py; loading keys from files and tokens in
voter_app/eid.py; the test CA ceremony in ceremonies/pki.py (nothing here assumes that CA).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509 import verification
from cryptography.x509.oid import NameOID

from canonical.encoding import (
    DOMAINS,
    FormatError,
    b64url,
    canonical_bytes,
    check_version,
    parse_b64url,
    parse_canonical,
    require,
)
from crypto import sealing
from crypto.errors import CryptoError, SealError

ALGORITHM = "ecdsa-p384-sha384"
CURVE_NAME = "secp384r1"
# Where voter_app looks for the PKCS#11 module when neither an option nor IVOTE_PKCS11_MODULE
# names one (Debian's SoftHSM2; a real card's module is e.g. the OpenSC or IDEMIA one).
DEFAULT_PKCS11_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PKCS11_MODULE_ENV = "IVOTE_PKCS11_MODULE"

# KeyUsage bits by their RFC 5280 names (cryptography calls nonRepudiation content_commitment).
KEY_USAGES = {
    "digitalSignature": "digital_signature",
    "nonRepudiation": "content_commitment",
    "keyEncipherment": "key_encipherment",
    "dataEncipherment": "data_encipherment",
    "keyAgreement": "key_agreement",
    "keyCertSign": "key_cert_sign",
    "cRLSign": "crl_sign",
}


# -- errors -------------------------------------------------------------------------------


class EidError(CryptoError):
    """An e-ID check failed; `field` names the input at fault, `problem` says why."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class MalformedCertificate(EidError):
    """Not a parseable X.509 certificate, or not a P-384 e-ID certificate (key, subject)."""


class CertificateExpired(EidError):
    """The certificate's notAfter is before the time of the check."""


class CertificateNotYetValid(EidError):
    """The certificate's notBefore is after the time of the check."""


class CertificateRevoked(EidError):
    """The issuer's CRL lists the certificate as revoked at or before the time of the check."""


class UntrustedIssuer(EidError):
    """No valid chain from the certificate to one of the trusted roots."""


class WrongKeyUsage(EidError):
    """The certificate's KeyUsage does not allow the operation (e.g. digitalSignature)."""


class RevocationUnknown(EidError):
    """No CRL from the issuer that covers the time of the check (missing or expired CRL)."""


class CrlInvalid(EidError):
    """A CRL that is malformed or not signed by any CA of the trust store."""


class SignatureInvalid(EidError):
    """The signature does not verify under the certificate's key over these bytes."""


class WrongSigner(EidError):
    """The signature is valid, but made with another key than the expected signer's."""


class WrongPin(EidError):
    """The PIN (or passphrase) does not open the key file or token."""


class TokenError(EidError):
    """A PKCS#11 token or its module that cannot be used: absent, no key, PIN locked."""


class MalformedKeyFile(EidError):
    """A key file that is not a PKCS#12 e-ID: unparseable, or key and certificate disagree."""


# -- signing ------------------------------------------------------------------------------


@runtime_checkable
class Signer(Protocol):
    """Something that holds an e-ID key: a key in memory, or a PKCS#11 token."""

    @property
    def certificate(self) -> x509.Certificate: ...

    def sign(self, data: bytes) -> bytes:
        """DER-encoded ECDSA signature over SHA-384(data)."""
        ...


@dataclass(frozen=True)
class KeySigner:
    """A P-384 private key in memory with its certificate (a PKCS#12 e-ID, an official's key)."""

    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    certificate: x509.Certificate

    def __post_init__(self) -> None:
        _require_p384(self.private_key.public_key(), "private_key")
        if self.private_key.public_key() != certificate_public_key(self.certificate):
            raise MalformedKeyFile("private_key", "does not belong to the certificate")

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data, ec.ECDSA(hashes.SHA384()))


def signing_input(domain: str, obj: Any) -> bytes:
    """The bytes a signature covers: ascii(domain) || 0x00 || canonical_bytes(obj)."""
    if domain not in DOMAINS.values():
        raise ValueError(f"unregistered signature domain {domain!r}")
    return domain.encode("ascii") + b"\x00" + canonical_bytes(obj)


def sign(signer: Signer | ec.EllipticCurvePrivateKey, domain: str, obj: Any) -> bytes:
    """ECDSA P-384 / SHA-384 signature (DER) over signing_input(domain, obj)."""
    data = signing_input(domain, obj)
    if isinstance(signer, ec.EllipticCurvePrivateKey):
        _require_p384(signer.public_key(), "private_key")
        return signer.sign(data, ec.ECDSA(hashes.SHA384()))
    return signer.sign(data)


def verify(
    public_key_or_cert: ec.EllipticCurvePublicKey | x509.Certificate,
    domain: str,
    obj: Any,
    signature: bytes,
    field: str = "signature",
    key_field: str = "certificate",
) -> None:
    """Check a signature made by `sign`; raises SignatureInvalid naming `field` (and
    MalformedCertificate naming `key_field` for a key that is not P-384)."""
    if isinstance(public_key_or_cert, x509.Certificate):
        public_key = certificate_public_key(public_key_or_cert, key_field)
    else:
        public_key = public_key_or_cert
    key = _require_p384(public_key, key_field)
    if not isinstance(signature, bytes):
        raise SignatureInvalid(field, "expected DER bytes")
    try:
        r, s = decode_dss_signature(signature)
    except ValueError as exc:
        raise SignatureInvalid(field, "not a DER-encoded ECDSA signature") from exc
    if not (0 < r < _P384_ORDER and 0 < s < _P384_ORDER):
        raise SignatureInvalid(field, "ECDSA values out of range")
    try:
        key.verify(signature, signing_input(domain, obj), ec.ECDSA(hashes.SHA384()))
    except InvalidSignature as exc:
        raise SignatureInvalid(
            field, f"does not verify under the certificate's key for {domain}"
        ) from exc


_P384_ORDER = int(
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    16,
)


def certificate_public_key(certificate: x509.Certificate, field: str = "certificate") -> Any:
    """The certificate's public key; MalformedCertificate for an unparseable or unsupported
    one (e.g. an unknown curve)."""
    try:
        return certificate.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise MalformedCertificate(field, f"unusable public key ({exc})") from exc


def _require_p384(public_key: Any, field: str) -> ec.EllipticCurvePublicKey:
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != CURVE_NAME:
        raise MalformedCertificate(field, "key is not an ECDSA P-384 key")
    return public_key


# -- parsing ------------------------------------------------------------------------------


def parse_certificate(
    data: bytes, field: str = "certificate", der_only: bool = False
) -> x509.Certificate:
    """One certificate from PEM or DER bytes (DER only if asked); MalformedCertificate naming
    `field` otherwise."""
    if der_only and data.lstrip().startswith(b"-----"):
        raise MalformedCertificate(field, "expected DER, found PEM")
    certificates = parse_certificates(data, field)
    if len(certificates) != 1:
        raise MalformedCertificate(field, f"expected one certificate, found {len(certificates)}")
    return certificates[0]


def parse_certificates(data: bytes, field: str = "certificates") -> list[x509.Certificate]:
    """All certificates of a PEM bundle, or the one certificate of DER bytes."""
    if not isinstance(data, bytes) or not data:
        raise MalformedCertificate(field, "empty")
    if b"-----BEGIN" not in data:
        # DER: the same bytes come again and again (the collector's certificate on every
        # receipt), so their outcome is kept
        certificate, problem = _parse_der(data)
        if certificate is None:
            raise MalformedCertificate(field, problem)
        return [certificate]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # non-positive serials: refused in check_structure
            certificates = x509.load_pem_x509_certificates(data)
    except Exception as exc:  # the parser's errors (ValueError, InvalidVersion...) on bad input
        raise MalformedCertificate(field, f"not a PEM or DER X.509 certificate ({exc})") from exc
    for certificate in certificates:
        check_structure(certificate, field)
    return certificates


@functools.lru_cache(maxsize=256)
def _parse_der(data: bytes) -> tuple[x509.Certificate | None, str]:
    """(certificate, "") or (None, the problem) for DER bytes: parse_certificates' outcome."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # non-positive serials: refused in check_structure
            certificate = x509.load_der_x509_certificate(data)
    except Exception as exc:  # the parser's errors (ValueError, InvalidVersion...) on bad input
        return None, f"not a PEM or DER X.509 certificate ({exc})"
    problem = _structure_problem(certificate)
    return (None, problem) if problem else (certificate, "")


def check_structure(certificate: x509.Certificate, field: str = "certificate") -> None:
    """Parsing is lazy in places: read every part the checks use, so that a malformed
    certificate is MalformedCertificate here rather than a ValueError somewhere later."""
    if not isinstance(certificate, x509.Certificate):
        raise MalformedCertificate(field, "not an X.509 certificate")
    problem = _structure_problem(certificate)
    if problem:
        raise MalformedCertificate(field, problem)


@functools.lru_cache(maxsize=1024)
def _structure_problem(certificate: x509.Certificate) -> str:
    """check_structure's finding ("" when none). Certificates hash and compare by their DER
    bytes, so the outcome is the same for every object holding these bytes."""
    try:
        certificate.subject.rfc4514_string()
        certificate.issuer.rfc4514_string()
        certificate.extensions  # noqa: B018
        certificate.not_valid_before_utc  # noqa: B018
        certificate.not_valid_after_utc  # noqa: B018
        certificate.signature_hash_algorithm  # noqa: B018
        with warnings.catch_warnings():
            # cryptography warns about non-positive serials; we refuse them below
            warnings.simplefilter("ignore")
            serial = certificate.serial_number
    except Exception as exc:  # the lazy parser's errors (DuplicateExtension, ...) on bad input
        return f"malformed X.509 certificate ({exc})"
    if serial <= 0:
        return "serial number is not positive (RFC 5280)"
    try:
        certificate.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        return f"unusable public key ({exc})"
    return ""


def parse_crls(data: bytes, field: str = "crl") -> list[x509.CertificateRevocationList]:
    """All CRLs of PEM bytes, or the one CRL of DER bytes."""
    if not isinstance(data, bytes) or not data:
        raise CrlInvalid(field, "empty")
    try:
        if b"-----BEGIN" in data:
            marker = b"-----BEGIN X509 CRL-----"
            chunks = [marker + chunk for chunk in data.split(marker)[1:]]
            if not chunks:
                raise ValueError("no X509 CRL block")
            crls = [x509.load_pem_x509_crl(chunk) for chunk in chunks]
        else:
            crls = [x509.load_der_x509_crl(data)]
        for crl in crls:
            crl.issuer.rfc4514_string()
            crl.next_update_utc  # noqa: B018
            crl.extensions  # noqa: B018
            for entry in crl:  # the revoked entries are parsed lazily
                entry.revocation_date_utc  # noqa: B018
    except Exception as exc:  # the parser's errors on bad input
        raise CrlInvalid(field, f"not a PEM or DER X.509 CRL ({exc})") from exc
    return crls


def load_pkcs12_signer(data: bytes, pin: str, field: str = "e-ID") -> KeySigner:
    """A KeySigner from a PKCS#12 file's bytes: WrongPin if the PIN does not open it,
    MalformedKeyFile if it is not a PKCS#12 file holding a P-384 key and its certificate.
    An official's sealed key file (seal_signer) is accepted too, so that one call loads any
    signing key file (the passphrase opens it; SealError if it does not)."""
    if isinstance(data, bytes) and data.lstrip()[:1] == b"{":
        return load_sealed_signer(data, pin, field=field)
    if not _looks_like_pfx(data):
        raise MalformedKeyFile(field, "not a PKCS#12 file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BER fallback notices; the MAC still decides
            loaded = pkcs12.load_pkcs12(data, pin.encode("utf-8"))
    except ValueError as exc:
        # The file has a PFX's shape, so a failure here is the MAC or decryption: the PIN.
        raise WrongPin(field, "wrong PIN or passphrase") from exc
    if loaded.key is None or loaded.cert is None:
        raise MalformedKeyFile(field, "the PKCS#12 file lacks the private key or certificate")
    if not isinstance(loaded.key, ec.EllipticCurvePrivateKey):
        raise MalformedKeyFile(field, "the key is not an ECDSA key")
    try:
        return KeySigner(loaded.key, loaded.cert.certificate)
    except EidError as exc:
        raise MalformedKeyFile(field, exc.problem) from exc


def _looks_like_pfx(data: bytes) -> bool:
    """DER SEQUENCE whose first element is INTEGER 3 (PFX version): enough to tell a PKCS#12
    file from other bytes, so that a decryption failure can be blamed on the PIN."""
    if not isinstance(data, bytes) or len(data) < 8 or data[0] != 0x30:
        return False
    length_byte = data[1]
    offset = 2 if length_byte < 0x80 else 2 + (length_byte & 0x7F)
    return data[offset : offset + 3] == b"\x02\x01\x03"


def pkcs12_bytes(
    signer: KeySigner, password: str, kdf_rounds: int, name: str | None = None
) -> bytes:
    """A PKCS#12 file (PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC; HMAC-SHA256 MAC)."""
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(kdf_rounds)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(password.encode("utf-8"))
    )
    label = name.encode("utf-8") if name else None
    return pkcs12.serialize_key_and_certificates(
        label, signer.private_key, signer.certificate, None, encryption
    )


# Purposes of the officials' sealed signing keys (crypto.sealing), by role.
OFFICIAL_KEY_PURPOSES = {
    "organiser": "organiser-signing-key",
    "collector": "collector-signing-key",
}


def seal_signer(signer: KeySigner, passphrase: str, purpose: str, cost: int | None = None) -> bytes:
    """The signer sealed with crypto.sealing: a self-contained key file. The plaintext is the
    canonical JSON {"version": 1, "key": b64url(PKCS#8 DER), "certificate": b64url(DER)}."""
    key = signer.private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    plaintext = canonical_bytes(
        {
            "version": 1,
            "key": b64url(key),
            "certificate": b64url(signer.certificate.public_bytes(serialization.Encoding.DER)),
        }
    )
    if cost is None:
        return sealing.seal(plaintext, passphrase, purpose)
    return sealing.seal(plaintext, passphrase, purpose, cost=cost)


def load_sealed_signer(
    sealed: bytes,
    passphrase: str,
    purpose: str | None = None,
    certificate: x509.Certificate | bytes | None = None,
    field: str = "sealed key",
) -> KeySigner:
    """A KeySigner from a sealed key file (seal_signer): how the organiser and the collector
    load their signing keys. `purpose` None accepts any officials' purpose (the purpose is
    authenticated on opening); `certificate`, when given, must be the sealed one. A wrong
    passphrase is crypto.errors.SealError naming the file; a bad content MalformedKeyFile."""
    try:
        if purpose is None:
            purpose = sealing.sealed_purpose(sealed)
            if purpose not in OFFICIAL_KEY_PURPOSES.values():
                raise MalformedKeyFile(field, f"sealed for {purpose!r}, not a signing key")
        plaintext = sealing.unseal(sealed, passphrase, purpose)
    except SealError as exc:
        raise SealError(f"{field}: {exc}") from exc
    except FormatError as exc:
        raise MalformedKeyFile(field, f"not a sealed key file ({exc})") from exc
    try:
        content = parse_canonical(plaintext, field)
        check_version(content, field)
        key_der = parse_b64url(require(content, "key", str, field), f"{field}.key")
        cert_der = parse_b64url(require(content, "certificate", str, field), f"{field}.certificate")
        key = serialization.load_der_private_key(key_der, password=None)
    except (FormatError, ValueError) as exc:
        raise MalformedKeyFile(field, f"the sealed content is not a signing key ({exc})") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise MalformedKeyFile(field, "not an ECDSA key")
    sealed_certificate = parse_certificate(cert_der, f"{field}.certificate", der_only=True)
    if isinstance(certificate, bytes):
        certificate = parse_certificate(certificate, f"{field} certificate")
    if certificate is not None and certificate != sealed_certificate:
        raise MalformedKeyFile(field, "the key file belongs to another certificate")
    try:
        return KeySigner(key, sealed_certificate)
    except EidError as exc:
        raise MalformedKeyFile(field, exc.problem) from exc


# -- trust and certificate checks ----------------------------------------------------------


@dataclass(frozen=True)
class TrustStore:
    """What the election trusts for voters' e-IDs: root certificates (trust anchors), the
    intermediate CAs that may appear in chains, and the CAs' CRLs.

    `require_crl`: the CA that issued the voter's certificate must have a CRL here that covers
    the time of the check; CRLs of higher CAs are checked when present."""

    roots: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()
    crls: tuple[x509.CertificateRevocationList, ...] = ()
    require_crl: bool = True
    # Derived once: the verifier's store, and each CRL with its signer's key (SPKI DER), so
    # that a check costs no CRL signature verification.
    _store: verification.Store = field(init=False, repr=False, compare=False)
    _crls_by_signer: tuple[tuple[bytes, x509.CertificateRevocationList], ...] = field(
        init=False, repr=False, compare=False
    )
    # The issuing-CA shortcut of _verified_chain: the CA of each subject name (None when two
    # CAs share a name, which turns the shortcut off), and the chains above an issuing CA
    # that a full path validation has built (its anchor store with them).
    _ca_by_subject: dict[x509.Name, x509.Certificate] | None = field(
        init=False, repr=False, compare=False
    )
    _issuer_chains: dict[x509.Certificate, tuple[tuple[x509.Certificate, ...], Any]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not self.roots:
            raise UntrustedIssuer("trust.roots", "no trusted root certificate")
        for index, item in enumerate(self.roots + self.intermediates):
            if not isinstance(item, x509.Certificate):
                raise MalformedCertificate(f"trust.certificates[{index}]", "not a certificate")
        signed = []
        for index, crl in enumerate(self.crls):
            signer = next(
                (ca for ca in self.roots + self.intermediates if _crl_signed_by(crl, ca)), None
            )
            if signer is None:
                raise CrlInvalid(
                    f"trust.crls[{index}]",
                    f"not signed by any trusted CA (issuer {crl.issuer.rfc4514_string()})",
                )
            signed.append((_spki(signer), crl))
        object.__setattr__(self, "_store", verification.Store(list(self.roots)))
        object.__setattr__(self, "_crls_by_signer", tuple(signed))
        cas = dict.fromkeys(self.roots + self.intermediates)  # each certificate once
        by_subject: dict[x509.Name, x509.Certificate] | None = {}
        for certificate in cas:
            if by_subject is None or certificate.subject in by_subject:
                by_subject = None
                break
            by_subject[certificate.subject] = certificate
        if len(cas) > _SHORTCUT_MAX_CAS:
            by_subject = None
        object.__setattr__(self, "_ca_by_subject", by_subject)
        object.__setattr__(self, "_issuer_chains", {})

    def crls_of(self, issuer: x509.Certificate) -> list[x509.CertificateRevocationList]:
        """The CRLs in this store signed by `issuer`'s key (checked at construction)."""
        key = _spki(issuer)
        return [crl for signer, crl in self._crls_by_signer if signer == key]


def load_trust_store(
    roots: bytes | Sequence[bytes],
    intermediates: bytes | Sequence[bytes] = (),
    crls: bytes | Sequence[bytes] = (),
    require_crl: bool = True,
) -> TrustStore:
    """A TrustStore from PEM bundles or DER bytes; every CRL must be signed by one of the CAs."""
    return TrustStore(
        tuple(_many(roots, parse_certificates, "trust.roots")),
        tuple(_many(intermediates, parse_certificates, "trust.intermediates")),
        tuple(_many(crls, parse_crls, "trust.crls")),
        require_crl,
    )


@functools.lru_cache(maxsize=64)
def _spki(certificate: x509.Certificate) -> bytes:
    return certificate_public_key(certificate, "trust").public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _many(data: bytes | Sequence[bytes], parse: Any, field: str) -> list[Any]:
    items = [data] if isinstance(data, bytes) else list(data)
    parsed: list[Any] = []
    for index, item in enumerate(items):
        parsed.extend(parse(item, f"{field}[{index}]"))
    return parsed


def _crl_signed_by(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> bool:
    if crl.issuer != ca.subject:
        return False
    try:
        return crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError, UnsupportedAlgorithm):
        return False


@dataclass(frozen=True)
class VoterIdentity:
    """Who a checked e-ID certificate names. personal_code is the subject serialNumber exactly
    as written (e.g. PNOEE-38001085718): the voter list's key."""

    personal_code: str
    given_name: str
    surname: str
    serial: int
    not_before: dt.datetime
    not_after: dt.datetime


def check_certificate(
    certificate: x509.Certificate,
    trust: TrustStore,
    at: dt.datetime,
    usage: str = "digitalSignature",
    field: str = "certificate",
) -> VoterIdentity:
    """Check a voter's e-ID certificate at time `at` (the cast time, not the check time):
    validity period, key usage, chain to a trusted root, revocation by the issuers' CRLs.
    Each failure is its own EidError subclass naming `field`."""
    check_structure(certificate, field)
    if at.tzinfo is None:
        raise ValueError("check_certificate needs a timezone-aware time")
    _require_p384(certificate_public_key(certificate, field), field)
    if at < certificate.not_valid_before_utc:
        raise CertificateNotYetValid(
            field, f"not valid before {certificate.not_valid_before_utc.isoformat()}"
        )
    if at > certificate.not_valid_after_utc:
        raise CertificateExpired(field, f"expired {certificate.not_valid_after_utc.isoformat()}")
    _check_key_usage(certificate, usage, field)
    identity = _identity(certificate, field)
    chain = _verified_chain(certificate, trust, at, field)
    _check_revocation(chain, trust, at, field)
    return identity


def _check_key_usage(certificate: x509.Certificate, usage: str, field: str) -> None:
    if usage not in KEY_USAGES:
        raise ValueError(f"unknown key usage {usage!r}")
    try:
        key_usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise WrongKeyUsage(field, f"no KeyUsage extension; {usage} required") from exc
    if not getattr(key_usage, KEY_USAGES[usage]):
        raise WrongKeyUsage(field, f"KeyUsage does not include {usage}")


def _identity(certificate: x509.Certificate, field: str) -> VoterIdentity:
    def one(oid: x509.ObjectIdentifier, name: str) -> str:
        values = certificate.subject.get_attributes_for_oid(oid)
        if len(values) != 1:
            raise MalformedCertificate(
                f"{field}.subject.{name}", f"expected exactly one, found {len(values)}"
            )
        value = values[0].value
        if not isinstance(value, str) or not value.strip():
            raise MalformedCertificate(f"{field}.subject.{name}", "empty")
        return value

    return VoterIdentity(
        personal_code=one(NameOID.SERIAL_NUMBER, "serialNumber"),
        given_name=one(NameOID.GIVEN_NAME, "givenName"),
        surname=one(NameOID.SURNAME, "surname"),
        serial=certificate.serial_number,
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
    )


# Web PKI defaults, except that a voter's certificate needs no SAN (ID cards carry none) and
# its EKU, when present, is the card's business: the KeyUsage check above is what we require.
_EE_POLICY = (
    verification.ExtensionPolicy.webpki_defaults_ee()
    .may_be_present(x509.SubjectAlternativeName, verification.Criticality.AGNOSTIC, None)
    .may_be_present(x509.ExtendedKeyUsage, verification.Criticality.AGNOSTIC, None)
)
_CA_POLICY = verification.ExtensionPolicy.webpki_defaults_ca()


# The shortcut below is only taken for stores this small (the validator's signature budget,
# 128 checks, can then never run out on the full path either).
_SHORTCUT_MAX_CAS = 16


def _verified_chain(
    certificate: x509.Certificate, trust: TrustStore, at: dt.datetime, field: str
) -> list[x509.Certificate]:
    """The chain from `certificate` to a trusted root, valid at `at` (RFC 5280 path validation
    by cryptography's verifier under the Web PKI policies, adapted as _EE_POLICY says).

    Every voter has their own certificate, but a handful of CAs issue them all. Once a full
    validation has built leaf -> I -> ... -> root, the part above the issuing CA I depends
    on the leaf only through the validity periods and name constraints of I's issuers: for
    a later leaf with I's name as issuer, I is made the anchor of the validation (every check
    of the leaf, and of I as its issuer, is the same code as on the full path), and the chain
    above I is re-checked for validity at `at`. Taken only when no two CAs of the store share
    a subject name (so I is the only candidate issuer, the full path's only chain goes through
    it) and no CA above I has name constraints. A leaf the shortcut refuses goes through the
    full path, whose error is the one raised."""
    ca_by_subject = trust._ca_by_subject
    if ca_by_subject is not None:
        issuer = ca_by_subject.get(certificate.issuer)
        known = trust._issuer_chains.get(issuer) if issuer is not None else None
        if known is not None:
            above, anchor = known
            if all(ca.not_valid_before_utc <= at <= ca.not_valid_after_utc for ca in above[1:]):
                try:
                    _build_chain(certificate, anchor, (), at)
                    return [certificate, *above]
                except verification.VerificationError:
                    pass  # the full path names the problem
    try:
        chain = _build_chain(certificate, trust._store, trust.intermediates, at)
    except verification.VerificationError as exc:
        raise UntrustedIssuer(
            field,
            f"no valid chain from issuer {certificate.issuer.rfc4514_string()} "
            f"to a trusted root ({exc})",
        ) from exc
    if ca_by_subject is not None and len(chain) >= 2 and chain[1] not in trust._issuer_chains:
        above = tuple(chain[1:])
        if not any(_has_name_constraints(ca) for ca in above[1:]):
            trust._issuer_chains[chain[1]] = (above, verification.Store([chain[1]]))
    return chain


def _build_chain(
    certificate: x509.Certificate,
    store: verification.Store,
    intermediates: Sequence[x509.Certificate],
    at: dt.datetime,
) -> list[x509.Certificate]:
    verifier = (
        verification.PolicyBuilder()
        .store(store)
        .time(at)
        .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
        .build_client_verifier()
    )
    return list(verifier.verify(certificate, list(intermediates)).chain)


def _has_name_constraints(certificate: x509.Certificate) -> bool:
    try:
        certificate.extensions.get_extension_for_class(x509.NameConstraints)
    except x509.ExtensionNotFound:
        return False
    return True


def _check_revocation(
    chain: list[x509.Certificate], trust: TrustStore, at: dt.datetime, field: str
) -> None:
    """RFC 5280 revocation by CRL, at time `at`: a certificate revoked after `at` was valid
    then. Every CRL its issuer signed is searched (a revocation is never undone); one of them
    must be current at `at`: nextUpdate not before `at` (a CRL issued later still lists every
    earlier revocation)."""
    for depth, (subject, issuer) in enumerate(itertools.pairwise(chain)):
        where = field if depth == 0 else f"{field}.chain[{depth}]"
        issued_by = trust.crls_of(issuer)
        for crl in issued_by:
            entry = crl.get_revoked_certificate_by_serial_number(subject.serial_number)
            if entry is not None and entry.revocation_date_utc <= at:
                raise CertificateRevoked(
                    where,
                    f"serial {subject.serial_number:x} revoked "
                    f"{entry.revocation_date_utc.isoformat()}",
                )
        in_scope = [crl for crl in issued_by if _complete_for(crl, subject, depth > 0)]
        current = any(
            crl.next_update_utc is not None and crl.next_update_utc >= at for crl in in_scope
        )
        if not current and depth == 0 and trust.require_crl:
            # name a stale CRL as such, and CRLs that do not give the certificate's status
            problem = "expired" if in_scope else "missing"
            if issued_by and not in_scope:
                problem = "no complete CRL for its scope: only delta or partitioned CRLs"
            raise RevocationUnknown(
                where,
                f"no CRL from {issuer.subject.rfc4514_string()} covering {at.isoformat()} "
                f"({problem})",
            )


def _complete_for(
    crl: x509.CertificateRevocationList, certificate: x509.Certificate, is_ca: bool
) -> bool:
    """Whether `crl` alone gives the revocation status of `certificate` for every reason
    (RFC 5280 5.2.4, 5.2.5, 6.3.3): not a delta CRL; and when it has an issuing distribution
    point, one that covers this kind of certificate, every reason, certificates of its own
    issuer only, and a distribution point the certificate names in its CRL distribution
    points. Delta and partitioned CRLs are never applied as complete: their entries still
    revoke (a listed revocation is evidence), but they do not make the status known."""
    extensions = crl.extensions
    try:
        extensions.get_extension_for_class(x509.DeltaCRLIndicator)
        return False
    except x509.ExtensionNotFound:
        pass
    try:
        point = extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return True  # a full CRL of the issuer
    if point.indirect_crl or point.only_some_reasons or point.only_contains_attribute_certs:
        return False
    if (point.only_contains_user_certs and is_ca) or (point.only_contains_ca_certs and not is_ca):
        return False
    if point.relative_name is not None:
        return False  # not used by ivote's CAs; never taken as covering
    if point.full_name:
        try:
            named = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints)
        except x509.ExtensionNotFound:
            return False
        names = {name for dp in named.value for name in dp.full_name or ()}
        return any(name in names for name in point.full_name)
    return True


def listed_revocations(certificate: x509.Certificate, trust: TrustStore) -> list[dt.datetime]:
    """The revocation dates the store's CRLs give for this certificate (CRLs whose issuer name
    is the certificate's issuer; every CRL of the store is signed by one of its CAs). One
    checked at time t stays unrevoked until the earliest of them after t."""
    return [
        entry.revocation_date_utc
        for crl in trust.crls
        if crl.issuer == certificate.issuer
        for entry in [crl.get_revoked_certificate_by_serial_number(certificate.serial_number)]
        if entry is not None
    ]


def certificate_fingerprint(certificate: x509.Certificate) -> bytes:
    """SHA-256 of the DER certificate: how officials' certificates are pinned."""
    return certificate.fingerprint(hashes.SHA256())


def certificates_pem(certificates: Iterable[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)
