"""Ballot encoding: digit sizes, splitting across ciphertexts, round trips, refusals, vectors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import paillier
from crypto.encoding import (
    ContestEncoding,
    allowed_plaintexts,
    contest_encoding,
    decode_totals,
    encode_choice,
    sum_allowed_plaintexts,
)
from crypto.errors import CryptoError, DecryptionError, InvalidInput
from crypto.paillier import PublicKey

VECTOR = Path(__file__).parent.parent / "vectors" / "encoding.json"


@st.composite
def contests(draw: Any) -> tuple[ContestEncoding, int]:
    """A valid encoding (often split across parts: small keys) and its max_voters."""
    max_voters = draw(st.integers(1, 2000))
    key_bits = draw(st.integers(max_voters.bit_length() + 1, 160))
    candidates = draw(st.integers(1, 60))
    try:
        return contest_encoding(candidates, max_voters, key_bits), max_voters
    except InvalidInput:
        # too many parts for the sum proof: shrink the contest to the largest allowed
        per = (key_bits - 1) // max_voters.bit_length()
        base = 1 << max_voters.bit_length()
        return contest_encoding(min(candidates, per * (base - 1)), max_voters, key_bits), max_voters


def tally(enc: ContestEncoding, choices: list[int]) -> list[int]:
    """What the decrypted product of the ballots holds: the sum of their plaintexts per part."""
    totals = [0] * enc.parts
    for choice in choices:
        totals = [t + m for t, m in zip(totals, encode_choice(enc, choice), strict=True)]
    return totals


def test_sizes() -> None:
    enc = contest_encoding(10, 1_000_000, 3072)
    assert (enc.digit_bits, enc.per_ciphertext, enc.parts, enc.base) == (20, 10, 1, 2**20)
    # 2^b must exceed max_voters: 1024 voters need 11 bits, 1023 need 10
    assert contest_encoding(3, 1024, 512).digit_bits == 11
    assert contest_encoding(3, 1023, 512).digit_bits == 10
    split = contest_encoding(120, 1000, 512)
    assert (split.per_ciphertext, split.parts) == (51, 3)
    assert [split.digits_in(j) for j in range(3)] == [51, 51, 18]
    assert split.plaintext_bits <= 511


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((0, 10, 512), "candidates"),
        ((3, 0, 512), "max_voters"),
        ((3, 10, 0), "key_bits"),
        ((True, 10, 512), "candidates"),
        ((3, 2**20, 16), "max_voters"),  # a 21-bit digit does not fit below a 16-bit modulus
        ((100, 3, 8), "candidates"),  # 34 parts: the sum proof needs fewer than B = 4
    ],
)
def test_refused_encodings(args: tuple[Any, ...], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        contest_encoding(*args)
    assert caught.value.field == field


@given(contests(), st.data())
def test_choices_are_allowed_and_sum_is_one_vote(contest: tuple, data: Any) -> None:
    enc, _ = contest
    choice = data.draw(st.integers(0, enc.candidates - 1))
    plaintexts = encode_choice(enc, choice)
    assert len(plaintexts) == enc.parts
    for part, m in enumerate(plaintexts):
        assert m in allowed_plaintexts(enc, part)
        assert m < 2**enc.plaintext_bits
    assert sum(1 for m in plaintexts if m) == 1
    if enc.parts > 1:
        assert sum(plaintexts) in sum_allowed_plaintexts(enc)
        assert allowed_plaintexts(enc, 0)[0] == 0
    # distinct choices give distinct plaintext tuples
    others = {encode_choice(enc, c) for c in range(enc.candidates)}
    assert len(others) == enc.candidates


@given(contests(), st.data())
def test_round_trip(contest: tuple, data: Any) -> None:
    enc, max_voters = contest
    voters = data.draw(st.integers(0, max_voters))
    choices = data.draw(
        st.lists(st.integers(0, enc.candidates - 1), min_size=voters, max_size=voters)
        if voters <= 200
        else st.just([data.draw(st.integers(0, enc.candidates - 1))] * voters)
    )
    counts = Counter(choices)
    assert decode_totals(enc, tally(enc, choices), max_voters) == [
        counts[j] for j in range(enc.candidates)
    ]


@given(contests(), st.data())
def test_overflowing_digits_are_refused(contest: tuple, data: Any) -> None:
    enc, max_voters = contest
    part = data.draw(st.integers(0, enc.parts - 1))
    digit = data.draw(st.integers(0, enc.digits_in(part) - 1))
    totals = [0] * enc.parts
    if max_voters + 1 < enc.base:
        totals[part] = (max_voters + 1) << (digit * enc.digit_bits)
        with pytest.raises(DecryptionError, match=f"above the {max_voters} possible voters"):
            decode_totals(enc, totals, max_voters)
    totals[part] = 1 << (enc.digits_in(part) * enc.digit_bits + data.draw(st.integers(0, 64)))
    with pytest.raises(DecryptionError, match="bits set above the last"):
        decode_totals(enc, totals, max_voters)


def test_decode_refusals() -> None:
    enc = contest_encoding(5, 6, 12)  # 3-bit digits, 3 per ciphertext, 2 parts
    assert (enc.digit_bits, enc.per_ciphertext, enc.parts) == (3, 3, 2)
    assert decode_totals(enc, [0o121, 0o10], 6) == [1, 2, 1, 0, 1]
    assert decode_totals(enc, [0o001, 0o00], 6) == [1, 0, 0, 0, 0]
    assert decode_totals(enc, [0o300, 0o20], 6) == [0, 0, 3, 0, 2]
    with pytest.raises(DecryptionError, match="candidate 1 has 7 votes"):
        decode_totals(enc, [0o070, 0], 6)
    with pytest.raises(DecryptionError, match="bits set above the last of its 2 digits"):
        decode_totals(enc, [0, 0o100], 6)
    with pytest.raises(DecryptionError, match="7 votes in total"):
        decode_totals(enc, [0o331, 0], 6)
    with pytest.raises(InvalidInput, match="2 parts"):
        decode_totals(enc, [0], 6)
    with pytest.raises(InvalidInput, match="not a non-negative integer"):
        decode_totals(enc, [-1, 0], 6)
    with pytest.raises(InvalidInput, match="does not fit"):
        decode_totals(enc, [0, 0], 8)
    with pytest.raises(InvalidInput, match="candidate index"):
        encode_choice(enc, 5)
    with pytest.raises(InvalidInput, match="part"):
        allowed_plaintexts(enc, 2)
    with pytest.raises(InvalidInput, match="inconsistent"):
        encode_choice(ContestEncoding(5, 1, 1), 0)  # 5 parts but B = 2


def test_encrypted_round_trip_with_split_contest(safe_primes: dict) -> None:
    """Through real Paillier: the product of the ballots' parts decrypts to the counts."""
    p, q = safe_primes[512]
    key = PublicKey(p * q)
    enc = contest_encoding(130, 40, key.bits)  # 6-bit digits, 85 per ciphertext: 2 parts
    assert enc.parts == 2
    choices = [0, 84, 85, 129, 129, 3, 85, 85]
    products = [1] * enc.parts
    for choice in choices:
        for part, m in enumerate(encode_choice(enc, choice)):
            c, _ = paillier.encrypt_random(key, m)
            products[part] = products[part] * c % key.n_squared
    lam = (p - 1) * (q - 1)
    totals = [
        paillier.L(pow(c, lam, key.n_squared), key.n) * pow(lam, -1, key.n) % key.n
        for c in products
    ]
    counts = Counter(choices)
    assert decode_totals(enc, totals, 40) == [counts[j] for j in range(130)]


