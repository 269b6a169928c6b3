"""crypto.eid certificate checks: chain, validity, key usage, revocation at a time, identity;
each failure its own error."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from eid_helpers import ALICE, BOB, CAROL, CRL_TIME, EID_START, NOW, UTC, Pki
from hypothesis import given
from hypothesis import strategies as st
from support.election import der, pem

from ceremonies import pki
from crypto import eid
from formats.voters import Voter


def test_valid_certificate_gives_the_voters_identity(test_pki: Pki) -> None:
    identity = eid.check_certificate(test_pki.alice.certificate, test_pki.trust(), NOW)
    assert identity.personal_code == ALICE.personal_code
    assert identity.given_name == ALICE.given_name
    assert identity.surname == ALICE.surname
    assert identity.serial == test_pki.alice.certificate.serial_number
    assert identity.not_before == EID_START
    assert identity.not_after == EID_START + dt.timedelta(days=5 * 365)


def test_subject_is_laid_out_as_on_an_id_card(test_pki: Pki) -> None:
    subject = test_pki.bob.certificate.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "JÕEORG,JAAK-KRISTJAN,38001085718"
    )
    assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "EE"
    key_usage = test_pki.bob.certificate.extensions.get_extension_for_class(x509.KeyUsage)
    assert key_usage.critical and key_usage.value.digital_signature
    with pytest.raises(x509.ExtensionNotFound):
        test_pki.bob.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)


def test_expired(test_pki: Pki) -> None:
    old = test_pki.eid(
        ALICE,
        not_before=dt.datetime(2025, 2, 1, tzinfo=UTC),
        not_after=dt.datetime(2026, 2, 1, tzinfo=UTC),
    )
    with pytest.raises(eid.CertificateExpired, match="expired 2026-02-01"):
        eid.check_certificate(old.certificate, test_pki.trust(), NOW)
    # ...but it was valid when a ballot was cast before it expired.
    eid.check_certificate(old.certificate, test_pki.trust(), dt.datetime(2026, 1, 1, tzinfo=UTC))


def test_not_yet_valid(test_pki: Pki) -> None:
    future = test_pki.eid(ALICE, not_before=NOW + dt.timedelta(days=1))
    with pytest.raises(eid.CertificateNotYetValid):
        eid.check_certificate(future.certificate, test_pki.trust(), NOW)


def test_revoked_before_the_time_of_the_check(test_pki: Pki) -> None:
    with pytest.raises(eid.CertificateRevoked, match="revoked 2027-02-01") as caught:
        eid.check_certificate(test_pki.carol.certificate, test_pki.trust(), NOW)
    assert caught.value.field == "certificate"


def test_revoked_after_the_time_of_the_check_was_valid_then(test_pki: Pki) -> None:
    """A ballot cast before the revocation stays valid: revocation is checked at cast time."""
    cast = test_pki.carol_revoked - dt.timedelta(seconds=1)
    identity = eid.check_certificate(test_pki.carol.certificate, test_pki.trust(), cast)
    assert identity.personal_code == CAROL.personal_code
    # exactly at the revocation time it is revoked
    with pytest.raises(eid.CertificateRevoked):
        eid.check_certificate(test_pki.carol.certificate, test_pki.trust(), test_pki.carol_revoked)


def test_a_later_crl_covers_an_earlier_time(test_pki: Pki) -> None:
    """The tallier checks cast times with the CRL issued after the election."""
    cast = CRL_TIME - dt.timedelta(days=20)
    assert cast > test_pki.carol_revoked
    with pytest.raises(eid.CertificateRevoked):
        eid.check_certificate(test_pki.carol.certificate, test_pki.trust(), cast)


def test_untrusted_issuer_with_the_same_names(test_pki: Pki) -> None:
    rogue_root = pki.make_root_ca(now=dt.datetime(2025, 1, 1, tzinfo=UTC))
    rogue_ca = pki.make_intermediate_ca(rogue_root, now=dt.datetime(2025, 1, 1, tzinfo=UTC))
    assert rogue_ca.certificate.subject == test_pki.issuing.certificate.subject
    forged = pki.make_eid(rogue_ca, ALICE, EID_START, EID_START + dt.timedelta(days=900))
    with pytest.raises(eid.UntrustedIssuer, match="no valid chain"):
        eid.check_certificate(forged.certificate, test_pki.trust(), NOW)
    # even when the rogue intermediate is offered as an intermediate
    trust = eid.TrustStore(
        (test_pki.root.certificate,),
        (test_pki.issuing.certificate, rogue_ca.certificate),
        (test_pki.crl,),
    )
    with pytest.raises(eid.UntrustedIssuer):
        eid.check_certificate(forged.certificate, trust, NOW)


def test_missing_intermediate_is_untrusted(test_pki: Pki) -> None:
    trust = eid.TrustStore((test_pki.root.certificate,))
    with pytest.raises(eid.UntrustedIssuer):
        eid.check_certificate(test_pki.alice.certificate, trust, NOW)


def test_intermediate_as_the_trust_anchor_also_works(test_pki: Pki) -> None:
    """An election may trust the issuing CA directly (RFC 5280 trust anchors need not be
    self-signed)."""
    trust = eid.TrustStore((test_pki.issuing.certificate,), (), (test_pki.crl,))
    identity = eid.check_certificate(test_pki.alice.certificate, trust, NOW)
    assert identity.personal_code == ALICE.personal_code


@pytest.mark.parametrize(
    "usage",
    [
        x509.KeyUsage(False, True, False, False, False, False, False, False, False),
        x509.KeyUsage(False, False, True, False, False, False, False, False, False),
    ],
    ids=["nonRepudiation only", "keyEncipherment only"],
)
def test_wrong_key_usage(test_pki: Pki, usage: x509.KeyUsage) -> None:
    other = test_pki.eid(ALICE, key_usage=usage)
    with pytest.raises(eid.WrongKeyUsage, match="digitalSignature"):
        eid.check_certificate(other.certificate, test_pki.trust(), NOW)


def test_other_usage_can_be_asked_for(test_pki: Pki) -> None:
    signing = test_pki.eid(
        ALICE, key_usage=x509.KeyUsage(False, True, False, False, False, False, False, False, False)
    )
    eid.check_certificate(signing.certificate, test_pki.trust(), NOW, usage="nonRepudiation")


def _leaf(test_pki: Pki, subject: x509.Name, extensions: bool = True) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP384R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(test_pki.issuing.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(EID_START)
        .not_valid_after(EID_START + dt.timedelta(days=900))
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                test_pki.issuing.private_key.public_key()
            ),
            critical=False,
        )
    )
    if extensions:
        builder = builder.add_extension(pki.signing_key_usage(), critical=True)
    return builder.sign(test_pki.issuing.private_key, hashes.SHA384())


def test_no_key_usage_at_all_is_wrong_key_usage(test_pki: Pki) -> None:
    leaf = _leaf(test_pki, pki.voter_subject(ALICE), extensions=False)
    with pytest.raises(eid.WrongKeyUsage, match="no KeyUsage"):
        eid.check_certificate(leaf, test_pki.trust(), NOW)


def test_a_certificate_without_personal_code_is_not_an_e_id(test_pki: Pki) -> None:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ivote organiser")])
    leaf = _leaf(test_pki, subject)
    with pytest.raises(eid.MalformedCertificate, match="serialNumber"):
        eid.check_certificate(leaf, test_pki.trust(), NOW)


def test_a_p256_certificate_is_malformed_for_an_e_id(test_pki: Pki) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(pki.voter_subject(ALICE))
        .issuer_name(test_pki.issuing.certificate.subject)
        .public_key(key.public_key())
        .serial_number(1234)
        .not_valid_before(EID_START)
        .not_valid_after(EID_START + dt.timedelta(days=900))
        .add_extension(pki.signing_key_usage(), critical=True)
        .sign(test_pki.issuing.private_key, hashes.SHA384())
    )
    with pytest.raises(eid.MalformedCertificate, match="P-384"):
        eid.check_certificate(leaf, test_pki.trust(), NOW)


def test_missing_crl_means_revocation_unknown(test_pki: Pki) -> None:
    with pytest.raises(eid.RevocationUnknown, match="missing"):
        eid.check_certificate(test_pki.alice.certificate, test_pki.trust(crls=()), NOW)
    relaxed = eid.TrustStore(
        (test_pki.root.certificate,), (test_pki.issuing.certificate,), (), False
    )
    eid.check_certificate(test_pki.alice.certificate, relaxed, NOW)


def test_stale_crl_means_revocation_unknown(test_pki: Pki) -> None:
    later = CRL_TIME + dt.timedelta(days=8)
    with pytest.raises(eid.RevocationUnknown, match="expired"):
        eid.check_certificate(test_pki.alice.certificate, test_pki.trust(), later)
    # but what a stale CRL says was revoked stays revoked, CRL required or not
    relaxed = eid.TrustStore(
        (test_pki.root.certificate,), (test_pki.issuing.certificate,), (test_pki.crl,), False
    )
    eid.check_certificate(test_pki.alice.certificate, relaxed, later)
    with pytest.raises(eid.CertificateRevoked):
        eid.check_certificate(test_pki.carol.certificate, relaxed, later)
    with pytest.raises(eid.CertificateRevoked):
        eid.check_certificate(test_pki.carol.certificate, test_pki.trust(), later)


def test_crl_not_signed_by_a_trusted_ca_is_refused(test_pki: Pki) -> None:
    rogue = pki.make_intermediate_ca(pki.make_root_ca(now=CRL_TIME), now=CRL_TIME)
    forged = pki.make_crl(rogue, [], 1, CRL_TIME, CRL_TIME + dt.timedelta(days=7))
    assert forged.issuer == test_pki.issuing.certificate.subject
    with pytest.raises(eid.CrlInvalid, match="not signed by any trusted CA"):
        test_pki.trust(crls=(forged,))
    with pytest.raises(eid.CrlInvalid):
        eid.load_trust_store(
            pem(test_pki.root.certificate),
            pem(test_pki.issuing.certificate),
            forged.public_bytes(serialization.Encoding.DER),
        )


def test_revoked_intermediate_is_caught_by_the_roots_crl(test_pki: Pki) -> None:
    arl = pki.make_crl(
        test_pki.root,
        [pki.Revocation(test_pki.issuing.certificate.serial_number, CRL_TIME)],
        1,
        CRL_TIME,
        CRL_TIME + dt.timedelta(days=30),
    )
    trust = test_pki.trust(crls=(test_pki.crl, arl))
    with pytest.raises(eid.CertificateRevoked) as caught:
        eid.check_certificate(test_pki.alice.certificate, trust, NOW)
    assert caught.value.field == "certificate.chain[1]"
    eid.check_certificate(test_pki.alice.certificate, trust, CRL_TIME - dt.timedelta(days=1))


def test_load_trust_store_from_pem_bundles_and_der(test_pki: Pki) -> None:
    crl_pem = test_pki.crl.public_bytes(serialization.Encoding.PEM)
    trust = eid.load_trust_store(
        [der(test_pki.root.certificate)],
        pem(test_pki.issuing.certificate) + pem(test_pki.bob.certificate),
        crl_pem,
    )
    assert len(trust.intermediates) == 2 and len(trust.crls) == 1
    assert eid.check_certificate(test_pki.alice.certificate, trust, NOW).surname == "Männik"
    with pytest.raises(eid.UntrustedIssuer, match="no trusted root"):
        eid.load_trust_store([])


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        b"\x30\x82\x01\x00" + b"\x00" * 40,
    ],
)
def test_malformed_pem_or_der(data: bytes) -> None:
    with pytest.raises(eid.MalformedCertificate):
        eid.parse_certificate(data)


def test_truncated_der_is_malformed(test_pki: Pki) -> None:
    data = der(test_pki.alice.certificate)
    with pytest.raises(eid.MalformedCertificate):
        eid.parse_certificate(data[:-10])
    with pytest.raises(eid.MalformedCertificate, match="expected one certificate"):
        eid.parse_certificate(pem(test_pki.alice.certificate) + pem(test_pki.bob.certificate))
    assert eid.parse_certificate(pem(test_pki.alice.certificate)) == test_pki.alice.certificate


@given(st.binary(max_size=300))
def test_random_bytes_are_malformed_never_a_crash(data: bytes) -> None:
    with pytest.raises((eid.MalformedCertificate,)):
        eid.parse_certificate(data)


@given(position=st.integers(0, 10_000), value=st.integers(0, 255))
def test_corrupted_der_is_malformed_or_does_not_verify(
    test_pki: Pki, position: int, value: int
) -> None:
    data = bytearray(der(test_pki.bob.certificate))
    position %= len(data)
    if data[position] == value:
        return
    data[position] = value
    try:
        certificate = eid.parse_certificate(bytes(data))
    except eid.MalformedCertificate:
        return
    try:
        eid.check_certificate(certificate, test_pki.trust(), NOW)
    except eid.EidError:
        return
    # Still valid: only an encoding detail outside the signed part changed (e.g. the unused
    # bits of the signature BIT STRING); what the CA signed is untouched.
    assert certificate.tbs_certificate_bytes == test_pki.bob.certificate.tbs_certificate_bytes


def test_naive_time_is_refused(test_pki: Pki) -> None:
    with pytest.raises(ValueError, match="timezone"):
        eid.check_certificate(test_pki.alice.certificate, test_pki.trust(), dt.datetime(2027, 1, 1))


def test_another_voter_is_another_identity(test_pki: Pki) -> None:
    identity = eid.check_certificate(test_pki.bob.certificate, test_pki.trust(), NOW)
    assert identity.personal_code == BOB.personal_code != ALICE.personal_code


def test_personal_code_without_national_prefix(test_pki: Pki) -> None:
    voter = Voter("38001085718", "Jaan", "Tamm", "Tartu")
    certificate = test_pki.eid(voter).certificate
    assert eid.check_certificate(certificate, test_pki.trust(), NOW).personal_code == "38001085718"


def test_a_thai_name_too_long_for_the_common_name_is_cut_there_only(test_pki: Pki) -> None:
    # X.509 limits the common name to 64 UTF-8 bytes; a Thai letter takes three, so
    # "SURNAME,GIVEN,CODE" of this voter has 81 bytes.
    voter = Voter("3501196582921", "เยาวลักษณ์", "สุวรรณรัตน์", "chiang-mai-1")
    certificate = test_pki.eid(voter).certificate
    common_name = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(common_name, str)
    assert len(common_name.encode()) <= 64
    assert common_name == "สุวรรณรัตน์,เยาวลักษณ์"  # 64 bytes: whole letters, the code cut
    identity = eid.check_certificate(certificate, test_pki.trust(), NOW)
    assert identity.personal_code == voter.personal_code
    assert (identity.given_name, identity.surname) == (voter.given_name, voter.surname)
