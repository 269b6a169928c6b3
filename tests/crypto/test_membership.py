"""1-of-L membership proofs: completeness, rejection of every tampering, batch verification that
agrees with individual verification, contest-level encryption and checks, known-answer vectors."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import secrets
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canonical.encoding import canonical_bytes, parse_b64url, parse_canonical
from crypto import membership, paillier
from crypto.encoding import (
    allowed_plaintexts,
    contest_encoding,
    decode_totals,
    encode_choice,
    sum_allowed_plaintexts,
)
from crypto.errors import InvalidInput, ProofInvalid
from crypto.membership import (
    CHALLENGE_BITS,
    EncryptedContest,
    MembershipProof,
    MembershipStatement,
    NthResidues,
    ProverNonces,
    batch_verify,
    batch_verify_parallel,
    contest_statements,
    encrypt_contest,
    membership_challenge,
    nth_residues,
    part_context,
    prove_membership,
    prove_with_nonces,
    verify_membership,
)
from crypto.paillier import PublicKey
from crypto.primitives.modular import FixedBase, multiexp, multiexp_buckets
from crypto.threshold import combine, deal, decryption_share

VECTOR = Path(__file__).parent.parent / "vectors" / "membership_proof.json"
SPLIT_VECTOR = Path(__file__).parent.parent / "vectors" / "split_contest.json"
CONTEXT = {"election_id": "test-2026", "manifest_hash": "ab" * 32, "contest_id": "mayor", "part": 0}
E_MOD = 1 << CHALLENGE_BITS


@pytest.fixture(scope="module")
def key(safe_primes: dict) -> PublicKey:
    p, q = safe_primes[512]
    return PublicKey(p * q)


@pytest.fixture(scope="module")
def other_key(safe_primes: dict) -> PublicKey:
    p, q = safe_primes[1024]
    return PublicKey(p * q)


@pytest.fixture(scope="module")
def factors(safe_primes: dict) -> tuple[int, int]:
    return safe_primes[512]


def decrypt(key: PublicKey, p: int, q: int, c: int) -> int:
    """Plain Paillier decryption with the fixture's factors (g = n + 1)."""
    lam = (p - 1) * (q - 1)
    return paillier.L(pow(c, lam, key.n_squared), key.n) * pow(lam, -1, key.n) % key.n


def honest(
    key: PublicKey, allowed: tuple[int, ...], index: int, context: dict | None = None
) -> MembershipStatement:
    c, r = paillier.encrypt_random(key, allowed[index])
    context = CONTEXT if context is None else context
    proof = prove_membership(key, c, r, allowed, index, context)
    return MembershipStatement(key, c, allowed, proof, context)


def verdict(s: MembershipStatement) -> bool:
    try:
        verify_membership(s.key, s.ciphertext, s.allowed, s.proof, s.context)
    except (InvalidInput, ProofInvalid):
        return False
    return True


def replace_at(values: tuple[int, ...], j: int, value: int) -> tuple[int, ...]:
    return (*values[:j], value, *values[j + 1 :])


def with_proof(s: MembershipStatement, **changes: Any) -> MembershipStatement:
    return dataclasses.replace(s, proof=dataclasses.replace(s.proof, **changes))


ALLOWED = (1, 1 << 10, 1 << 20, 1 << 30)
json_values = st.one_of(st.text(max_size=8), st.integers(-(2**40), 2**40), st.booleans())
contexts = st.dictionaries(st.text(min_size=1, max_size=6), json_values, min_size=1, max_size=4)


# --------------------------------------------------------------------------------------------
# Completeness and encoding of proofs


@given(
    allowed=st.lists(st.integers(0, 2**200), min_size=1, max_size=6, unique=True),
    data=st.data(),
    context=contexts,
)
def test_honest_proofs_verify(key: PublicKey, allowed: list[int], data: Any, context: dict) -> None:
    index = data.draw(st.integers(0, len(allowed) - 1))
    s = honest(key, tuple(allowed), index, context)
    verify_membership(key, s.ciphertext, s.allowed, s.proof, context)
    assert batch_verify([s]) == []
    half = (key.n - 1) // 2
    assert all(0 < z <= half for z in s.proof.responses)
    assert sum(s.proof.challenges) % E_MOD == membership_challenge(
        key, s.ciphertext, s.allowed, s.proof.commitments, context
    )


