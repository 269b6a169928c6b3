"""The record's formats: round trips, and malformed input named by field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canonical.encoding import FormatError, canonical_bytes, object_hash, parse_canonical
from formats.record import (
    BUNDLE_FILE,
    INVALID_REASONS,
    AnonymousBallot,
    BundleReference,
    CountedVoters,
    Counts,
    ElectionRecord,
    EncodedBallot,
    EncryptedTotal,
    InvalidBallot,
    LogSnapshot,
    ObserversBundle,
    Tally,
    TallyInputs,
    TallyReport,
    TrusteeShares,
    read_bundle,
    write_tally_dir,
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


contests = st.dictionaries(
    names,
    st.fixed_dictionaries(
        {"ciphertexts": st.lists(st.from_regex(r"[1-9a-f][0-9a-f]{0,40}", fullmatch=True))}
    ),
    max_size=3,
)


@given(st.lists(st.tuples(names, contests, st.booleans()), max_size=4))
def test_a_bundle_of_encoded_ballots_is_the_bundle_of_their_documents(
    ballots: list[tuple[str, dict, bool]],
) -> None:
    """The tallier's bundle holds ballots encoded in its workers (EncodedBallot): its hash,
    its plain form and its parsed form are those of the same bundle of AnonymousBallots."""
    mixed = tuple(
        EncodedBallot.of(d, c) if encoded else AnonymousBallot(d, c) for d, c, encoded in ballots
    )
    plain = tuple(AnonymousBallot(d, c) for d, c, _ in ballots)
    bundle = ObserversBundle("e-2026", b"m" * 32, mixed)
    reference = ObserversBundle("e-2026", b"m" * 32, plain)
    assert bundle.to_dict() == reference.to_dict()
    assert bundle.hash == reference.hash == object_hash(reference.to_dict())
    assert ObserversBundle.from_dict(bundle.to_dict()) == reference


def test_the_written_bundle_is_the_canonical_bundle(tmp_path: Path) -> None:
    contests = {"c1": {"ciphertexts": ["1f", "a0"]}}
    bundle = ObserversBundle(
        "e-2026",
        b"m" * 32,
        (EncodedBallot.of("north", contests), AnonymousBallot("south", contests)),
    )
    write_tally_dir(tmp_path, _tally_stub(bundle), bundle, CountedVoters("e-2026", ()))
    written = (tmp_path / BUNDLE_FILE).read_bytes()
    assert written == canonical_bytes(bundle.to_dict()) + b"\n"
    assert read_bundle(tmp_path).hash == bundle.hash


def _tally_stub(bundle: ObserversBundle) -> Tally:
    """A tally naming `bundle` (write_tally_dir writes it; nothing here reads it)."""
    inputs = TallyInputs(b"b" * 32, 1, b"v" * 32, b"p" * 32, 0, ())
    reference = BundleReference(bundle.hash, len(bundle.ballots))
    return Tally({}, inputs, LogSnapshot({}, ()), {}, (), reference)


def test_the_tally_hash_vector_agrees_with_the_parsers() -> None:
    """tests/vectors/tally_hash.json (kept current by tests/vectors/test_vectors_current.py):
    the record's tally hash is the tally's (decryption left out, kind ivote/tally)."""
    vector = json.loads((Path(__file__).parent.parent / "vectors" / "tally_hash.json").read_text())
    assert Tally.from_dict(vector["tally"]).hash == bytes.fromhex(vector["tally_hash_hex"])
    record = ElectionRecord.from_dict(vector["record"])
    assert record.tally.hash.hex() == vector["tally_hash_hex"]
    assert object_hash(vector["tally"]).hex() == vector["tally_hash_hex"]


def test_inputs_crls_must_be_sorted_by_their_bytes() -> None:
    from tests.vectors.gen_tally_hash import tally_object

    tally = tally_object()
    tally["inputs"]["crls"].sort()  # base64url text order, not byte order
    with pytest.raises(FormatError, match=r"tally.inputs.crls: not sorted or repeated"):
        Tally.from_dict(tally)
