"""The shortcuts of crypto.membership change no answer: a contest parsed with one gcd is
refused exactly as the value-by-value checks refuse it; what from_dict found out about a proof
(its ranges, its text) never travels with changed values; the challenge from parsed text is the
one from the integers; the batch equation's one gcd refuses a proof with a value that is not a
unit, as the value-by-value unit tests do."""

from __future__ import annotations

import copy
import dataclasses
import functools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canonical.encoding import hex_int
from crypto import membership
from crypto.encoding import ContestEncoding, contest_encoding, encode_choice
from crypto.errors import InvalidInput
from crypto.membership import (
    EncryptedContest,
    MembershipStatement,
    batch_verify,
    contest_statements,
    encrypt_contest,
    membership_challenge,
    verify_membership,
)
from crypto.paillier import PublicKey, g_power
from crypto.primitives.modular import powmod

CONTEXT = {"election_id": "fast-2026", "contest_id": "council"}


@pytest.fixture(scope="module")
def key(safe_primes: dict) -> PublicKey:
    p, q = safe_primes[512]
    return PublicKey(p * q)


@pytest.fixture(scope="module")
def factor(safe_primes: dict) -> int:
    return safe_primes[512][0]


@functools.lru_cache(maxsize=4)
def contest_doc(n: int, candidates: int) -> tuple[ContestEncoding, dict[str, Any]]:
    key = PublicKey(n)
    enc = contest_encoding(candidates, 1000, key.bits)
    contest, _ = encrypt_contest(key, enc, candidates - 1, CONTEXT)
    return enc, contest.to_dict()


def parse(function: Any, doc: Any, key: PublicKey, enc: ContestEncoding) -> Any:
    try:
        return "ok", function(doc, key, enc, "contest")
    except InvalidInput as exc:
        return "refused", str(exc)


def tampered(doc: dict[str, Any], key: PublicKey, factor: int, choice: int, where: int) -> Any:
    """One of several kinds of change at one of the contest's values."""
    doc = copy.deepcopy(doc)
    slots: list[tuple[list[Any], int]] = [
        (doc["ciphertexts"], i) for i in range(len(doc["ciphertexts"]))
    ]
    proofs = [*doc["proofs"], *([doc["sum_proof"]] if doc.get("sum_proof") else [])]
    for proof in proofs:
        for name in ("commitments", "challenges", "responses"):
            slots += [(proof[name], i) for i in range(len(proof[name]))]
    values, index = slots[where % len(slots)]
    original = int(values[index], 16)
    changes = [
        hex_int(factor * 3),  # not a unit
        hex_int(key.n * 2),  # not a unit, still in range for n^2
        hex_int(key.n_squared + original),  # out of range
        hex_int(0),
        "0" + values[index],  # not canonical
        values[index].upper(),
        hex_int(original ^ 1),  # a unit, wrong value: parses, fails only as a proof
    ]
    if choice < len(changes):
        values[index] = changes[choice]
    elif choice == len(changes):
        values.append(values[index])
    elif choice == len(changes) + 1:
        doc["extra"] = 1
    elif choice == len(changes) + 2:
        doc.pop("sum_proof")
    else:
        doc["proofs"] = doc["proofs"][:-1]
    return doc


@pytest.mark.parametrize("candidates", [4, 120])
@given(choice=st.integers(0, 10), where=st.integers(0, 10_000), twice=st.booleans())
@settings(max_examples=60, deadline=None)
def test_fast_contest_parsing_refuses_exactly_as_the_checks_one_by_one(
    key: PublicKey, factor: int, candidates: int, choice: int, where: int, twice: bool
) -> None:
    enc, doc = contest_doc(key.n, candidates)
    bad = tampered(doc, key, factor, choice, where)
    if twice:  # two faults: the first in the format's order is the one named
        bad = tampered(bad, key, factor, (choice + 3) % 7, where * 7 + 1)
    fast = parse(EncryptedContest.from_dict, bad, key, enc)
    exact = parse(membership._parse_contest_exactly, bad, key, enc)
    assert fast == exact
    assert parse(EncryptedContest.from_dict, doc, key, enc)[0] == "ok"