def test_proof_dict_round_trip_and_validation(key: PublicKey) -> None:
    s = honest(key, ALLOWED, 2)
    d = parse_canonical(canonical_bytes(s.proof.to_dict()))
    assert MembershipProof.from_dict(d, key, len(ALLOWED), "proof") == s.proof
    with pytest.raises(InvalidInput, match=r"proof\.commitments: 4 entries, expected 5"):
        MembershipProof.from_dict(d, key, 5, "proof")
    for name, bad, message in [
        ("commitments", format(key.n_squared, "x"), r"commitments\[1\]: not in \[1, n\^2\)"),
        ("challenges", format(E_MOD, "x"), r"challenges\[1\]: not in \[0, 2\^128\)"),
        ("responses", format(key.n - 1, "x"), r"responses\[1\]: not in \[1, \(n-1\)/2\]"),
        ("responses", "0", r"responses\[1\]: not in"),
        ("responses", "0x12", r"responses\[1\]: expected a lower-case hex"),
        ("responses", "01", r"responses\[1\]: expected a lower-case hex"),
    ]:
        tampered = {**d, name: replace_list(d[name], 1, bad)}
        with pytest.raises(InvalidInput, match=message):
            MembershipProof.from_dict(tampered, key, len(ALLOWED), "proof")
    # a commitment that is not a unit parses (ranges only); checking the proof refuses it
    non_unit = MembershipProof.from_dict(
        {**d, "commitments": replace_list(d["commitments"], 1, format(key.n, "x"))},
        key,
        len(ALLOWED),
        "proof",
    )
    with pytest.raises(InvalidInput, match=r"commitments\[1\]: not a unit"):
        verify_membership(key, s.ciphertext, s.allowed, non_unit, s.context)
    with pytest.raises(InvalidInput, match="unexpected fields"):
        MembershipProof.from_dict({**d, "extra": []}, key, len(ALLOWED), "proof")
    with pytest.raises(InvalidInput, match=r"proof\.challenges: missing"):
        MembershipProof.from_dict(
            {k: v for k, v in d.items() if k != "challenges"}, key, len(ALLOWED), "proof"
        )


def replace_list(values: list[str], j: int, value: str) -> list[str]:
    return [*values[:j], value, *values[j + 1 :]]


def test_non_unit_response_refused(key: PublicKey, factors: tuple[int, int]) -> None:
    s = honest(key, ALLOWED, 0)
    p, _ = factors
    bad = with_proof(s, responses=replace_at(s.proof.responses, 0, p))
    with pytest.raises(InvalidInput, match=r"responses\[0\]: not a unit"):
        verify_membership(key, s.ciphertext, s.allowed, bad.proof, s.context)


# --------------------------------------------------------------------------------------------
# Every tampering is rejected


def tamperings(
    key: PublicKey, other_key: PublicKey, s: MembershipStatement
) -> dict[str, MembershipStatement]:
    """Named modifications of an honest statement, each of which must fail to verify."""
    n, n2 = key.n, key.n_squared
    pr = s.proof
    out: dict[str, MembershipStatement] = {}
    for j in range(len(pr.commitments)):
        out[f"commitment {j} * g"] = with_proof(
            s, commitments=replace_at(pr.commitments, j, pr.commitments[j] * (1 + n) % n2)
        )
        out[f"commitment {j} negated"] = with_proof(
            s, commitments=replace_at(pr.commitments, j, n2 - pr.commitments[j])
        )
        out[f"challenge {j} + 1"] = with_proof(
            s, challenges=replace_at(pr.challenges, j, (pr.challenges[j] + 1) % E_MOD)
        )
        z = pr.responses[j]
        out[f"response {j} + 1"] = with_proof(s, responses=replace_at(pr.responses, j, z + 1))
        out[f"response {j} negated"] = with_proof(s, responses=replace_at(pr.responses, j, n - z))
        out[f"response {j} doubled"] = with_proof(
            s, responses=replace_at(pr.responses, j, 2 * z % n)
        )
    if len(pr.challenges) > 1:
        # keep the challenge sum: only the branch equations can catch these
        e = pr.challenges
        out["challenges swapped"] = with_proof(s, challenges=(e[1], e[0], *e[2:]))
        out["challenge moved between branches"] = with_proof(
            s, challenges=((e[0] + 1) % E_MOD, (e[1] - 1) % E_MOD, *e[2:])
        )
        out["responses swapped"] = with_proof(
            s, responses=(pr.responses[1], pr.responses[0], *pr.responses[2:])
        )
        out["allowed reordered"] = dataclasses.replace(
            s, allowed=(s.allowed[1], s.allowed[0], *s.allowed[2:])
        )
    out["ciphertext re-randomised"] = dataclasses.replace(
        s, ciphertext=s.ciphertext * paillier.encrypt_random(key, 0)[0] % n2
    )
    out["ciphertext + 1 vote"] = dataclasses.replace(s, ciphertext=s.ciphertext * (1 + n) % n2)
    out["ciphertext negated"] = dataclasses.replace(s, ciphertext=n2 - s.ciphertext)
    out["allowed value changed"] = dataclasses.replace(
        s, allowed=(s.allowed[0] + 1, *s.allowed[1:])
    )
    out["allowed value added"] = dataclasses.replace(s, allowed=(*s.allowed, 12345))
    for field in s.context:
        out[f"context {field} changed"] = dataclasses.replace(
            s, context={**s.context, field: "other"}
        )
    out["context field added"] = dataclasses.replace(s, context={**s.context, "extra": 1})
    out["other key"] = dataclasses.replace(s, key=other_key)
    out["modulus + 2"] = dataclasses.replace(s, key=PublicKey(key.n + 2))
    return out


