"""marks_contest.json (tests/vectors/README.md): a choose-several contest as a ballot carries
it: 3 candidates, between 0 and 2 marks (so a blank box), candidates 0 and 2 marked; one 0/1
statement per ciphertext and the count statement over their weighted product, each with its
context, allowed values, hash input, challenge and the prover's nonces; and three markings no
ballot may hold, whose failing statements are named. Deterministic: randomness and prover
nonces derived from labels."""

from __future__ import annotations

import itertools
from typing import Any

from canonical.encoding import DOMAINS, hex_int
from crypto import paillier
from crypto.encoding import allowed_plaintexts, contest_encoding, count_plaintexts, encode_marks
from crypto.membership import (
    CHALLENGE_BITS,
    EncryptedContest,
    membership_challenge,
    prove_with_nonces,
)
from crypto.paillier import PublicKey
from tests.vectors.fixed import KEY_BITS, derived, top_nibble_zero, vector_key
from tests.vectors.gen_contest import _nonces, _nonces_dict, _statement_entry, refused

CANDIDATES, MIN_MARKS, MAX_MARKS, MAX_VOTERS = 3, 0, 2, 1000
MARKED = (0, 2)
CONTEXT = {
    "election_id": "vector-2026",
    "manifest_hash": "q0Ww5nBd3PoAuMWxiCG3Y1gh2KlF9pjCGD1lqmD-rBk",
    "district": "north",
    "contest": "board",
}
# markings no ballot may hold: (what, plaintexts, the statements that must fail)
INVALID = (
    (
        "three marks (above max 2): every mark proof holds, the count 3 is not allowed",
        (1, 1, 1, 0),
        [4],
    ),
    ("a mark of 2: its 0/1 proof fails; the count 2 would be allowed", (2, 0, 0, 0), [0]),
    ("blank box and a mark: the count 1 + 4 = 5 is not allowed", (0, 1, 0, 1), [4]),
)


def _encoding() -> Any:
    return contest_encoding(CANDIDATES, MAX_VOTERS, KEY_BITS, MIN_MARKS, MAX_MARKS)


def _contest(label: str, plaintexts: tuple[int, ...]) -> dict[str, Any]:
    """The contest holding `plaintexts` with every statement written out. A value outside a
    statement's allowed set is proven as if it were branch 0 (so that proof fails)."""
    key = PublicKey(vector_key().key.n)
    enc = _encoding()
    n, n2 = key.n, key.n_squared
    randomness = tuple(derived(f"{label}/r{j}", n) for j in range(enc.ciphertexts))
    ciphertexts = tuple(
        paillier.encrypt(key, m, r) for m, r in zip(plaintexts, randomness, strict=True)
    )
    entries, proofs = [], []
    for j, (c, r, m) in enumerate(zip(ciphertexts, randomness, plaintexts, strict=True)):
        allowed = allowed_plaintexts(enc, j)
        index = allowed.index(m) if m in allowed else 0
        context = {"contest": CONTEXT, "mark": j}
        nonces = _nonces(key, f"{label}/mark{j}", len(allowed), index)
        proof = prove_with_nonces(key, c, r, allowed, index, context, nonces)
        proofs.append(proof)
        entries.append(
            _statement_entry(key, j, c, r, allowed, proof, context, _nonces_dict(nonces))
        )
    weights = (1,) * enc.candidates + (enc.blank_weight,)
    product, product_r, total = 1, 1, 0
    for c, r, m, w in zip(ciphertexts, randomness, plaintexts, weights, strict=True):
        product = product * pow(c, w, n2) % n2
        product_r = product_r * pow(r, w, n) % n
        total += w * m
    allowed = count_plaintexts(enc)
    index = allowed.index(total) if total in allowed else 0
    context = {"contest": CONTEXT, "count": [hex_int(c) for c in ciphertexts]}
    for attempt in itertools.count():
        nonces = _nonces(key, f"{label}/count/{attempt}", len(allowed), index)
        count_proof = prove_with_nonces(key, product, product_r, allowed, index, context, nonces)
        e = membership_challenge(key, product, allowed, count_proof.commitments, context)
        if top_nibble_zero(e, CHALLENGE_BITS):
            break
    entries.append(
        _statement_entry(
            key,
            "count",
            product,
            product_r,
            allowed,
            count_proof,
            context,
            _nonces_dict(nonces),
        )
    )
    contest = EncryptedContest(ciphertexts, tuple(proofs), count_proof)
    return {
        "plaintexts": [hex_int(m % n) for m in plaintexts],
        "contest": contest.to_dict(),
        "statements": entries,
    }


def _refused(contest: dict[str, Any]) -> list[int]:
    return refused(PublicKey(vector_key().key.n), _encoding(), contest, CONTEXT)


def marks_contest_vectors() -> dict[str, Any]:
    enc = _encoding()
    valid = _contest("marks/valid", encode_marks(enc, MARKED))
    assert _refused(valid["contest"]) == []
    tampered = []
    for number, (what, plaintexts, failing) in enumerate(INVALID):
        case = _contest(f"marks/invalid{number}", plaintexts)
        assert _refused(case["contest"]) == failing, what
        tampered.append({"what": what, "failing_statements": failing, **case})
    return {
        "description": "A choose-several contest as a ballot carries it (docs/spec.md, Ballot "
        "encoding and Membership proofs): 3 candidates, 0 to 2 marks, so a fourth ciphertext "
        "for the blank box; candidates 0 and 2 marked. Statements in order: the 0/1 statement "
        "of each ciphertext (context {contest: C, mark: j}), then the count statement over "
        "c_0 c_1 c_2 c_3^4 with allowed values 1, 2 and 4 = W (context {contest: C, count: "
        "[hex c_j...]}). Three markings no ballot may hold follow, with the statements that "
        "fail.",
        "public_key": {"n": hex_int(vector_key().key.n)},
        "candidates": CANDIDATES,
        "min_marks": MIN_MARKS,
        "max_marks": MAX_MARKS,
        "max_voters": MAX_VOTERS,
        "key_bits": KEY_BITS,
        "marked": list(MARKED),
        "context": CONTEXT,
        "domain": DOMAINS["membership_proof"],
        "allowed": [
            *([hex_int(m) for m in allowed_plaintexts(enc, j)] for j in range(enc.ciphertexts)),
            [hex_int(m) for m in count_plaintexts(enc)],
        ],
        "contest": valid["contest"],
        "statements": valid["statements"],
        "tampered": tampered,
    }


VECTORS = {"marks_contest.json": marks_contest_vectors}
