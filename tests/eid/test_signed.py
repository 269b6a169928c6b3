"""formats.signed: the signed-object envelope; every error names its field."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from eid_helpers import ALICE, NOW, Pki
from hypothesis import given
from hypothesis import strategies as st
from support.election import der

from canonical.encoding import DOMAINS, FormatError, b64url, canonical_bytes, parse_canonical
from crypto import eid
from formats.signed import open_signed, sign_object

BALLOT = DOMAINS["ballot"]
RECEIPT = DOMAINS["receipt"]
PAYLOAD = {"version": 1, "election_id": "RK2027", "choice": ["ab", "cd"]}


def test_round_trip_through_canonical_bytes(test_pki: Pki) -> None:
    doc = sign_object(test_pki.alice, BALLOT, PAYLOAD)
    assert doc["version"] == 1
    assert doc["signature"]["algorithm"] == "ecdsa-p384-sha384"
    assert doc["signature"]["domain"] == BALLOT
    assert doc["signature"]["certificate"] == b64url(der(test_pki.alice.certificate))
    received = parse_canonical(canonical_bytes(doc))
    payload, certificate, identity = open_signed(received, BALLOT, test_pki.trust(), at=NOW)
    assert payload == PAYLOAD
    assert certificate == test_pki.alice.certificate
    assert identity is not None and identity.personal_code == ALICE.personal_code


def test_without_trust_no_identity(test_pki: Pki) -> None:
    doc = sign_object(test_pki.alice, BALLOT, PAYLOAD)
    assert open_signed(doc, BALLOT)[2] is None


def test_tampered_payload(test_pki: Pki) -> None:
    doc = sign_object(test_pki.alice, BALLOT, PAYLOAD)
    doc["payload"]["choice"] = ["ab", "ce"]
    with pytest.raises(eid.SignatureInvalid) as caught:
        open_signed(doc, BALLOT, test_pki.trust(), at=NOW)
    assert caught.value.field == "signed.signature.value"


def test_another_voters_certificate_swapped_in(test_pki: Pki) -> None:
    """Bob signs but claims to be Alice: the signature does not verify under her key."""
    doc = sign_object(test_pki.bob, BALLOT, PAYLOAD)
    doc["signature"]["certificate"] = b64url(der(test_pki.alice.certificate))
    with pytest.raises(eid.SignatureInvalid):
        open_signed(doc, BALLOT, test_pki.trust(), at=NOW)


def test_valid_signature_by_the_wrong_signer(test_pki: Pki) -> None:
    """A receipt validly signed, but not by the collector's pinned key."""
    doc = sign_object(test_pki.bob, RECEIPT, PAYLOAD)
    with pytest.raises(eid.WrongSigner, match="expected") as caught:
        open_signed(doc, RECEIPT, expected_cert=test_pki.alice.certificate)
    assert caught.value.field == "signed.signature.certificate"
    payload, _, _ = open_signed(doc, RECEIPT, expected_cert=test_pki.bob.certificate)
    assert payload == PAYLOAD


def test_pinned_signer_is_the_certificate_not_the_key(test_pki: Pki) -> None:
    """Another certificate for the pinned signer's own key: the signature verifies under it,
    but the envelope's certificate is not byte for byte the pinned one."""
    pinned = test_pki.bob.certificate
    other = (
        x509.CertificateBuilder()
        .subject_name(pinned.subject)
        .issuer_name(pinned.issuer)
        .public_key(pinned.public_key())
        .serial_number(pinned.serial_number + 1)
        .not_valid_before(pinned.not_valid_before_utc)
        .not_valid_after(pinned.not_valid_after_utc)
        .sign(test_pki.issuing.private_key, hashes.SHA384())
    )
    doc = sign_object(test_pki.bob, RECEIPT, PAYLOAD)
    doc["signature"]["certificate"] = b64url(der(other))
    assert open_signed(doc, RECEIPT)[0] == PAYLOAD  # a valid signature under `other`
    with pytest.raises(eid.WrongSigner):
        open_signed(doc, RECEIPT, expected_cert=pinned)


def test_unchecked_signature_still_needs_the_pinned_signer(test_pki: Pki) -> None:
    """check_signature=False (an envelope covered by an enclosing signature): the signature
    goes unverified, but the signer must still be the pinned one, and a pin is required."""
    doc = sign_object(test_pki.bob, RECEIPT, PAYLOAD)
    value = doc["signature"]["value"]
    doc["signature"]["value"] = ("A" if value[0] != "A" else "B") + value[1:]
    pinned = test_pki.bob.certificate
    with pytest.raises(eid.SignatureInvalid):
        open_signed(doc, RECEIPT, expected_cert=pinned)
    assert open_signed(doc, RECEIPT, expected_cert=pinned, check_signature=False)[0] == PAYLOAD
    with pytest.raises(eid.WrongSigner):
        open_signed(doc, RECEIPT, expected_cert=test_pki.alice.certificate, check_signature=False)
    with pytest.raises(ValueError, match="expected_cert"):
        open_signed(doc, RECEIPT, check_signature=False)


