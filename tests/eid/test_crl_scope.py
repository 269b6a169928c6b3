"""Revocation status is known only from a complete CRL in scope and current at the time
checked (RFC 5280 5.2.4, 5.2.5, 6.3.3): a delta CRL alone, a stale complete CRL with a current
delta, a CRL for another distribution point, a CRL of CA certificates only or of some reasons
only never make a revoked e-ID pass. Their entries still revoke."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from eid_helpers import CAROL, CRL_TIME, EID_START, NOW, Pki

from ceremonies import pki
from crypto import eid
from crypto.eid import KeySigner

POINT_A = x509.UniformResourceIdentifier("http://crl.test/a.crl")
POINT_B = x509.UniformResourceIdentifier("http://crl.test/b.crl")


def _crl(
    issuing: KeySigner,
    revoked: list[tuple[int, dt.datetime]],
    *,
    this_update: dt.datetime = CRL_TIME,
    next_update: dt.datetime = CRL_TIME + dt.timedelta(days=7),
    number: int = 2,
    delta_of: int | None = None,
    point: x509.IssuingDistributionPoint | None = None,
) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuing.certificate.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    if delta_of is not None:
        builder = builder.add_extension(x509.DeltaCRLIndicator(delta_of), critical=True)
    if point is not None:
        builder = builder.add_extension(point, critical=True)
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(issuing.private_key, hashes.SHA384())


def _point(
    names: list[x509.GeneralName] | None = None,
    *,
    users_only: bool = False,
    cas_only: bool = False,
    reasons: frozenset[x509.ReasonFlags] | None = None,
) -> x509.IssuingDistributionPoint:
    return x509.IssuingDistributionPoint(
        full_name=names,
        relative_name=None,
        only_contains_user_certs=users_only,
        only_contains_ca_certs=cas_only,
        only_some_reasons=reasons,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )


def _carol_at(test_pki: Pki, point: x509.GeneralName | None = None) -> KeySigner:
    """Carol's e-ID (revoked on 2027-02-01 by the CA's complete CRL), optionally naming a CRL
    distribution point."""
    if point is None:
        return test_pki.carol
    key = pki.new_key()
    certificate = (
        pki._issued_by(  # the test CA's own builder, plus a distribution point
            test_pki.issuing,
            pki.voter_subject(CAROL),
            key.public_key(),
            EID_START,
            EID_START + dt.timedelta(days=5 * 365),
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(pki.signing_key_usage(), critical=True)
        .add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([point], None, None, None)]
            ),
            critical=False,
        )
        .sign(test_pki.issuing.private_key, hashes.SHA384())
    )
    return KeySigner(key, certificate)


def _refused_as_unknown(test_pki: Pki, signer: KeySigner, *crls: x509.CRL) -> str:
    with pytest.raises(eid.RevocationUnknown) as caught:
        eid.check_certificate(signer.certificate, test_pki.trust(crls), NOW)
    return str(caught.value)


def test_a_delta_crl_alone_does_not_make_the_status_known(test_pki: Pki) -> None:
    delta = _crl(test_pki.issuing, [], delta_of=1)  # current, and Carol is not in it
    message = _refused_as_unknown(test_pki, test_pki.carol, delta)
    assert "only delta or partitioned CRLs" in message


def test_a_stale_complete_crl_with_a_current_delta_is_not_enough(test_pki: Pki) -> None:
    stale = _crl(
        test_pki.issuing, [], this_update=CRL_TIME - dt.timedelta(days=60),
        next_update=CRL_TIME - dt.timedelta(days=53), number=1,
    )  # fmt: skip
    delta = _crl(test_pki.issuing, [], delta_of=1)
    assert "expired" in _refused_as_unknown(test_pki, test_pki.carol, stale, delta)


def test_a_crl_for_another_distribution_point_does_not_cover(test_pki: Pki) -> None:
    carol = _carol_at(test_pki, POINT_A)
    other = _crl(test_pki.issuing, [], point=_point([POINT_B]))
    _refused_as_unknown(test_pki, carol, other)
    # the certificate's own distribution point covers it, and its revocation is found
    own = _crl(
        test_pki.issuing,
        [(carol.certificate.serial_number, test_pki.carol_revoked)],
        point=_point([POINT_A]),
    )
    with pytest.raises(eid.CertificateRevoked):
        eid.check_certificate(carol.certificate, test_pki.trust((own,)), NOW)
    # ...and without the revocation, the status is known and good
    clean = _crl(test_pki.issuing, [], point=_point([POINT_A]))
    eid.check_certificate(carol.certificate, test_pki.trust((clean,)), NOW)


def test_a_partitioned_crl_without_the_certificates_point_does_not_cover(
    test_pki: Pki,
) -> None:
    """A CRL with a distribution point covers only certificates that name it."""
    scoped = _crl(test_pki.issuing, [], point=_point([POINT_A]))
    _refused_as_unknown(test_pki, test_pki.carol, scoped)


@pytest.mark.parametrize(
    "point",
    [
        _point(cas_only=True),
        _point(reasons=frozenset({x509.ReasonFlags.key_compromise})),
    ],
    ids=["CA certificates only", "some reasons only"],
)
def test_crls_of_another_kind_or_some_reasons_do_not_cover(
    test_pki: Pki, point: x509.IssuingDistributionPoint
) -> None:
    _refused_as_unknown(test_pki, test_pki.carol, _crl(test_pki.issuing, [], point=point))


def test_a_crl_of_user_certificates_covers_an_e_id(test_pki: Pki) -> None:
    users = _crl(
        test_pki.issuing,
        [(test_pki.carol.certificate.serial_number, test_pki.carol_revoked)],
        point=_point(users_only=True),
    )
    with pytest.raises(eid.CertificateRevoked):
        eid.check_certificate(test_pki.carol.certificate, test_pki.trust((users,)), NOW)
    eid.check_certificate(test_pki.alice.certificate, test_pki.trust((users,)), NOW)


def test_a_revocation_in_a_delta_crl_still_revokes(test_pki: Pki) -> None:
    """Entries of every CRL the issuer signed are evidence of revocation."""
    complete = _crl(test_pki.issuing, [], number=1)
    delta = _crl(
        test_pki.issuing,
        [(test_pki.alice.certificate.serial_number, CRL_TIME - dt.timedelta(days=1))],
        delta_of=1,
    )
    with pytest.raises(eid.CertificateRevoked):
        eid.check_certificate(test_pki.alice.certificate, test_pki.trust((complete, delta)), NOW)
    eid.check_certificate(test_pki.bob.certificate, test_pki.trust((complete, delta)), NOW)
