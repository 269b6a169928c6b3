"""Helpers for the e-ID tests: a small fixed PKI (root CA, TEST ID-card CA, a few voters'
e-IDs, a CRL), made with the shared test election's CAs (tests/support/election.py).

Times are fixed (CA from 2025-01-01, e-IDs from 2025-06-01 for five years, checks at NOW), so
that validity and revocation tests do not depend on the clock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from support.election import make_cas

from ceremonies import pki
from crypto.eid import KeySigner, TrustStore
from formats.voters import Voter

UTC = dt.UTC
CA_START = dt.datetime(2025, 1, 1, tzinfo=UTC)
EID_START = dt.datetime(2025, 6, 1, tzinfo=UTC)
NOW = dt.datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
CRL_TIME = dt.datetime(2027, 2, 27, tzinfo=UTC)

ALICE = Voter("PNOEE-48001085718", "Mari-Liis", "Männik", "Tallinn")
BOB = Voter("PNOEE-38001085718", "Jaak-Kristjan", "Jõeorg", "Tartu")
CAROL = Voter("PNOEE-49002124277", "Carol", "Kask", "Tartu")


@dataclass
class Pki:
    root: KeySigner
    issuing: KeySigner
    alice: KeySigner
    bob: KeySigner
    carol: KeySigner  # revoked at CAROL_REVOKED in `crl`
    crl: x509.CertificateRevocationList
    carol_revoked: dt.datetime

    def trust(self, crls: tuple[x509.CertificateRevocationList, ...] | None = None) -> TrustStore:
        return TrustStore(
            (self.root.certificate,),
            (self.issuing.certificate,),
            (self.crl,) if crls is None else crls,
        )

    def eid(self, voter: Voter, **kwargs: object) -> KeySigner:
        kwargs.setdefault("not_before", EID_START)
        kwargs.setdefault("not_after", EID_START + dt.timedelta(days=5 * 365))
        return pki.make_eid(self.issuing, voter, **kwargs)  # type: ignore[arg-type]


def make_test_pki() -> Pki:
    root, issuing = make_cas(CA_START)
    start, end = EID_START, EID_START + dt.timedelta(days=5 * 365)
    alice = pki.make_eid(issuing, ALICE, start, end)
    bob = pki.make_eid(issuing, BOB, start, end)
    carol = pki.make_eid(issuing, CAROL, start, end)
    carol_revoked = dt.datetime(2027, 2, 1, tzinfo=UTC)
    crl = pki.make_crl(
        issuing,
        [pki.Revocation(carol.certificate.serial_number, carol_revoked, "keyCompromise")],
        number=1,
        this_update=CRL_TIME,
        next_update=CRL_TIME + dt.timedelta(days=7),
    )
    return Pki(root, issuing, alice, bob, carol, crl, carol_revoked)