@given(index=st.integers(0, len(ALLOWED) - 1))
@settings(max_examples=6)
def test_every_tampering_is_rejected(key: PublicKey, other_key: PublicKey, index: int) -> None:
    s = honest(key, ALLOWED, index)
    assert verdict(s)
    cases = tamperings(key, other_key, s)
    for name, bad in cases.items():
        assert not verdict(bad), name
    names = list(cases)
    assert batch_verify(list(cases.values())) == list(range(len(names)))
    # an honest statement among them is not dragged down
    mixed = [*cases.values(), s]
    assert batch_verify(mixed) == list(range(len(names)))


def test_proof_of_a_value_outside_the_allowed_set_fails(key: PublicKey) -> None:
    """Soundness from the prover's side: claiming a branch the ciphertext does not hold."""
    c, r = paillier.encrypt_random(key, 7)  # 7 is not allowed
    for index in range(len(ALLOWED)):
        proof = prove_membership(key, c, r, ALLOWED, index, CONTEXT)
        with pytest.raises(ProofInvalid, match=r"branch \d does not verify"):
            verify_membership(key, c, ALLOWED, proof, CONTEXT)
        assert batch_verify([MembershipStatement(key, c, ALLOWED, proof, CONTEXT)]) == [0]


def test_negated_commitment_made_by_the_prover_is_the_same_statement(key: PublicKey) -> None:
    """An order-2 factor the prover puts in before hashing: individual and batch verification
    agree (both check the squared equation, which still proves membership: -1 = (-1)^n)."""
    m_index = 1
    c, r = paillier.encrypt_random(key, ALLOWED[m_index])
    nonces = ProverNonces(
        rho=paillier.encrypt_random(key, 0)[1],
        simulated={j: (secrets.randbelow(key.n - 2) + 1, secrets.randbits(128)) for j in (0, 2, 3)},
    )
    proof = prove_with_nonces(key, c, r, ALLOWED, m_index, CONTEXT, nonces)
    s = MembershipStatement(key, c, ALLOWED, proof, CONTEXT)
    assert verdict(s) and batch_verify([s]) == []
    # The same proof with the real commitment negated, re-hashed and re-answered: the prover
    # knows rho and r, so it can recompute e_k and z_k.
    n, n2 = key.n, key.n_squared
    commitments = replace_at(proof.commitments, m_index, n2 - proof.commitments[m_index])
    e = membership_challenge(key, c, ALLOWED, commitments, CONTEXT)
    e_k = (e - sum(x for j, x in enumerate(proof.challenges) if j != m_index)) % E_MOD
    z = nonces.rho * pow(r, e_k, n) % n
    z = min(z, n - z)
    sneaky = MembershipStatement(
        key,
        c,
        ALLOWED,
        MembershipProof(
            commitments,
            replace_at(proof.challenges, m_index, e_k),
            replace_at(proof.responses, m_index, z),
        ),
        CONTEXT,
    )
    assert verdict(sneaky) and batch_verify([sneaky]) == []


# --------------------------------------------------------------------------------------------
# Batch verification agrees with individual verification


