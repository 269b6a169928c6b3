"""Choose-several contests (k of L, between k_min and k_max, approval): every valid marking
encrypts and proves, every marking outside the bounds cannot be proven (individually and in a
batch), tampering with any value is refused, and the tally's packed totals decode to the
marks' counts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import paillier
from crypto.encoding import (
    MARK_VALUES,
    ContestEncoding,
    allowed_plaintexts,
    contest_encoding,
    count_plaintexts,
    decode_totals,
    encode_choice,
    encode_marks,
)
from crypto.errors import DecryptionError, InvalidInput, ProofInvalid
from crypto.membership import (
    EncryptedContest,
    MembershipStatement,
    ProverNonces,
    batch_verify,
    contest_statements,
    contest_totals,
    encrypt_contest,
    prove_membership,
    prove_with_nonces,
    verify_membership,
)
from crypto.paillier import PublicKey

CONTEXT = {
    "election_id": "test-2026",
    "manifest_hash": "cd" * 32,
    "district": "north",
    "contest": "council",
}
MAX_VOTERS = 1000
VECTOR = Path(__file__).parent.parent / "vectors" / "marks_contest.json"


@pytest.fixture(scope="module")
def key(safe_primes: dict) -> PublicKey:
    p, q = safe_primes[512]
    return PublicKey(p * q)


@pytest.fixture(scope="module")
def factors(safe_primes: dict) -> tuple[int, int]:
    return safe_primes[512]


def decrypt(key: PublicKey, p: int, q: int, c: int) -> int:
    lam = (p - 1) * (q - 1)
    return paillier.L(pow(c, lam, key.n_squared), key.n) * pow(lam, -1, key.n) % key.n


def verdicts(statements: Sequence[MembershipStatement]) -> list[bool]:
    out = []
    for s in statements:
        try:
            verify_membership(s.key, s.ciphertext, s.allowed, s.proof, s.context)
        except (InvalidInput, ProofInvalid):
            out.append(False)
        else:
            out.append(True)
    return out


@st.composite
def marked_contests(draw: Any) -> tuple[ContestEncoding, frozenset[int]]:
    """A choose-several encoding (small) and a valid marking of it."""
    candidates = draw(st.integers(1, 7))
    max_marks = draw(st.integers(1, candidates))
    min_marks = draw(st.integers(0, max_marks))
    if (min_marks, max_marks) == (1, 1):
        min_marks = 0
    enc = contest_encoding(candidates, MAX_VOTERS, 512, min_marks, max_marks)
    size = draw(st.integers(min_marks, max_marks))
    marked = draw(st.sets(st.integers(0, candidates - 1), min_size=size, max_size=size))
    return enc, frozenset(marked)


# ------------------------------------------------------------------ the encoding


def test_encoding_kinds() -> None:
    one = contest_encoding(10, MAX_VOTERS, 3072)
    assert not one.marks and one.ciphertexts == one.parts == 1
    at_most = contest_encoding(10, MAX_VOTERS, 3072, 0, 3)
    assert at_most.marks and at_most.blank_allowed
    assert (at_most.ciphertexts, at_most.digits, at_most.parts) == (11, 11, 1)
    assert count_plaintexts(at_most) == (1, 2, 3, 11)
    exactly = contest_encoding(10, MAX_VOTERS, 3072, 3, 3)
    assert not exactly.blank_allowed and exactly.ciphertexts == 10
    assert count_plaintexts(exactly) == (3,)
    approval = contest_encoding(4, MAX_VOTERS, 3072, 0, 4)
    assert count_plaintexts(approval) == (1, 2, 3, 4, 5)
    assert allowed_plaintexts(approval, 4) == MARK_VALUES == (0, 1)
    # digits split across parts under a small key: 12 digits of 10 bits in 63-bit plaintexts
    small = contest_encoding(11, MAX_VOTERS, 64, 0, 2)
    assert (small.per_ciphertext, small.parts, small.ciphertexts) == (6, 2, 12)


@pytest.mark.parametrize(
    ("candidates", "low", "high"),
    [(3, 0, 0), (3, 2, 1), (3, -1, 2), (3, 0, 4), (3, 1, True)],
)
def test_bad_bounds_refused(candidates: int, low: Any, high: Any) -> None:
    with pytest.raises(InvalidInput, match="marks"):
        contest_encoding(candidates, MAX_VOTERS, 3072, low, high)


def test_encode_marks_refuses_what_no_ballot_may_hold() -> None:
    enc = contest_encoding(5, MAX_VOTERS, 3072, 1, 3)
    assert encode_marks(enc, {0, 4}) == (1, 0, 0, 0, 1)
    blank = contest_encoding(5, MAX_VOTERS, 3072, 0, 3)
    assert encode_marks(blank, set()) == (0, 0, 0, 0, 0, 1)
    assert encode_marks(blank, [2]) == (0, 0, 1, 0, 0, 0)
    for marked, problem in (
        (set(), "0 marks"),
        ({0, 1, 2, 3}, "4 marks"),
        ([1, 1], "twice"),
        ({5}, "not a candidate index"),
        ({-1}, "not a candidate index"),
        ("01", "not a collection"),
        ([True], "not a candidate index"),
    ):
        with pytest.raises(InvalidInput, match=problem):
            encode_marks(enc, marked)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="several marks"):
        encode_choice(enc, 1)
    with pytest.raises(InvalidInput, match="exactly one"):
        encode_marks(contest_encoding(5, MAX_VOTERS, 3072), {1})


# ------------------------------------------------------------------ honest ballots


@settings(max_examples=25, deadline=None)
@given(marked_contests())
def test_any_valid_marking_verifies_and_decrypts(
    key: PublicKey, factors: tuple[int, int], case: tuple[ContestEncoding, frozenset[int]]
) -> None:
    enc, marked = case
    contest, randomness = encrypt_contest(key, enc, marked, CONTEXT)
    assert len(contest.ciphertexts) == len(randomness) == enc.ciphertexts
    parsed = EncryptedContest.from_dict(
        json.loads(json.dumps(contest.to_dict())), key, enc, "contest"
    )
    statements = contest_statements(key, enc, parsed, CONTEXT)
    assert len(statements) == enc.ciphertexts + 1
    assert all(verdicts(statements))
    assert batch_verify(statements) == []
    plain = [decrypt(key, *factors, c) for c in contest.ciphertexts]
    assert plain == list(encode_marks(enc, marked))
    for c, r, m in zip(contest.ciphertexts, randomness, plain, strict=True):
        assert paillier.encrypt(key, m, r) == c


def test_totals_count_marks_and_blanks(key: PublicKey, factors: tuple[int, int]) -> None:
    enc = contest_encoding(4, MAX_VOTERS, 512, 0, 2)
    ballots = [set(), {0}, {0, 3}, {1, 3}, set(), {3}]
    products = [1] * enc.ciphertexts
    for marked in ballots:
        contest, _ = encrypt_contest(key, enc, marked, CONTEXT)
        products = [
            p * c % key.n_squared for p, c in zip(products, contest.ciphertexts, strict=True)
        ]
    totals = contest_totals(key, enc, products)
    assert len(totals) == enc.parts == 1
    counts = decode_totals(enc, [decrypt(key, *factors, t) for t in totals], MAX_VOTERS)
    assert counts == [2, 1, 0, 3, 2]  # candidates 0..3, then the 2 blank ballots


def test_totals_split_across_parts(key: PublicKey, factors: tuple[int, int]) -> None:
    # 10-bit digits in a 64-bit key's plaintexts: 6 per part, 11 candidates + blank = 2 parts
    enc = contest_encoding(11, MAX_VOTERS, 64, 0, 3)
    assert enc.parts == 2
    marks = [{0, 5, 6}, {10}, set(), {6, 7}]
    per_digit = [sum(j in m for m in marks) for j in range(11)] + [1]
    products = []
    for digit in range(enc.digits):
        product = 1
        for m in marks:
            plain = encode_marks(enc, m)[digit]
            product = product * paillier.encrypt_random(key, plain)[0] % key.n_squared
        products.append(product)
    totals = [decrypt(key, *factors, t) for t in contest_totals(key, enc, products)]
    assert decode_totals(enc, totals, MAX_VOTERS) == per_digit


def test_decode_refuses_more_marks_than_voters_could_make() -> None:
    enc = contest_encoding(3, 7, 512, 0, 2)
    base = enc.base
    # 3 voters at most 2 marks each: 6 marks; digits (3, 3, 1) sum 7
    with pytest.raises(DecryptionError, match="7 marks"):
        decode_totals(enc, [3 + 3 * base + 1 * base**2], 3)
    assert decode_totals(enc, [3 + 3 * base + 0 * base**2 + 1 * base**3], 3) == [3, 3, 0, 1]


# ------------------------------------------------------------------ cheating provers


def cheat(
    key: PublicKey, enc: ContestEncoding, plaintexts: Sequence[int]
) -> list[MembershipStatement]:
    """A prover that encrypts any values (mod n) and proves as if each were allowed: for a
    value outside a statement's set it runs the honest prover against branch 0."""
    n = key.n
    randomness = [paillier.encrypt_random(key, 0)[1] for _ in plaintexts]
    ciphertexts = [
        paillier.encrypt(key, m % n, r) for m, r in zip(plaintexts, randomness, strict=True)
    ]
    proofs = []
    for j, (c, r, m) in enumerate(zip(ciphertexts, randomness, plaintexts, strict=True)):
        allowed = allowed_plaintexts(enc, j)
        index = allowed.index(m) if m in allowed else 0
        proofs.append(prove_membership(key, c, r, allowed, index, {"contest": CONTEXT, "mark": j}))
    weights = [1] * enc.candidates + ([enc.blank_weight] if enc.blank_allowed else [])
    total = sum(w * m for w, m in zip(weights, plaintexts, strict=True))
    total_r = 1
    for r, w in zip(randomness, weights, strict=True):
        total_r = total_r * pow(r, w, n) % n
    sum_c = 1
    for c, w in zip(ciphertexts, weights, strict=True):
        sum_c = sum_c * pow(c, w, key.n_squared) % key.n_squared
    allowed = count_plaintexts(enc)
    index = allowed.index(total) if total in allowed else 0
    sum_proof = prove_membership(
        key,
        sum_c,
        total_r,
        allowed,
        index,
        {"contest": CONTEXT, "count": [f"{c:x}" for c in ciphertexts]},
    )
    contest = EncryptedContest(tuple(ciphertexts), tuple(proofs), sum_proof)
    return contest_statements(key, enc, contest, CONTEXT)


