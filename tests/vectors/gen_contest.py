"""split_contest.json (tests/vectors/README.md): the vector election's council contest, which
a 512-bit key splits into two parts, encrypted as on a ballot with a proof per part and the
sum proof over the product of the parts; and a double vote across the parts that only the sum
statement catches. Deterministic: randomness and prover nonces derived from labels."""

from __future__ import annotations

import itertools
from typing import Any

from canonical.encoding import DOMAINS, b64url, domain_hash, hex_int
from crypto import paillier
from crypto.encoding import allowed_plaintexts, encode_choice, sum_allowed_plaintexts
from crypto.errors import InvalidInput, ProofInvalid
from crypto.membership import (
    CHALLENGE_BITS,
    EncryptedContest,
    MembershipProof,
    ProverNonces,
    batch_verify,
    contest_statements,
    membership_challenge,
    membership_statement,
    part_context,
    prove_with_nonces,
    verify_membership,
)
from crypto.paillier import PublicKey
from formats.ballot import contest_context
from tests.vectors.fixed import derived, top_nibble_zero, vector_manifest

DISTRICT, CONTEST = "north", "council"
CHOICE = 5  # candidate 106: part 0 holds B^5, part 1 holds 0
DOUBLE_VOTE = (0, 12)  # candidates 101 and 113: B^0 in part 0 and B^0 in part 1


def _nonces(key: PublicKey, label: str, branches: int, index: int) -> ProverNonces:
    n = key.n
    return ProverNonces(
        derived(f"{label}/rho", n),
        {
            j: (derived(f"{label}/t{j}", n), derived(f"{label}/e{j}", 2**CHALLENGE_BITS))
            for j in range(branches)
            if j != index
        },
    )


def _statement_entry(
    key: PublicKey,
    part: int | str,
    ciphertext: int,
    randomness: int,
    allowed: tuple[int, ...],
    proof: MembershipProof,
    context: dict[str, Any],
    nonces: dict[str, Any],
) -> dict[str, Any]:
    statement = membership_statement(key, ciphertext, allowed, proof.commitments, context)
    digest = domain_hash(DOMAINS["membership_proof"], statement)
    return {
        "part": part,
        "context": context,
        "ciphertext": hex_int(ciphertext),
        "randomness": hex_int(randomness),
        "allowed": [hex_int(m) for m in allowed],
        "prover_nonces": nonces,
        "hash_input": statement,  # its canonical bytes: see membership_proof.json
        "challenge_digest_hex": digest.hex(),
        "expected_challenge": hex_int(
            membership_challenge(key, ciphertext, allowed, proof.commitments, context)
        ),
        "proof": proof.to_dict(),
    }


def _nonces_dict(nonces: ProverNonces) -> dict[str, Any]:
    return {
        "rho": hex_int(nonces.rho),
        "simulated": {str(j): [hex_int(t), hex_int(e)] for j, (t, e) in nonces.simulated.items()},
    }


def _textbook_sum_proof(
    key: PublicKey,
    product: int,
    randomness: int,
    allowed: tuple[int, ...],
    claimed: int,
    context: dict[str, Any],
) -> tuple[MembershipProof, dict[str, Any]]:
    """A cheating sum proof claiming allowed[claimed]: the other branches simulated the
    textbook way (a_j = z_j^n u_j^(-e_j)), so they verify and the challenges add up; the
    claimed branch is computed with the real randomness but does not verify."""
    n, n2 = key.n, key.n_squared
    branches = len(allowed)
    commitments, challenges, responses = [0] * branches, [0] * branches, [0] * branches
    for j in range(branches):
        if j == claimed:
            continue
        z = derived(f"contest/double/sum/z{j}", n)
        z = min(z, n - z)
        e_j = derived(f"contest/double/sum/e{j}", 2**CHALLENGE_BITS)
        u = product * paillier.g_power(key, -allowed[j]) % n2
        commitments[j] = pow(z, n, n2) * pow(u, -e_j, n2) % n2
        challenges[j], responses[j] = e_j, z
    rho = derived("contest/double/sum/rho", n)
    commitments[claimed] = pow(rho, n, n2)
    e = membership_challenge(key, product, allowed, commitments, context)
    challenges[claimed] = (e - sum(challenges)) % 2**CHALLENGE_BITS
    z = rho * pow(randomness, challenges[claimed], n) % n
    responses[claimed] = min(z, n - z)
    nonces = {
        "rho": hex_int(rho),
        "simulated_textbook": {
            str(j): [hex_int(responses[j]), hex_int(challenges[j])]
            for j in range(branches)
            if j != claimed
        },
    }
    return MembershipProof(tuple(commitments), tuple(challenges), tuple(responses)), nonces