def _tamper_kinds(
    key: PublicKey, factors: tuple[int, int]
) -> list[Callable[[MembershipStatement, int], MembershipStatement]]:
    n, n2 = key.n, key.n_squared
    p, _ = factors

    def commitment(fn: Callable[[int], int]) -> Callable[[MembershipStatement, int], Any]:
        return lambda s, j: with_proof(
            s, commitments=replace_at(s.proof.commitments, j, fn(s.proof.commitments[j]))
        )

    def response(fn: Callable[[int], int]) -> Callable[[MembershipStatement, int], Any]:
        return lambda s, j: with_proof(
            s, responses=replace_at(s.proof.responses, j, fn(s.proof.responses[j]))
        )

    def both_negated(s: MembershipStatement, j: int) -> MembershipStatement:
        s = commitment(lambda a: n2 - a)(s, j)
        return response(lambda z: n - z)(s, j)

    def shift_challenge(s: MembershipStatement, j: int) -> MembershipStatement:
        e = list(s.proof.challenges)
        k = (j + 1) % len(e)
        if k == j:
            return dataclasses.replace(s, ciphertext=s.ciphertext * (1 + n) % n2)
        e[j], e[k] = (e[j] + 1) % E_MOD, (e[k] - 1) % E_MOD
        return with_proof(s, challenges=tuple(e))

    return [
        commitment(lambda a: n2 - a),  # order 2: -1
        commitment(lambda a: a * (1 + n) % n2),
        commitment(lambda a: p),  # non-unit
        commitment(lambda a: 0),  # out of range
        response(lambda z: n - z),  # order 2 on the response
        response(lambda z: z * p % n or p),  # non-unit
        response(lambda z: z + 1),
        both_negated,
        shift_challenge,  # keeps the challenge sum
        lambda s, j: dataclasses.replace(s, ciphertext=s.ciphertext * p % n2),  # non-unit
        lambda s, j: dataclasses.replace(s, ciphertext=n2 - s.ciphertext),  # order 2
        lambda s, j: dataclasses.replace(s, context={**s.context, "part": 99}),
    ]


@pytest.fixture(scope="module")
def honest_pool(key: PublicKey, other_key: PublicKey) -> list[MembershipStatement]:
    pool = [honest(key, ALLOWED, i % len(ALLOWED)) for i in range(12)]
    pool += [honest(key, (0, 5), i % 2, {**CONTEXT, "part": 1}) for i in range(4)]
    pool += [honest(other_key, ALLOWED, i % len(ALLOWED)) for i in range(3)]
    return pool


@given(data=st.data())
@settings(max_examples=30)
def test_batch_verdict_equals_individual_verdicts(
    key: PublicKey, factors: tuple[int, int], honest_pool: list, data: Any
) -> None:
    kinds = _tamper_kinds(key, factors)
    size = data.draw(st.integers(0, 24))
    statements = []
    for _ in range(size):
        s = honest_pool[data.draw(st.integers(0, len(honest_pool) - 1))]
        if data.draw(st.integers(0, 3)) == 0 and s.key == key:
            kind = kinds[data.draw(st.integers(0, len(kinds) - 1))]
            s = kind(s, data.draw(st.integers(0, len(s.allowed) - 1)))
        statements.append(s)
    expected = [i for i, s in enumerate(statements) if not verdict(s)]
    assert batch_verify(statements) == expected


def test_every_tamper_kind_is_bad_and_batch_names_it(
    key: PublicKey, factors: tuple[int, int], honest_pool: list
) -> None:
    kinds = _tamper_kinds(key, factors)
    statements = [kind(honest_pool[i], i % 4) for i, kind in enumerate(kinds)]
    assert not any(verdict(s) for s in statements)
    good = honest_pool[: len(statements)]
    interleaved = [x for pair in zip(good, statements, strict=True) for x in pair]
    assert batch_verify(interleaved) == list(range(1, len(interleaved), 2))


def test_batch_survives_garbage_statements(key: PublicKey, honest_pool: list) -> None:
    good = honest_pool[0]
    garbage: list[Any] = [
        "not a statement",
        dataclasses.replace(good, proof="not a proof"),
        dataclasses.replace(good, context=["not", "a", "mapping"]),
        dataclasses.replace(good, context={"x": 1.5}),  # floats are not canonical
        dataclasses.replace(good, allowed=()),
        dataclasses.replace(good, ciphertext=-1),
        with_proof(good, challenges=good.proof.challenges[:-1]),
    ]
    assert batch_verify([good, *garbage, good]) == list(range(1, len(garbage) + 1))
    assert batch_verify([]) == []


def test_parallel_batch_matches(
    key: PublicKey, factors: tuple[int, int], honest_pool: list
) -> None:
    kinds = _tamper_kinds(key, factors)
    statements = list(honest_pool)
    statements[3] = kinds[0](statements[3], 1)
    statements[10] = kinds[8](statements[10], 0)
    expected = [3, 10]
    assert batch_verify(statements) == expected
    assert batch_verify_parallel(statements, workers=2) == expected
    assert batch_verify_parallel(statements, workers=2, chunk=4) == expected
    assert batch_verify_parallel(statements, workers=1) == expected