def valid(enc: ContestEncoding, plaintexts: Sequence[int]) -> bool:
    marks, blank = plaintexts[: enc.candidates], plaintexts[enc.candidates :]
    if any(m not in (0, 1) for m in plaintexts):
        return False
    count = sum(marks)
    if enc.blank_allowed and blank[0] != int(count == 0):
        return False
    return enc.min_marks <= count <= enc.max_marks


@pytest.mark.parametrize(
    ("bounds", "plaintexts", "failing"),
    [
        ((0, 1), (1, 1, 0, 0), {4}),  # two marks in a choose-at-most-one contest: the count
        ((0, 3), (1, 1, 1, 1, 0), {5}),  # k + 1 marks
        ((3, 3), (1, 1, 0, 0), {4}),  # k - 1 marks where exactly k are required
        ((0, 3), (2, 0, 0, 0, 0), {0}),  # a mark of 2
        ((0, 3), (-1, 1, 1, 0, 0), {0}),  # a negative mark (n - 1)
        ((0, 3), (1, 0, 0, 0, 1), {5}),  # blank and a mark
        ((0, 3), (0, 0, 0, 0, 0), {5}),  # no mark and not blank
        ((0, 2), (1, 1, -1, 0), {2}),  # a negative mark that keeps the count in range
        ((1, 2), (2, -1, 0), {0, 1}),  # 2 and -1: the count 1 holds, the marks do not
    ],
)
def test_markings_outside_the_bounds_cannot_be_proven(
    key: PublicKey, bounds: tuple[int, int], plaintexts: tuple[int, ...], failing: set[int]
) -> None:
    candidates = len(plaintexts) - (bounds[0] == 0)
    enc = contest_encoding(candidates, MAX_VOTERS, 512, *bounds)
    statements = cheat(key, enc, plaintexts)
    bad = {i for i, ok in enumerate(verdicts(statements)) if not ok}
    assert bad == failing
    assert set(batch_verify(statements)) == failing


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_no_invalid_marking_passes_a_batch(key: PublicKey, data: Any) -> None:
    candidates = data.draw(st.integers(1, 4))
    high = data.draw(st.integers(1, candidates))
    low = data.draw(st.integers(0, high))
    if (low, high) == (1, 1):
        low = 0
    enc = contest_encoding(candidates, MAX_VOTERS, 512, low, high)
    plaintexts = data.draw(
        st.lists(st.integers(-1, 2), min_size=enc.ciphertexts, max_size=enc.ciphertexts)
    )
    statements = cheat(key, enc, plaintexts)
    honest_ok = all(verdicts(statements))
    assert honest_ok == valid(enc, plaintexts)
    # mixed with an honest ballot, the batch names exactly the cheat's failing statements
    honest, _ = encrypt_contest(key, enc, set(range(low)), CONTEXT)
    pool = contest_statements(key, enc, honest, CONTEXT) + statements
    expected = [i for i, ok in enumerate(verdicts(pool)) if not ok]
    assert batch_verify(pool) == expected
    assert (expected == []) == valid(enc, plaintexts)


