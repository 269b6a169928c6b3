"""The one envelope for signed objects (ballots, manifest, receipts, log heads, ballot box):

    {"version": 1,
     "payload": <object>,
     "signature": {"algorithm": "ecdsa-p384-sha384",
                   "domain": <registered domain tag>,
                   "certificate": <base64url DER X.509 certificate of the signer>,
                   "value": <base64url DER ECDSA signature>}}

The signature covers ascii(domain) || 0x00 || canonical_bytes(payload) (crypto.eid.sign), so
a signature made for one purpose never opens as another. Every error names the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from canonical.encoding import (
    DOMAINS,
    FormatError,
    b64url,
    check_version,
    parse_b64url,
    require,
)
from crypto.eid import (
    ALGORITHM,
    Signer,
    TrustStore,
    VoterIdentity,
    WrongSigner,
    check_certificate,
    parse_certificate,
    sign,
    verify,
)

ENVELOPE_FIELDS = frozenset({"version", "payload", "signature"})
SIGNATURE_FIELDS = frozenset({"algorithm", "domain", "certificate", "value"})
MAX_CERTIFICATE_BYTES = 16_384
MAX_SIGNATURE_BYTES = 128  # DER ECDSA P-384 signatures are at most 104 bytes


def sign_object(signer: Signer, domain: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Wrap `payload` in a signed envelope made by `signer` (an e-ID or an official's key)."""
    if domain not in DOMAINS.values():
        raise ValueError(f"unregistered signature domain {domain!r}")
    if not isinstance(payload, dict):
        raise FormatError("payload", "expected an object")
    certificate = signer.certificate.public_bytes(serialization.Encoding.DER)
    return {
        "version": 1,
        "payload": payload,
        "signature": {
            "algorithm": ALGORITHM,
            "domain": domain,
            "certificate": b64url(certificate),
            "value": b64url(sign(signer, domain, payload)),
        },
    }


def open_signed(
    doc: Any,
    domain: str,
    trust: TrustStore | None = None,
    expected_cert: x509.Certificate | None = None,
    at: dt.datetime | None = None,
    where: str = "signed",
    check_signature: bool = True,
) -> tuple[dict[str, Any], x509.Certificate, VoterIdentity | None]:
    """Check a signed envelope and return (payload, signer's certificate, identity).

    - The signature must verify under the envelope's certificate for `domain`
      (crypto.eid.SignatureInvalid).
    - With `expected_cert` (an official's pinned certificate), the envelope's certificate must
      be that one, byte for byte (crypto.eid.WrongSigner; another certificate for the same key
      is refused too): how manifests, receipts and log heads are checked.
    - With `trust`, the certificate is checked as a voter's e-ID at time `at` (default now):
      chain, validity, key usage, revocation; the voter's identity is returned. Otherwise the
      identity is None.
    - check_signature=False skips only the signature verification, for envelopes inside a
      document whose own verified signature, by the same `expected_cert`, covers their bytes
      (the receipts in a ballot box): everything else is still checked.
    Structural errors are canonical.encoding.FormatError; e-ID errors are crypto.eid.EidError
    subclasses; both name the field (`where.signature.value`, ...).
    """
    if domain not in DOMAINS.values():
        raise ValueError(f"unregistered signature domain {domain!r}")
    if not isinstance(doc, dict):
        raise FormatError(where, "expected a signed object")
    check_version(doc, where)
    _no_extra(doc, ENVELOPE_FIELDS, where)
    payload = require(doc, "payload", dict, where)
    signature = require(doc, "signature", dict, where)
    at_sig = f"{where}.signature"
    _no_extra(signature, SIGNATURE_FIELDS, at_sig)
    algorithm = require(signature, "algorithm", str, at_sig)
    if algorithm != ALGORITHM:
        raise FormatError(
            f"{at_sig}.algorithm", f"unsupported {algorithm!r} (expected {ALGORITHM})"
        )
    signed_domain = require(signature, "domain", str, at_sig)
    if signed_domain != domain:
        raise FormatError(f"{at_sig}.domain", f"is {signed_domain!r}, expected {domain!r}")
    certificate_der = parse_b64url(
        require(signature, "certificate", str, at_sig), f"{at_sig}.certificate"
    )
    if len(certificate_der) > MAX_CERTIFICATE_BYTES:
        raise FormatError(f"{at_sig}.certificate", "too large")
    value = parse_b64url(require(signature, "value", str, at_sig), f"{at_sig}.value")
    if len(value) > MAX_SIGNATURE_BYTES:
        raise FormatError(f"{at_sig}.value", "too large for an ECDSA P-384 signature")
    certificate = parse_certificate(certificate_der, f"{at_sig}.certificate", der_only=True)
    if check_signature:
        verify(
            certificate,
            domain,
            payload,
            value,
            field=f"{at_sig}.value",
            key_field=f"{at_sig}.certificate",
        )
    elif expected_cert is None:
        raise ValueError("an envelope's signature may go unchecked only with expected_cert")
    # the envelope's own bytes, not a re-encoding: the pinned certificate byte for byte
    if expected_cert is not None and certificate_der != _der(expected_cert):
        raise WrongSigner(
            f"{at_sig}.certificate",
            f"signed by {certificate.subject.rfc4514_string()}, "
            f"expected {expected_cert.subject.rfc4514_string()}",
        )
    identity = None
    if trust is not None:
        moment = at or dt.datetime.now(dt.UTC)
        identity = check_certificate(certificate, trust, moment, field=f"{at_sig}.certificate")
    return payload, certificate, identity


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def _no_extra(obj: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        raise FormatError(f"{where}.{extra[0]}", "unknown field")