def _contest(label: str, plaintexts: tuple[int, ...], honest_sum: bool) -> dict[str, Any]:
    """The contest holding `plaintexts` (one per part) with every statement written out; an
    honest sum proof is searched for a challenge that starts with a zero hex digit."""
    manifest = vector_manifest()
    key = manifest.threshold_key.public_key
    enc = manifest.contest_encoding(DISTRICT, CONTEST)
    context = contest_context(manifest, DISTRICT, CONTEST)
    n = key.n
    randomness = tuple(derived(f"{label}/r{part}", n) for part in range(enc.parts))
    ciphertexts = tuple(
        paillier.encrypt(key, m, r) for m, r in zip(plaintexts, randomness, strict=True)
    )
    entries, proofs = [], []
    for part, (c, r, m) in enumerate(zip(ciphertexts, randomness, plaintexts, strict=True)):
        allowed = allowed_plaintexts(enc, part)
        nonces = _nonces(key, f"{label}/part{part}", len(allowed), allowed.index(m))
        proof = prove_with_nonces(
            key, c, r, allowed, allowed.index(m), part_context(context, part), nonces
        )
        proofs.append(proof)
        entries.append(
            _statement_entry(
                key, part, c, r, allowed, proof, part_context(context, part), _nonces_dict(nonces)
            )
        )
    product = paillier.multiply(key, ciphertexts)
    product_r = 1
    for r in randomness:
        product_r = product_r * r % n
    allowed = sum_allowed_plaintexts(enc)
    sum_context = part_context(context, "sum")
    if honest_sum:
        index = allowed.index(sum(plaintexts))
        for attempt in itertools.count():
            nonces = _nonces(key, f"{label}/sum/{attempt}", len(allowed), index)
            sum_proof = prove_with_nonces(
                key, product, product_r, allowed, index, sum_context, nonces
            )
            e = membership_challenge(key, product, allowed, sum_proof.commitments, sum_context)
            if top_nibble_zero(e, CHALLENGE_BITS):
                break
        sum_nonces = _nonces_dict(nonces)
    else:
        sum_proof, sum_nonces = _textbook_sum_proof(
            key, product, product_r, allowed, 0, sum_context
        )
    entries.append(
        _statement_entry(
            key, "sum", product, product_r, allowed, sum_proof, sum_context, sum_nonces
        )
    )
    contest = EncryptedContest(ciphertexts, tuple(proofs), sum_proof)
    return {
        "plaintexts": [hex_int(m) for m in plaintexts],
        "contest": contest.to_dict(),
        "statements": entries,
    }


def refused(
    key: PublicKey, enc: Any, contest: dict[str, Any], context: dict[str, Any]
) -> list[int]:
    """Indices of the statements the project's verifier refuses (individually and batched,
    which must agree), from a contest as a ballot carries it."""
    parsed = EncryptedContest.from_dict(contest, key, enc, "contest")
    statements = contest_statements(key, enc, parsed, context)
    bad = []
    for position, s in enumerate(statements):
        try:
            verify_membership(key, s.ciphertext, s.allowed, s.proof, s.context)
        except (ProofInvalid, InvalidInput):
            bad.append(position)
    assert batch_verify(statements) == bad
    return bad


def _checked(case: dict[str, Any]) -> list[int]:
    """refused() for the vector election's council contest."""
    manifest = vector_manifest()
    return refused(
        manifest.threshold_key.public_key,
        manifest.contest_encoding(DISTRICT, CONTEST),
        case["contest"],
        contest_context(manifest, DISTRICT, CONTEST),
    )


def split_contest_vectors() -> dict[str, Any]:
    manifest = vector_manifest()
    enc = manifest.contest_encoding(DISTRICT, CONTEST)
    council = manifest.contest(DISTRICT, CONTEST)
    assert enc.parts == 2
    valid = _contest("contest/valid", encode_choice(enc, CHOICE), honest_sum=True)
    valid["choice"] = CHOICE
    valid["candidate_number"] = council.candidates[CHOICE].number
    assert _checked(valid) == []
    both = [encode_choice(enc, choice) for choice in DOUBLE_VOTE]
    double = tuple(a + b for a, b in zip(*both, strict=True))
    invalid = _contest("contest/double", double, honest_sum=False)
    invalid["choices"] = list(DOUBLE_VOTE)
    invalid["failing_statement"] = "sum"
    invalid["failing_check"] = (
        "each part holds an allowed value (B^0 in part 0, B^0 in part 1) and its proof "
        "verifies; the product holds 2 B^0, none of the sum's allowed values, so the sum "
        "proof's branch 0 fails: (z^n)^2 != (a u^e)^2 mod n^2 with u = prod(c) g^(-B^0)"
    )
    assert _checked(invalid) == [enc.parts]  # the sum statement comes after the parts
    return {
        "description": "A split contest as a ballot carries it (docs/spec.md, Ballot encoding "
        "and Membership proofs): the vector election's council (14 candidates, B = 2^40, "
        "12 digits per ciphertext, so 2 parts), one statement per part and the sum statement "
        "over the product of the parts, each with its context, allowed values, hash input, "
        "challenge and the prover's nonces; and a double vote across the parts that only the "
        "sum statement refuses.",
        "manifest_hash": b64url(manifest.hash),
        "public_key": {"n": hex_int(manifest.threshold_key.n)},
        "district": DISTRICT,
        "contest_id": CONTEST,
        "encoding": {
            "candidates": enc.candidates,
            "max_voters": manifest.max_voters,
            "key_bits": manifest.key_bits,
            "digit_bits": enc.digit_bits,
            "per_ciphertext": enc.per_ciphertext,
            "parts": enc.parts,
        },
        "domain": DOMAINS["membership_proof"],
        "valid": valid,
        "invalid": invalid,
    }


VECTORS = {"split_contest.json": split_contest_vectors}
