"""The issuing-CA shortcut of crypto.eid's path validation gives exactly the full path's
answers: every certificate is checked against a trust store that has not validated a chain yet
(the full path) and against one that has (the shortcut), and the outcomes must be equal,
error class and message included."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ObjectIdentifier
from eid_helpers import ALICE, BOB, CA_START, CRL_TIME, EID_START, NOW, Pki
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ceremonies import pki
from crypto import eid
from crypto.eid import KeySigner, TrustStore


def outcome(certificate: x509.Certificate, trust: TrustStore, at: dt.datetime) -> tuple[str, str]:
    try:
        identity = eid.check_certificate(certificate, trust, at)
    except eid.EidError as exc:
        return type(exc).__name__, str(exc)
    return "valid", identity.personal_code


def warmed(trust: TrustStore, leaf: x509.Certificate, at: dt.datetime = NOW) -> TrustStore:
    """The store after a full validation of `leaf` (which records the chain above its CA)."""
    assert outcome(leaf, trust, at)[0] == "valid"
    assert trust._issuer_chains, "the full path recorded no chain"
    return trust


def same_answer(
    certificate: x509.Certificate,
    make_trust: Any,
    at: dt.datetime,
    warm_leaf: x509.Certificate,
    warm_at: dt.datetime = NOW,
) -> tuple[str, str]:
    """The outcome at `at` with a fresh store, which must equal the one with a store that
    validated `warm_leaf` at `warm_at` first."""
    cold = outcome(certificate, make_trust(), at)
    warm = outcome(certificate, warmed(make_trust(), warm_leaf, warm_at), at)
    assert cold == warm
    return warm


def leaf(
    signer: KeySigner,
    *,
    subject: x509.Name | None = None,
    not_before: dt.datetime = EID_START,
    not_after: dt.datetime = EID_START + dt.timedelta(days=900),
    ca: bool | None = False,
    key_usage: str = "signing",
    unknown_critical: bool = False,
    aki: bool = True,
    digest: hashes.HashAlgorithm | None = None,
    issuer_name: x509.Name | None = None,
) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP384R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject or pki.voter_subject(ALICE))
        .issuer_name(issuer_name or signer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(pki.new_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if aki:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.private_key.public_key()),
            critical=False,
        )
    if ca is not None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=None), critical=True
        )
    if key_usage == "signing":
        builder = builder.add_extension(pki.signing_key_usage(), critical=True)
    elif key_usage == "cert-sign":
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, False, False, False),
            critical=True,
        )
    if unknown_critical:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00"),
            critical=True,
        )
    return builder.sign(signer.private_key, digest or hashes.SHA384())


def test_the_full_path_records_the_chain_above_the_issuing_ca(test_pki: Pki) -> None:
    trust = test_pki.trust()
    assert trust._ca_by_subject is not None and not trust._issuer_chains
    warmed(trust, test_pki.alice.certificate)
    (above, _), *others = trust._issuer_chains.values()
    assert not others
    assert above == (test_pki.issuing.certificate, test_pki.root.certificate)


def test_a_warm_store_takes_the_shortcut_and_answers_alike(
    test_pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    trust = warmed(test_pki.trust(), test_pki.alice.certificate)
    stores: list[Any] = []
    real = eid._build_chain

    def recording(certificate: Any, store: Any, intermediates: Any, at: Any) -> Any:
        stores.append(store)
        return real(certificate, store, intermediates, at)

    monkeypatch.setattr(eid, "_build_chain", recording)
    identity = eid.check_certificate(test_pki.bob.certificate, trust, NOW)
    assert identity.personal_code == BOB.personal_code
    assert len(stores) == 1 and stores[0] is not trust._store  # one validation, I as anchor
    # revocation is checked on the same chain: carol's CRL entry still counts
    with pytest.raises(eid.CertificateRevoked):
        eid.check_certificate(test_pki.carol.certificate, trust, NOW)


@pytest.mark.parametrize(
    "name",
    [
        "untrusted CA with the same subject name",
        "CA:TRUE leaf",
        "keyCertSign leaf",
        "unknown critical extension",
        "no basic constraints",
        "no authority key identifier",
        "issuer name of the CA, signed by the root",
        "signed with SHA-256",
        "signed with SHA-512",
        "expired",
        "not yet valid",
        "no key usage",
        "a valid e-ID",
    ],
)
def test_every_kind_of_certificate_gets_the_full_paths_answer(test_pki: Pki, name: str) -> None:
    rogue_root = pki.make_root_ca(now=CA_START)
    rogue_ca = pki.make_intermediate_ca(rogue_root, now=CA_START)
    assert rogue_ca.certificate.subject == test_pki.issuing.certificate.subject
    issuing = test_pki.issuing
    certificates = {
        "untrusted CA with the same subject name": leaf(rogue_ca),
        "CA:TRUE leaf": leaf(issuing, ca=True),
        "keyCertSign leaf": leaf(issuing, key_usage="cert-sign"),
        "unknown critical extension": leaf(issuing, unknown_critical=True),
        "no basic constraints": leaf(issuing, ca=None),
        "no authority key identifier": leaf(issuing, aki=False),
        "issuer name of the CA, signed by the root": leaf(
            test_pki.root, issuer_name=issuing.certificate.subject
        ),
        "signed with SHA-256": leaf(issuing, digest=hashes.SHA256()),
        "signed with SHA-512": leaf(issuing, digest=hashes.SHA512()),
        "expired": leaf(issuing, not_after=NOW - dt.timedelta(days=1)),
        "not yet valid": leaf(issuing, not_before=NOW + dt.timedelta(days=1)),
        "no key usage": leaf(issuing, key_usage="none"),
        "a valid e-ID": leaf(issuing),
    }
    answer = same_answer(certificates[name], test_pki.trust, NOW, test_pki.alice.certificate)
    if name == "untrusted CA with the same subject name":
        assert answer[0] == "UntrustedIssuer"
    if name in ("CA:TRUE leaf", "unknown critical extension", "keyCertSign leaf"):
        assert answer[0] != "valid"


@given(
    signer=st.sampled_from(["issuing", "rogue", "root"]),
    ca=st.sampled_from([False, True, None]),
    key_usage=st.sampled_from(["signing", "cert-sign", "none"]),
    unknown_critical=st.booleans(),
    aki=st.booleans(),
    digest=st.sampled_from(["sha256", "sha384", "sha512"]),
    start_days=st.integers(-200, 900),
    length_days=st.integers(1, 2000),
    at_days=st.sampled_from([0, 30, -400, 2000, 4000]),
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_random_certificates_get_the_full_paths_answer(
    test_pki: Pki,
    signer: str,
    ca: bool | None,
    key_usage: str,
    unknown_critical: bool,
    aki: bool,
    digest: str,
    start_days: int,
    length_days: int,
    at_days: int,
) -> None:
    rogue = pki.make_intermediate_ca(pki.make_root_ca(now=CA_START), now=CA_START)
    signers = {"issuing": test_pki.issuing, "rogue": rogue, "root": test_pki.root}
    digests = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}
    start = EID_START + dt.timedelta(days=start_days)
    certificate = leaf(
        signers[signer],
        not_before=start,
        not_after=start + dt.timedelta(days=length_days),
        ca=ca,
        key_usage=key_usage,
        unknown_critical=unknown_critical,
        aki=aki,
        digest=digests[digest],
        issuer_name=test_pki.issuing.certificate.subject,
    )
    at = NOW + dt.timedelta(days=at_days)
    same_answer(certificate, test_pki.trust, at, test_pki.alice.certificate)


def short_lived_pki(root_years: int, issuing_years: int) -> tuple[KeySigner, KeySigner]:
    root = pki.make_root_ca(now=CA_START, years=root_years)
    issuing = pki.make_intermediate_ca(root, now=CA_START, years=issuing_years)
    return root, issuing


def test_a_ca_that_expired_before_the_time_of_the_check(test_pki: Pki) -> None:
    """The chain above the issuing CA is valid at one time and not at another: the shortcut
    re-checks it at each time (here the root expires before the issuing CA)."""
    root, issuing = short_lived_pki(root_years=1, issuing_years=5)
    crl = pki.make_crl(issuing, [], 1, CA_START, CA_START + dt.timedelta(days=5 * 365))
    early = CA_START + dt.timedelta(days=100)
    late = CA_START + dt.timedelta(days=500)  # root expired, issuing CA still valid

    def make_trust() -> TrustStore:
        return TrustStore((root.certificate,), (issuing.certificate,), (crl,))

    first = leaf(issuing, not_before=CA_START, not_after=CA_START + dt.timedelta(days=900))
    second = leaf(issuing, not_before=CA_START, not_after=CA_START + dt.timedelta(days=900))
    assert same_answer(second, make_trust, early, first, early)[0] == "valid"
    assert same_answer(second, make_trust, late, first, early)[0] == "UntrustedIssuer"

    # and the issuing CA itself expired: refused by the shortcut's own validation
    root2, issuing2 = short_lived_pki(root_years=5, issuing_years=1)
    crl2 = pki.make_crl(issuing2, [], 1, CA_START, CA_START + dt.timedelta(days=5 * 365))

    def make_trust2() -> TrustStore:
        return TrustStore((root2.certificate,), (issuing2.certificate,), (crl2,))

    first = leaf(issuing2, not_before=CA_START, not_after=CA_START + dt.timedelta(days=900))
    second = leaf(issuing2, not_before=CA_START, not_after=CA_START + dt.timedelta(days=900))
    assert same_answer(second, make_trust2, late, first, early)[0] == "UntrustedIssuer"


def test_name_constraints_above_the_issuing_ca_turn_the_shortcut_off() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "constrained root")])
    root_certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(pki.new_serial())
        .not_valid_before(CA_START)
        .not_valid_after(CA_START + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.NameConstraints(
                permitted_subtrees=[x509.DNSName("example.ee")], excluded_subtrees=None
            ),
            critical=True,
        )
        .sign(key, hashes.SHA384())
    )
    root = KeySigner(key, root_certificate)
    issuing = pki.make_intermediate_ca(root, now=CA_START)
    crl = pki.make_crl(issuing, [], 1, CRL_TIME, CRL_TIME + dt.timedelta(days=7))
    trust = TrustStore((root.certificate,), (issuing.certificate,), (crl,))
    first = leaf(issuing)
    assert outcome(first, trust, NOW)[0] == "valid"
    assert not trust._issuer_chains
    second = leaf(issuing)
    fresh = TrustStore((root.certificate,), (issuing.certificate,), (crl,))
    assert outcome(second, trust, NOW) == outcome(second, fresh, NOW)


def test_two_cas_with_one_name_turn_the_shortcut_off(test_pki: Pki) -> None:
    rogue = pki.make_intermediate_ca(pki.make_root_ca(now=CA_START), now=CA_START)
    trust = TrustStore(
        (test_pki.root.certificate,),
        (test_pki.issuing.certificate, rogue.certificate),
        (test_pki.crl,),
    )
    assert trust._ca_by_subject is None
    eid.check_certificate(test_pki.alice.certificate, trust, NOW)
    assert not trust._issuer_chains
    with pytest.raises(eid.UntrustedIssuer):
        eid.check_certificate(leaf(rogue), trust, NOW)
