"""The record's formats: round trips, and malformed input named by field."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from formats.canonical import FormatError, canonical_bytes, parse_canonical
from formats.record import (
    INVALID_REASONS,
    Counts,
    EncryptedTotal,
    InvalidBallot,
    TallyReport,
    TrusteeShares,
)

small = st.integers(min_value=0, max_value=10**6)
names = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)
counts = st.builds(Counts, small, small, small, small, small)
invalid = st.builds(
    InvalidBallot, small, names, st.sampled_from(INVALID_REASONS), st.text(max_size=30)
)
reports = st.builds(
    TallyReport, st.dictionaries(names, counts, max_size=4), st.tuples(invalid, invalid)
)


@given(reports)
def test_report_round_trips_through_canonical_bytes(report: TallyReport) -> None:
    data = canonical_bytes(report.to_dict())
    again = TallyReport.from_dict(parse_canonical(data))
    assert again == report
    assert canonical_bytes(again.to_dict()) == data
    assert again.total.received == sum(c.received for c in report.districts.values())


@given(names, names, st.integers(0, 5), st.integers(1, 2**3072))
def test_total_round_trips(district: str, contest: str, part: int, ciphertext: int) -> None:
    total = EncryptedTotal(district, contest, part, ciphertext)
    assert EncryptedTotal.from_dict(parse_canonical(canonical_bytes(total.to_dict())), "t") == total


def test_malformed_pieces_are_named() -> None:
    with pytest.raises(FormatError, match=r"report.districts.north.counted: must not be negative"):
        TallyReport.from_dict(
            {
                "total": Counts().to_dict(),
                "districts": {"north": {**Counts().to_dict(), "counted": -1}},
                "invalid_ballots": [],
            }
        )
    with pytest.raises(FormatError, match=r"unknown reason 'bribery'"):
        InvalidBallot.from_dict(
            {"log_index": 1, "district": "x", "reason": "bribery", "detail": ""}, "b"
        )
    with pytest.raises(FormatError, match=r"shares.trustee: trustee indices start at 1"):
        TrusteeShares.from_dict(
            {
                "version": 1,
                "kind": "ivote/decryption-shares",
                "tally_hash": "A" * 43,
                "trustee": 0,
                "shares": [],
            }
        )
    with pytest.raises(FormatError, match=r"t.ciphertext: expected a lower-case hex"):
        EncryptedTotal.from_dict(
            {"district": "a", "contest": "b", "part": 0, "ciphertext": "0x1"}, "t"
        )