def test_batch_in_small_chunks_matches(
    key: PublicKey, factors: tuple[int, int], honest_pool: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    kinds = _tamper_kinds(key, factors)
    statements = list(honest_pool)
    for i in (0, 4, 5, 11):
        statements[i] = kinds[i % len(kinds)](statements[i], 0)
    expected = [i for i, s in enumerate(statements) if not verdict(s)]
    assert expected == [0, 4, 5, 11]
    monkeypatch.setattr(membership, "BATCH_CHUNK", 3)
    assert batch_verify(statements) == expected


# --------------------------------------------------------------------------------------------
# Contests


@pytest.mark.parametrize("candidates", [1, 3, 120])
def test_encrypted_contests_verify_and_tally(
    key: PublicKey, factors: tuple[int, int], candidates: int
) -> None:
    enc = contest_encoding(candidates, 1000, key.bits)
    assert enc.parts == (3 if candidates == 120 else 1)
    choices = [secrets.randbelow(candidates) for _ in range(4)] + [candidates - 1]
    contests = []
    for choice in choices:
        contest, randomness = encrypt_contest(key, enc, choice, CONTEXT)
        assert len(randomness) == enc.parts
        for part, (c, r) in enumerate(zip(contest.ciphertexts, randomness, strict=True)):
            assert c == paillier.encrypt(key, encode_choice(enc, choice)[part], r)
        statements = contest_statements(key, enc, contest, CONTEXT)
        assert len(statements) == enc.parts + (enc.parts > 1)
        assert all(verdict(s) for s in statements)
        parsed = EncryptedContest.from_dict(
            parse_canonical(canonical_bytes(contest.to_dict())), key, enc, "contest"
        )
        assert parsed == contest
        contests.append(contest)
    everything = [s for c in contests for s in contest_statements(key, enc, c, CONTEXT)]
    assert batch_verify(everything) == []
    totals = [
        decrypt(key, *factors, paillier.multiply(key, [c.ciphertexts[part] for c in contests]))
        for part in range(enc.parts)
    ]
    counts = Counter(choices)
    assert decode_totals(enc, totals, 1000) == [counts[j] for j in range(candidates)]


def test_contest_proofs_are_bound_to_their_context(key: PublicKey) -> None:
    enc = contest_encoding(120, 1000, key.bits)
    contest, _ = encrypt_contest(key, enc, 60, CONTEXT)
    other = {**CONTEXT, "contest_id": "council"}
    assert batch_verify(contest_statements(key, enc, contest, other)) == [0, 1, 2, 3]
    # parts swapped: each proof is bound to its own part number
    swapped = dataclasses.replace(
        contest,
        ciphertexts=(contest.ciphertexts[1], contest.ciphertexts[0], contest.ciphertexts[2]),
        proofs=(contest.proofs[1], contest.proofs[0], contest.proofs[2]),
    )
    assert batch_verify(contest_statements(key, enc, swapped, CONTEXT)) == [0, 1]


def _double_vote(key: PublicKey, enc: Any, parts_with_vote: list[int]) -> EncryptedContest:
    """A cheating voter: every part holds a valid value, but more than one part holds a vote."""
    ciphertexts, randomness, proofs = [], [], []
    for part in range(enc.parts):
        allowed = allowed_plaintexts(enc, part)
        m = 1 if part in parts_with_vote else 0  # 1 = B^0: first candidate of the part
        c, r = paillier.encrypt_random(key, m)
        ciphertexts.append(c)
        randomness.append(r)
        proofs.append(
            prove_membership(key, c, r, allowed, allowed.index(m), part_context(CONTEXT, part))
        )
    total_r = 1
    for r in randomness:
        total_r = total_r * r % key.n
    total = paillier.multiply(key, ciphertexts)
    # the best the cheater can do: claim the product holds B^0 (it holds 2 B^0)
    sum_proof = prove_membership(
        key, total, total_r, sum_allowed_plaintexts(enc), 0, part_context(CONTEXT, "sum")
    )
    return EncryptedContest(tuple(ciphertexts), tuple(proofs), sum_proof)


def test_two_choices_in_a_split_contest_are_rejected_by_the_sum_proof(key: PublicKey) -> None:
    enc = contest_encoding(120, 1000, key.bits)
    for votes in ([0, 1], [0, 2], [0, 1, 2], []):
        contest = _double_vote(key, enc, votes)
        statements = contest_statements(key, enc, contest, CONTEXT)
        assert [verdict(s) for s in statements] == [True, True, True, False]
        assert batch_verify(statements) == [3]
    # an honest sum proof from another ballot does not help
    honest_contest, _ = encrypt_contest(key, enc, 0, CONTEXT)
    cheat = dataclasses.replace(_double_vote(key, enc, [0, 1]), sum_proof=honest_contest.sum_proof)
    assert batch_verify(contest_statements(key, enc, cheat, CONTEXT)) == [3]


def test_two_choices_in_one_ciphertext_are_rejected(key: PublicKey) -> None:
    enc = contest_encoding(3, 1000, key.bits)
    allowed = allowed_plaintexts(enc, 0)
    c, r = paillier.encrypt_random(key, allowed[0] + allowed[1])
    for index in range(len(allowed)):
        proof = prove_membership(key, c, r, allowed, index, part_context(CONTEXT, 0))
        contest = EncryptedContest((c,), (proof,), None)
        assert batch_verify(contest_statements(key, enc, contest, CONTEXT)) == [0]


def test_contest_shape_is_validated(key: PublicKey) -> None:
    enc = contest_encoding(120, 1000, key.bits)
    single = contest_encoding(3, 1000, key.bits)
    contest, _ = encrypt_contest(key, enc, 5, CONTEXT)
    d = contest.to_dict()
    cases = [
        ({**d, "ciphertexts": d["ciphertexts"][:2]}, r"contest\.ciphertexts: 2 entries"),
        ({**d, "ciphertexts": ["0", *d["ciphertexts"][1:]]}, r"ciphertexts\[0\]: not a unit"),
        ({**d, "proofs": d["proofs"][:2]}, r"contest\.proofs: expected a list of 3"),
        ({**d, "sum_proof": None}, r"contest\.sum_proof: expected an object"),
        ({k: v for k, v in d.items() if k != "sum_proof"}, r"contest\.sum_proof: missing"),
        ({**d, "extra": 1}, r"contest: unexpected fields"),
        ([], r"contest: expected an object"),
    ]
    for bad, message in cases:
        with pytest.raises(InvalidInput, match=message):
            EncryptedContest.from_dict(bad, key, enc, "contest")
    one, _ = encrypt_contest(key, single, 1, CONTEXT)
    with pytest.raises(InvalidInput, match="must be null"):
        EncryptedContest.from_dict(
            {**one.to_dict(), "sum_proof": d["sum_proof"]}, key, single, "contest"
        )
    with pytest.raises(InvalidInput, match="sum_proof"):
        contest_statements(key, enc, dataclasses.replace(contest, sum_proof=None), CONTEXT)
    with pytest.raises(InvalidInput, match="do not fit"):
        encrypt_contest(key, contest_encoding(300, 1000, 2048), 0, CONTEXT)


# --------------------------------------------------------------------------------------------
# Known-answer vectors


def _load_vector(key: PublicKey) -> dict:
    vector = json.loads(VECTOR.read_text())
    assert int(vector["public_key"]["n"], 16) == key.n
    return vector


def _statement_of(key: PublicKey, case: dict) -> MembershipStatement:
    return MembershipStatement(
        key,
        int(case["ciphertext"], 16),
        tuple(int(m, 16) for m in case["allowed"]),
        MembershipProof.from_dict(case["proof"], key, len(case["allowed"]), "proof"),
        case["context"],
    )


def _check_challenge(key: PublicKey, case: dict, domain: str) -> int:
    """The statement as hashed, its canonical bytes, the digest and the challenge (its first
    16 bytes as an integer, written without leading zeros)."""
    s = _statement_of(key, case)
    statement = membership.membership_statement(
        key, s.ciphertext, s.allowed, s.proof.commitments, s.context
    )
    assert statement == case["hash_input"]
    statement_bytes = canonical_bytes(statement)
    if "hash_input_canonical_hex" in case:
        assert statement_bytes.hex() == case["hash_input_canonical_hex"]
    digest = hashlib.sha256(domain.encode("ascii") + b"\x00" + statement_bytes).digest()
    assert digest.hex() == case["challenge_digest_hex"]
    e = membership_challenge(key, s.ciphertext, s.allowed, s.proof.commitments, s.context)
    assert e == int.from_bytes(digest[:16], "big")
    assert format(e, "x") == case["expected_challenge"]
    return e


def test_vector_context_is_a_ballots() -> None:
    """The context of membership_proof.json has the shape a ballot's proofs bind:
    {"contest": formats.ballot.contest_context(...), "part": 1}."""
    vector = json.loads(VECTOR.read_text())
    for case in (vector["valid"], vector["invalid"]):
        context = case["context"]
        assert set(context) == {"contest", "part"} and context["part"] == 1
        assert set(context["contest"]) == {"election_id", "manifest_hash", "district", "contest"}
        assert context["contest"]["manifest_hash"] == vector["manifest_hash"]
        assert len(parse_b64url(vector["manifest_hash"], "manifest_hash")) == 32


def test_valid_vector(key: PublicKey) -> None:
    vector = _load_vector(key)
    case = vector["valid"]
    s = _statement_of(key, case)
    m, r = int(case["plaintext"], 16), int(case["randomness"], 16)
    assert s.ciphertext == paillier.encrypt(key, m, r)
    e = _check_challenge(key, case, vector["domain"])
    # values that start with a zero hex digit: the digest's hex keeps it, the integer drops it
    assert case["challenge_digest_hex"].startswith("0") and e < 1 << (CHALLENGE_BITS - 4)
    assert any(len(c) < CHALLENGE_BITS // 4 for c in case["proof"]["challenges"])
    verify_membership(key, s.ciphertext, s.allowed, s.proof, s.context)
    # the prover is deterministic given its nonces: recompute the whole proof
    nonces = ProverNonces(
        int(case["prover_nonces"]["rho"], 16),
        {
            int(j): (int(t, 16), int(e_j, 16))
            for j, (t, e_j) in case["prover_nonces"]["simulated"].items()
        },
    )
    index = s.allowed.index(m)
    assert prove_with_nonces(key, s.ciphertext, r, s.allowed, index, s.context, nonces) == s.proof


def test_invalid_vector(key: PublicKey) -> None:
    vector = _load_vector(key)
    case = vector["invalid"]
    s = _statement_of(key, case)
    e = _check_challenge(key, case, vector["domain"])
    assert sum(s.proof.challenges) % E_MOD == e  # the challenges add up: the equation fails
    with pytest.raises(ProofInvalid, match=f"branch {case['failing_branch']} does not verify"):
        verify_membership(key, s.ciphertext, s.allowed, s.proof, s.context)
    assert batch_verify([s]) == [0]
    # exactly one branch equation fails
    n, n2 = key.n, key.n_squared
    holds = []
    for m, a, e_j, z in zip(
        s.allowed, s.proof.commitments, s.proof.challenges, s.proof.responses, strict=True
    ):
        u = s.ciphertext * paillier.g_power(key, -m) % n2
        holds.append(pow(z, 2 * n, n2) == pow(a * pow(u, e_j, n2), 2, n2))
    assert [j for j, ok in enumerate(holds) if not ok] == [case["failing_branch"]]


def test_split_contest_vector(key: PublicKey) -> None:
    """split_contest.json: the contest parses as a ballot's contest; the statements rebuilt by
    contest_statements are the vector's (the sum over the product of the parts), every
    challenge and the prover's nonces reproduce the proofs, and only the double vote's sum
    statement fails."""
    vector = json.loads(SPLIT_VECTOR.read_text())
    assert int(vector["public_key"]["n"], 16) == key.n
    shape = vector["encoding"]
    enc = contest_encoding(shape["candidates"], shape["max_voters"], shape["key_bits"])
    assert (enc.digit_bits, enc.per_ciphertext, enc.parts) == (
        shape["digit_bits"],
        shape["per_ciphertext"],
        shape["parts"],
    )
    for name, failing in (("valid", []), ("invalid", [enc.parts])):
        case = vector[name]
        contest = EncryptedContest.from_dict(case["contest"], key, enc, "contest")
        context = case["statements"][0]["context"]["contest"]
        statements = contest_statements(key, enc, contest, context)
        assert len(statements) == len(case["statements"]) == enc.parts + 1
        for part, (statement, entry) in enumerate(zip(statements, case["statements"], strict=True)):
            assert entry["part"] == (part if part < enc.parts else "sum")
            assert statement.context == entry["context"] == part_context(context, entry["part"])
            assert hex(statement.ciphertext)[2:] == entry["ciphertext"]
            assert [hex(m)[2:] for m in statement.allowed] == entry["allowed"]
            assert statement.proof.to_dict() == entry["proof"]
            r = int(entry["randomness"], 16)
            if entry["part"] == "sum":
                allowed = sum_allowed_plaintexts(enc)
                assert statement.ciphertext == paillier.multiply(key, contest.ciphertexts)
                plaintext = sum(int(m, 16) for m in case["plaintexts"])
            else:
                allowed = allowed_plaintexts(enc, part)
                plaintext = int(case["plaintexts"][part], 16)
            assert statement.allowed == allowed
            assert statement.ciphertext == paillier.encrypt(key, plaintext % key.n, r)
            _check_challenge(key, entry, vector["domain"])
            nonces = entry["prover_nonces"]
            if "simulated" in nonces:  # an honest proof: recompute it from the nonces
                again = prove_with_nonces(
                    key,
                    statement.ciphertext,
                    r,
                    allowed,
                    allowed.index(plaintext),
                    statement.context,
                    ProverNonces(
                        int(nonces["rho"], 16),
                        {
                            int(j): (int(t, 16), int(e, 16))
                            for j, (t, e) in nonces["simulated"].items()
                        },
                    ),
                )
                assert again == statement.proof
        assert batch_verify(statements) == failing
    sums = [s for s in vector["valid"]["statements"] if s["part"] == "sum"]
    assert len(sums[0]["expected_challenge"]) < CHALLENGE_BITS // 4  # a leading zero digit


# --------------------------------------------------------------------------------------------
# The number theory under the prover and the batch verifier


@given(
    st.lists(st.tuples(st.integers(0, 2**1024), st.integers(0, 2**80)), min_size=0, max_size=90),
    st.sampled_from([None, 2, 5]),
)
@settings(max_examples=15)
def test_multiexp_buckets_is_the_product_of_powers(
    key: PublicKey, pairs: list[tuple[int, int]], window: int | None
) -> None:
    n2 = key.n_squared
    expected = 1
    for base, exponent in pairs:
        expected = expected * pow(base, exponent, n2) % n2
    bases = [b for b, _ in pairs]
    exponents = [e for _, e in pairs]
    assert multiexp_buckets(bases, exponents, n2, window) == expected
    assert multiexp(bases, exponents, n2) == expected


@given(st.integers(0, 2**640 - 1), st.sampled_from([1, 3, 6, 8]))
@settings(max_examples=20)
def test_fixed_base_power(key: PublicKey, exponent: int, window: int) -> None:
    base = 0xC0FFEE
    fixed = FixedBase(base, key.n_squared, 640, window)
    assert fixed.power(exponent) == pow(base, exponent, key.n_squared)
    assert fixed.power(0) == 1
    with pytest.raises(ValueError, match="exponent"):
        fixed.power(2**640)
    with pytest.raises(ValueError, match="exponent"):
        fixed.power(-1)


def test_nth_residues_are_uniform_units_with_their_powers(
    key: PublicKey, factors: tuple[int, int]
) -> None:
    """Each t comes with t^n mod n^2, and t falls in all four cosets of the squares (its
    quadratic characters mod p and mod q): the source covers Z*_n, not only the squares."""
    p, q = factors
    source = NthResidues(key.n)
    characters = Counter()
    for _ in range(200):
        t, t_n = source.draw()
        assert 0 < t < key.n and gmpy2.gcd(t, key.n) == 1
        assert t_n == pow(t, key.n, key.n_squared)
        characters[gmpy2.legendre(t, p), gmpy2.legendre(t, q)] += 1
    assert set(characters) == {(1, 1), (1, -1), (-1, 1), (-1, -1)}
    assert nth_residues(key.n) is nth_residues(key.n)  # tables made once per key
    with pytest.raises(InvalidInput, match="not an RSA modulus"):
        NthResidues(key.n * key.n)  # a square has no unit of Jacobi symbol -1


@given(
    st.lists(st.integers(0, 119), min_size=1, max_size=6), st.sampled_from([(1, 2, 3), (2, 4, 5)])
)
@settings(max_examples=4)
def test_threshold_tally_of_verified_ballots(
    safe_primes: dict, choices: list[int], trustees: tuple[int, ...]
) -> None:
    """End to end on a dealt key: encrypt, batch-verify, multiply, decrypt with t of N
    trustees, decode: the counts are the choices."""
    threshold_key, shares = _dealt(safe_primes)
    key = threshold_key.public_key
    enc = contest_encoding(120, 1000, key.bits)
    contests = [encrypt_contest(key, enc, choice, CONTEXT)[0] for choice in choices]
    statements = [s for c in contests for s in contest_statements(key, enc, c, CONTEXT)]
    assert batch_verify(statements) == []
    totals = []
    for part in range(enc.parts):
        total = paillier.multiply(key, [c.ciphertexts[part] for c in contests])
        context = {**CONTEXT, "part": part}
        made = [decryption_share(shares[i - 1], total, context) for i in trustees]
        totals.append(combine(threshold_key, total, made, context).plaintext)
    counts = Counter(choices)
    assert decode_totals(enc, totals, 1000) == [counts[j] for j in range(120)]


@functools.cache
def _dealt_cached(p: int, q: int) -> tuple[Any, list[Any]]:
    return deal(p, q, 5, 3)


def _dealt(safe_primes: dict) -> tuple[Any, list[Any]]:
    return _dealt_cached(*safe_primes[512])
