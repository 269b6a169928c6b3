"""crypto.eid signing and verification: what a signature covers, and every way it fails."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from eid_helpers import Pki
from hypothesis import given
from hypothesis import strategies as st

from canonical.encoding import DOMAINS
from crypto import eid

BALLOT = DOMAINS["ballot"]
RECEIPT = DOMAINS["receipt"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
payloads = st.dictionaries(st.text(max_size=8), json_values, max_size=5)


def test_signing_input_is_domain_nul_canonical_bytes() -> None:
    assert (
        eid.signing_input(BALLOT, {"b": 1, "a": "õ"})
        == b'ivote/v1/ballot\x00{"a":"\xc3\xb5","b":1}'
    )


def test_signature_is_ecdsa_p384_sha384_over_the_signing_input(test_pki: Pki) -> None:
    payload = {"version": 1, "choice": "x"}
    signature = eid.sign(test_pki.alice, BALLOT, payload)
    # Checked with the primitive directly: the prehashed SHA-384 of the documented bytes.
    digest = hashlib.sha384(eid.signing_input(BALLOT, payload)).digest()
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    test_pki.alice.certificate.public_key().verify(  # type: ignore[call-arg]
        signature, digest, ec.ECDSA(Prehashed(hashes.SHA384()))
    )


@given(payload=payloads)
def test_sign_then_verify(test_pki: Pki, payload: dict) -> None:
    signature = eid.sign(test_pki.alice, BALLOT, payload)
    eid.verify(test_pki.alice.certificate, BALLOT, payload, signature)
    eid.verify(test_pki.alice.certificate.public_key(), BALLOT, payload, signature)  # type: ignore[arg-type]


def test_a_raw_private_key_signs_too(test_pki: Pki) -> None:
    signature = eid.sign(test_pki.alice.private_key, BALLOT, {"a": 1})
    eid.verify(test_pki.alice.certificate, BALLOT, {"a": 1}, signature)


@given(payload=payloads, other=payloads)
def test_signature_over_other_bytes_is_refused(test_pki: Pki, payload: dict, other: dict) -> None:
    signature = eid.sign(test_pki.alice, BALLOT, payload)
    if eid.signing_input(BALLOT, other) == eid.signing_input(BALLOT, payload):
        return
    with pytest.raises(eid.SignatureInvalid) as caught:
        eid.verify(test_pki.alice.certificate, BALLOT, other, signature)
    assert caught.value.field == "signature"


def test_signature_for_another_domain_is_refused(test_pki: Pki) -> None:
    signature = eid.sign(test_pki.alice, BALLOT, {"a": 1})
    with pytest.raises(eid.SignatureInvalid, match="ivote/v1/receipt"):
        eid.verify(test_pki.alice.certificate, RECEIPT, {"a": 1}, signature)


def test_signature_by_another_voters_key_is_refused(test_pki: Pki) -> None:
    signature = eid.sign(test_pki.bob, BALLOT, {"a": 1})
    with pytest.raises(eid.SignatureInvalid):
        eid.verify(test_pki.alice.certificate, BALLOT, {"a": 1}, signature)


@pytest.mark.parametrize(
    "signature",
    [b"", b"\x30\x00", b"not a signature", encode_dss_signature(0, 1), encode_dss_signature(1, 0)],
)
def test_malformed_signature_is_refused(test_pki: Pki, signature: bytes) -> None:
    with pytest.raises(eid.SignatureInvalid):
        eid.verify(test_pki.alice.certificate, BALLOT, {"a": 1}, signature)


def test_high_s_variant_is_still_the_same_signature(test_pki: Pki) -> None:
    """ECDSA is malleable (r, n-s); we verify, we do not deduplicate by signature bytes."""
    signature = eid.sign(test_pki.alice, BALLOT, {"a": 1})
    r, s = decode_dss_signature(signature)
    order = int(
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf"
        "581a0db248b0a77aecec196accc52973",
        16,
    )
    eid.verify(test_pki.alice.certificate, BALLOT, {"a": 1}, encode_dss_signature(r, order - s))


def test_unregistered_domain_is_a_programming_error(test_pki: Pki) -> None:
    with pytest.raises(ValueError, match="unregistered"):
        eid.sign(test_pki.alice, "ivote/v1/nonsense", {"a": 1})


def test_non_p384_keys_are_refused(test_pki: Pki) -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(eid.MalformedCertificate, match="P-384"):
        eid.sign(p256, BALLOT, {"a": 1})
    signature = p256.sign(eid.signing_input(BALLOT, {"a": 1}), ec.ECDSA(hashes.SHA384()))
    with pytest.raises(eid.MalformedCertificate, match="P-384"):
        eid.verify(p256.public_key(), BALLOT, {"a": 1}, signature)


def test_key_signer_refuses_a_key_that_is_not_the_certificates(test_pki: Pki) -> None:
    with pytest.raises(eid.MalformedKeyFile, match="does not belong"):
        eid.KeySigner(test_pki.alice.private_key, test_pki.bob.certificate)


def test_key_signer_satisfies_the_signer_protocol(test_pki: Pki) -> None:
    assert isinstance(test_pki.alice, eid.Signer)
    assert isinstance(test_pki.alice.certificate, x509.Certificate)
    assert "private_key" not in repr(test_pki.alice)  # never printed by accident