def test_what_from_dict_learnt_does_not_survive_a_change(key: PublicKey, factor: int) -> None:
    enc, doc = contest_doc(key.n, 4)
    contest = EncryptedContest.from_dict(doc, key, enc, "contest")
    proof = contest.proofs[0]
    assert proof._ranges_checked_for == key.n and proof._commitments_hex is not None
    assert contest._checked_for == key.n and contest._ciphertexts_hex is not None
    statement = contest_statements(key, enc, contest, CONTEXT)[0]
    assert statement._ciphertext_hex == doc["ciphertexts"][0]
    assert batch_verify([statement]) == []

    # a non-unit commitment put into the parsed proof is found by batch and single checks
    changed = dataclasses.replace(proof, commitments=(factor, *proof.commitments[1:]))
    assert changed._ranges_checked_for == 0 and changed._commitments_hex is None
    bad = dataclasses.replace(statement, proof=changed)
    assert bad._ciphertext_hex is None
    assert batch_verify([statement, bad, statement]) == [1]
    with pytest.raises(InvalidInput, match="not a unit"):
        verify_membership(key, bad.ciphertext, bad.allowed, bad.proof, bad.context)

    # another ciphertext in a parsed contest is checked again
    other = dataclasses.replace(contest, ciphertexts=(factor,))
    assert other._checked_for == 0
    with pytest.raises(InvalidInput, match="not a unit"):
        contest_statements(key, enc, other, CONTEXT)


def test_the_challenge_from_parsed_text_is_the_challenge_from_the_integers(
    key: PublicKey,
) -> None:
    enc, doc = contest_doc(key.n, 120)
    contest = EncryptedContest.from_dict(doc, key, enc, "contest")
    for statement in contest_statements(key, enc, contest, CONTEXT):
        proof = statement.proof
        plain = membership_challenge(
            key, statement.ciphertext, statement.allowed, proof.commitments, statement.context
        )
        from_text = membership_challenge(
            key,
            statement.ciphertext,
            statement.allowed,
            proof.commitments,
            statement.context,
            ciphertext_hex=statement._ciphertext_hex,
            commitments_hex=proof._commitments_hex,
        )
        assert plain == from_text
        assert sum(proof.challenges) % membership.CHALLENGE_MODULUS == plain


def test_a_statement_built_by_hand_is_checked_in_full(key: PublicKey, factor: int) -> None:
    enc, doc = contest_doc(key.n, 4)
    contest = EncryptedContest.from_dict(doc, key, enc, "contest")
    parsed = contest_statements(key, enc, contest, CONTEXT)[0]
    by_hand = MembershipStatement(
        key,
        parsed.ciphertext,
        parsed.allowed,
        membership.MembershipProof(
            (factor, *parsed.proof.commitments[1:]),
            parsed.proof.challenges,
            parsed.proof.responses,
        ),
        parsed.context,
    )
    assert batch_verify([parsed, by_hand]) == [1]


def test_a_proof_whose_equations_hold_with_non_unit_values_is_refused(
    key: PublicKey, factor: int
) -> None:
    """Simulated branches whose nonces t_j are multiples of a prime factor of n: every branch
    equation and the challenge sum hold, and only the unit tests of check 2 can refuse the
    proof. The batch makes them with one gcd of its products (weights are never 0)."""
    enc, _ = contest_doc(key.n, 4)
    contest, randomness = encrypt_contest(key, enc, 2, CONTEXT)
    honest = contest_statements(key, enc, contest, CONTEXT)[0]
    index = honest.allowed.index(encode_choice(enc, 2)[0])
    simulated = {j: (factor * (j + 2), 1000 + j) for j in range(len(honest.allowed)) if j != index}
    proof = membership._finish_proof(
        key,
        honest.ciphertext,
        randomness[0],
        honest.allowed,
        index,
        honest.context,
        membership.ProverNonces(rho=3, simulated=simulated),
    )
    n, n2 = key.n, key.n_squared
    for j, (a, e, z) in enumerate(
        zip(proof.commitments, proof.challenges, proof.responses, strict=True)
    ):
        u = honest.ciphertext * g_power(key, -honest.allowed[j]) % n2
        assert powmod(z, 2 * n, n2) == powmod(a * powmod(u, e, n2), 2, n2)
    parsed = membership.MembershipProof.from_dict(
        proof.to_dict(), key, len(honest.allowed), "proof"
    )  # parsing checks ranges only
    for candidate in (proof, parsed):
        forged = dataclasses.replace(honest, proof=candidate)
        assert batch_verify([honest, forged, honest]) == [1]
        assert batch_verify([forged]) == [0]
        with pytest.raises(InvalidInput, match=r"not a unit"):
            verify_membership(key, forged.ciphertext, forged.allowed, candidate, forged.context)


def test_batch_weights_are_never_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    """A zero weight is drawn again (here: three zeros, then a zero redraw)."""
    draws = iter([bytes(24), bytes(8), *(value.to_bytes(8, "little") for value in (5, 7, 9))])
    monkeypatch.setattr(membership.secrets, "token_bytes", lambda size: next(draws))
    assert membership._weights(3) == [5, 7, 9]