def test_signature_made_for_another_purpose(test_pki: Pki) -> None:
    doc = sign_object(test_pki.alice, BALLOT, PAYLOAD)
    with pytest.raises(FormatError, match="expected 'ivote/v1/receipt'") as caught:
        open_signed(doc, RECEIPT)
    assert caught.value.field == "signed.signature.domain"
    doc["signature"]["domain"] = RECEIPT  # relabelled: the signature input differs
    with pytest.raises(eid.SignatureInvalid):
        open_signed(doc, RECEIPT)


def test_certificate_checks_apply_at_the_given_time(test_pki: Pki) -> None:
    doc = sign_object(test_pki.carol, BALLOT, PAYLOAD)  # Carol's e-ID is revoked 2027-02-01
    with pytest.raises(eid.CertificateRevoked) as caught:
        open_signed(doc, BALLOT, test_pki.trust(), at=NOW)
    assert caught.value.field == "signed.signature.certificate"
    before = test_pki.carol_revoked - dt.timedelta(days=1)
    assert open_signed(doc, BALLOT, test_pki.trust(), at=before)[2] is not None


def _set(doc: dict, path: tuple[str, ...], value: Any) -> dict:
    changed = copy.deepcopy(doc)
    target = changed
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "field", "error"),
    [
        (("version",), 2, "signed.version", FormatError),
        (("version",), _DELETE, "signed.version", FormatError),
        (("extra",), 1, "signed.extra", FormatError),
        (("payload",), [1], "signed.payload", FormatError),
        (("payload",), _DELETE, "signed.payload", FormatError),
        (("signature",), "x", "signed.signature", FormatError),
        (("signature", "algorithm"), "rsa-pss", "signed.signature.algorithm", FormatError),
        (("signature", "note"), "hi", "signed.signature.note", FormatError),
        (("signature", "value"), "not base64!", "signed.signature.value", FormatError),
        (("signature", "value"), _DELETE, "signed.signature.value", FormatError),
        (
            ("signature", "value"),
            b64url(b"\x30\x00"),
            "signed.signature.value",
            eid.SignatureInvalid,
        ),
        (("signature", "value"), b64url(b"x" * 200), "signed.signature.value", FormatError),
        (
            ("signature", "certificate"),
            b64url(b"\x30\x03\x02\x01\x01"),
            "signed.signature.certificate",
            eid.MalformedCertificate,
        ),
        (("signature", "certificate"), 5, "signed.signature.certificate", FormatError),
    ],
)
def test_malformed_envelopes_name_the_field(
    test_pki: Pki, path: tuple[str, ...], value: Any, field: str, error: type[Exception]
) -> None:
    doc = _set(sign_object(test_pki.alice, BALLOT, PAYLOAD), path, value)
    with pytest.raises(error) as caught:
        open_signed(doc, BALLOT, test_pki.trust(), at=NOW)
    assert caught.value.field == field  # type: ignore[attr-defined]


def test_pem_where_der_belongs(test_pki: Pki) -> None:
    from support.election import pem

    doc = sign_object(test_pki.alice, BALLOT, PAYLOAD)
    doc["signature"]["certificate"] = b64url(pem(test_pki.alice.certificate))
    with pytest.raises(eid.MalformedCertificate, match="expected DER"):
        open_signed(doc, BALLOT)


def test_not_an_object() -> None:
    with pytest.raises(FormatError, match="expected a signed object"):
        open_signed([], BALLOT)


def test_payload_must_have_a_canonical_encoding(test_pki: Pki) -> None:
    with pytest.raises(FormatError, match="floats"):
        sign_object(test_pki.alice, BALLOT, {"x": 1.5})


leaves = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=5)
mutations = st.recursive(
    leaves, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3)
)


@given(
    path=st.sampled_from(
        [
            ("version",),
            ("payload",),
            ("payload", "choice"),
            ("signature",),
            ("signature", "algorithm"),
            ("signature", "domain"),
            ("signature", "certificate"),
            ("signature", "value"),
            ("nonsense",),
        ]
    ),
    value=mutations,
)
def test_any_mutation_is_a_named_error_never_a_crash(
    test_pki: Pki, path: tuple[str, ...], value: Any
) -> None:
    original = sign_object(test_pki.alice, BALLOT, PAYLOAD)
    doc = _set(original, path, value)
    if doc == original:
        return
    with pytest.raises((FormatError, eid.EidError)) as caught:
        open_signed(doc, BALLOT, test_pki.trust(), at=NOW)
    assert caught.value.field.startswith("signed")  # type: ignore[union-attr]