# ------------------------------------------------------------------ tampering


def _tampered_dicts(d: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every single-value change of a contest dict: each ciphertext, each proof value."""
    out = []
    for i in range(len(d["ciphertexts"])):
        t = json.loads(json.dumps(d))
        t["ciphertexts"][i] = f"{int(t['ciphertexts'][i], 16) * 4 % (1 << 1020) + 1:x}"
        out.append((f"ciphertexts[{i}]", t))
    proofs = [("proofs", i) for i in range(len(d["proofs"]))] + [("sum_proof", None)]
    for where, i in proofs:
        proof = d[where] if i is None else d[where][i]
        for name in ("commitments", "challenges", "responses"):
            for j in range(len(proof[name])):
                t = json.loads(json.dumps(d))
                target = t[where] if i is None else t[where][i]
                target[name][j] = f"{int(target[name][j], 16) + 1:x}"
                out.append((f"{where}[{i}].{name}[{j}]", t))
    swapped = json.loads(json.dumps(d))
    swapped["ciphertexts"][0], swapped["ciphertexts"][1] = d["ciphertexts"][1], d["ciphertexts"][0]
    swapped["proofs"][0], swapped["proofs"][1] = d["proofs"][1], d["proofs"][0]
    out.append(("two marks swapped with their proofs", swapped))
    return out


def test_every_tampering_is_refused(key: PublicKey) -> None:
    enc = contest_encoding(3, MAX_VOTERS, 512, 0, 2)
    contest, _ = encrypt_contest(key, enc, {0}, CONTEXT)
    original = contest.to_dict()
    cases = _tampered_dicts(original)
    assert len(cases) == 4 + 4 * 3 * 2 + 3 * 3 + 1  # count: allowed 1, 2, W = 4
    for where, tampered in cases:
        try:
            parsed = EncryptedContest.from_dict(tampered, key, enc, "contest")
            statements = contest_statements(key, enc, parsed, CONTEXT)
        except InvalidInput:
            continue
        assert not all(verdicts(statements)), where
        assert batch_verify(statements) != [], where


def test_proofs_are_bound_to_their_contest(key: PublicKey) -> None:
    enc = contest_encoding(3, MAX_VOTERS, 512, 1, 2)
    contest, _ = encrypt_contest(key, enc, {1, 2}, CONTEXT)
    for other in ({**CONTEXT, "contest": "mayor"}, {**CONTEXT, "district": "south"}):
        assert not any(verdicts(contest_statements(key, enc, contest, other)))
    # a count proof moved to another ballot with the same count fails: it names every ciphertext
    second, _ = encrypt_contest(key, enc, {0, 1}, CONTEXT)
    mixed = EncryptedContest(second.ciphertexts, second.proofs, contest.sum_proof)
    assert verdicts(contest_statements(key, enc, mixed, CONTEXT)) == [True] * 3 + [False]


def test_shape_errors_name_the_field(key: PublicKey) -> None:
    enc = contest_encoding(3, MAX_VOTERS, 512, 0, 2)
    d = encrypt_contest(key, enc, {0}, CONTEXT)[0].to_dict()
    for change, field in (
        (lambda t: t["ciphertexts"].pop(), "contest.ciphertexts"),
        (lambda t: t["proofs"].pop(), "contest.proofs"),
        (lambda t: t.update(sum_proof=None), "contest.sum_proof"),
        (lambda t: t["sum_proof"]["challenges"].pop(), "contest.sum_proof.challenges"),
    ):
        t = json.loads(json.dumps(d))
        change(t)
        with pytest.raises(InvalidInput) as caught:
            EncryptedContest.from_dict(t, key, enc, "contest")
        assert caught.value.field.startswith(field)


def test_a_one_of_l_contest_is_unchanged(key: PublicKey) -> None:
    enc = contest_encoding(4, MAX_VOTERS, 512)
    contest, _ = encrypt_contest(key, enc, 2, CONTEXT)
    assert contest.sum_proof is None and len(contest.ciphertexts) == 1
    with pytest.raises(InvalidInput, match="exactly one"):
        encrypt_contest(key, enc, {2}, CONTEXT)
    assert contest_totals(key, enc, contest.ciphertexts) == contest.ciphertexts


# ------------------------------------------------------------------ known-answer vector


def test_vector(key: PublicKey) -> None:
    """tests/vectors/marks_contest.json: a 2-of-3 contest with a blank box, re-checked from the
    spec's words with plain integers (statement order, contexts, the count's weights)."""
    vector = json.loads(VECTOR.read_text())
    n = int(vector["public_key"]["n"], 16)
    key = PublicKey(n)
    enc = contest_encoding(
        vector["candidates"],
        vector["max_voters"],
        vector["key_bits"],
        vector["min_marks"],
        vector["max_marks"],
    )
    contest = EncryptedContest.from_dict(vector["contest"], key, enc, "contest")
    statements = contest_statements(key, enc, contest, vector["context"])
    assert all(verdicts(statements)) and batch_verify(statements) == []
    assert [s.allowed for s in statements] == [
        tuple(int(m, 16) for m in a) for a in vector["allowed"]
    ]
    n2 = n * n
    cs = [int(c, 16) for c in vector["contest"]["ciphertexts"]]
    weights = [1] * vector["candidates"] + [vector["candidates"] + 1]
    product = 1
    for c, w in zip(cs, weights, strict=True):
        product = product * pow(c, w, n2) % n2
    assert statements[-1].ciphertext == product
    assert statements[-1].context == {
        "contest": vector["context"],
        "count": vector["contest"]["ciphertexts"],
    }
    assert [s.context for s in statements[:-1]] == [
        {"contest": vector["context"], "mark": j} for j in range(len(cs))
    ]
    for case in vector["tampered"]:
        try:
            parsed = EncryptedContest.from_dict(case["contest"], key, enc, "contest")
            bad = verdicts(contest_statements(key, enc, parsed, vector["context"]))
        except InvalidInput:
            continue
        assert not all(bad), case["what"]


def test_prove_with_nonces_is_deterministic_for_vectors(key: PublicKey) -> None:
    # the vector generator relies on it: the same nonces give the same proof
    c, r = paillier.encrypt_random(key, 1)
    nonces = ProverNonces(5, {0: (7, 11)})
    first = prove_with_nonces(key, c, r, MARK_VALUES, 1, {"x": 1}, nonces)
    assert first == prove_with_nonces(key, c, r, MARK_VALUES, 1, {"x": 1}, nonces)