def test_vectors() -> None:
    vectors = json.loads(VECTOR.read_text())
    assert len(vectors["cases"]) >= 3
    for case in vectors["cases"]:
        enc = contest_encoding(case["candidates"], case["max_voters"], case["key_bits"])
        assert (enc.digit_bits, enc.per_ciphertext, enc.parts) == (
            case["digit_bits"],
            case["per_ciphertext"],
            case["parts"],
        )
        for entry in case["choices"]:
            assert [format(m, "x") for m in encode_choice(enc, entry["choice"])] == entry[
                "plaintexts"
            ]
        assert [
            [format(m, "x") for m in allowed_plaintexts(enc, part)] for part in range(enc.parts)
        ] == case["allowed"]
        expected_sum = case["sum_allowed"]
        if enc.parts > 1:
            assert [format(m, "x") for m in sum_allowed_plaintexts(enc)] == expected_sum
        else:
            assert expected_sum is None
        totals = [int(t, 16) for t in case["tally"]["totals"]]
        assert decode_totals(enc, totals, case["max_voters"]) == case["tally"]["counts"]
        assert case["refused_totals"]
        for refused in case["refused_totals"]:
            with pytest.raises(CryptoError):
                decode_totals(enc, [int(t, 16) for t in refused["totals"]], case["max_voters"])
    for refused in vectors["refused"]:
        with pytest.raises(InvalidInput) as caught:
            contest_encoding(refused["candidates"], refused["max_voters"], refused["key_bits"])
        assert caught.value.field == refused["field"]
