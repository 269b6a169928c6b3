"""canonical.json, hashes.json, encoding.json and membership_proof.json (tests/vectors/README.md).

Deterministic: every "random" value is derived from SHA-256 of a label (tests.vectors.fixed),
so generating again gives the same bytes; tests/vectors/generate.py writes the files and
tests/vectors/test_vectors_current.py fails when they differ from what the code makes now.
"""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

from canonical.encoding import (
    DOMAINS,
    b64url,
    canonical_bytes,
    domain_hash,
    hex_int,
    object_hash,
)
from crypto import paillier
from crypto.encoding import (
    allowed_plaintexts,
    contest_encoding,
    decode_totals,
    encode_choice,
    sum_allowed_plaintexts,
)
from crypto.errors import CryptoError, ProofInvalid
from crypto.membership import (
    CHALLENGE_BITS,
    MembershipProof,
    ProverNonces,
    membership_challenge,
    membership_statement,
    part_context,
    prove_with_nonces,
    verify_membership,
)
from crypto.paillier import PublicKey
from formats.ballot import contest_context
from tests.vectors.fixed import derived, top_nibble_zero, vector_manifest

# --------------------------------------------------------------------------------------------


CANONICAL_CASES: list[tuple[str, Any]] = [
    ("keys are sorted at every level", {"b": 1, "a": {"d": [3, 2, 1], "c": None}, "version": 1}),
    (
        "keys sort by code point (U+FF5A before U+1F600, unlike UTF-16 order)",
        {"😀": 1, "ｚ": 2, "Z": 3, "a": 4, "é": 5},
    ),
    (
        "escapes: quote, backslash and controls below U+0020; DEL and U+2028 as themselves",
        {"text": 'say "hi"\\\n\t\x00\x1f\x7f\u2028 Ünïcödé'},
    ),
    (
        "empty containers, literals, the largest JSON-number integers",
        {
            "array": [],
            "object": {},
            "true": True,
            "false": False,
            "null": None,
            "max": 2**53 - 1,
            "min": -(2**53 - 1),
        },
    ),
    (
        "big integers as hex strings, bytes as base64url",
        {
            "big": hex_int(2**255 + 2**64 + 10),
            "zero": hex_int(0),
            "bytes": b64url(bytes(range(250, 256))),
            "digest": b64url(hashlib.sha256(b"ivote").digest()),
            "version": 1,
        },
    ),
]

REFUSED_DOCUMENTS: list[tuple[str, str]] = [
    ("a float", '{"x": 1.5}'),
    ("an exponent (a float in JSON)", '{"x": 1e3}'),
    ("NaN", '{"x": NaN}'),
    ("Infinity", '{"x": -Infinity}'),
    ("a duplicate key", '{"x": 1, "x": 1}'),
    ("an integer too large for a JSON number", '{"x": 9007199254740992}'),
    ("not JSON", '{"x": 1'),
]


def canonical_vectors() -> dict[str, Any]:
    cases = []
    for name, value in CANONICAL_CASES:
        data = canonical_bytes(value)
        cases.append(
            {
                "name": name,
                "value": value,
                "canonical": data.decode("utf-8"),
                "canonical_hex": data.hex(),
                "sha256_hex": hashlib.sha256(data).hexdigest(),
            }
        )
    return {
        "description": "Canonical encoding (docs/spec.md section 1): value -> canonical bytes "
        "(as UTF-8 text and hex) -> SHA-256. `refused` documents must be rejected on input.",
        "cases": cases,
        "refused": [{"name": name, "document": text} for name, text in REFUSED_DOCUMENTS],
        "hex_int": [{"decimal": str(v), "hex": hex_int(v)} for v in (0, 1, 255, 2**64, 3**200)],
        "non_canonical_hex": ["0x1f", "1F", "01", "", "-1", " 1", "1\n", "g"],
        "base64url": [
            {"bytes_hex": data.hex(), "base64url": b64url(data)}
            for data in (b"", b"\xfb", b"\xfb\xff", b"\xfb\xff\xfe", bytes(range(16)))
        ],
        "non_canonical_base64url": ["-_9", "+/8", "-_8=", "A", "AB\n"],
    }


def hash_vectors() -> dict[str, Any]:
    manifest_like = {"version": 1, "election_id": "test-2026", "contests": ["mayor"]}
    return {
        "description": "H(x) = SHA-256(canonical(x)); H_d(x) = SHA-256(ascii(d) || 0x00 || "
        "canonical(x)) for each registered domain d (docs/spec.md, Hashes).",
        "object_hashes": [
            {"object": obj, "sha256_hex": object_hash(obj).hex()}
            for obj in ({}, [], manifest_like, {"version": 1, "n": hex_int(2**512 - 1)})
        ],
        "domain_hashes": [
            {
                "domain": tag,
                "object": manifest_like,
                "hash_input_hex": (tag.encode() + b"\x00" + canonical_bytes(manifest_like)).hex(),
                "domain_hash_hex": domain_hash(tag, manifest_like).hex(),
            }
            for tag in (DOMAINS["membership_proof"], DOMAINS["manifest"], DOMAINS["ballot"])
        ],
    }


# --------------------------------------------------------------------------------------------


ENCODINGS = [(10, 1_000_000, 3072), (120, 1000, 512), (5, 1, 16), (7, 6, 8)]
REFUSED_ENCODINGS = [
    (10, 2**20, 16, "max_voters"),  # 21-bit digits do not fit a 16-bit key
    (100, 3, 8, "candidates"),  # 34 parts, but the sum proof needs fewer than B = 4
    (0, 10, 512, "candidates"),
    (3, 0, 512, "max_voters"),
]


def encoding_case(candidates: int, max_voters: int, key_bits: int) -> dict[str, Any]:
    enc = contest_encoding(candidates, max_voters, key_bits)
    choices = sorted({0, 1, candidates // 2, enc.per_ciphertext - 1, candidates - 1})
    plaintexts = {choice: encode_choice(enc, choice) for choice in choices}
    # a tally: candidate j gets (j * 7 + 3) % (max_voters + 1) votes, capped in total
    counts = [0] * candidates
    budget = max_voters
    for j in range(candidates):
        counts[j] = min((j * 7 + 3) % (max_voters + 1), budget)
        budget -= counts[j]
    totals = [0] * enc.parts
    for j, count in enumerate(counts):
        part_values = encode_choice(enc, j)
        totals = [t + count * v for t, v in zip(totals, part_values, strict=True)]
    assert decode_totals(enc, totals, max_voters) == counts
    refused = []
    b, digits = enc.digit_bits, enc.digits_in(0)

    def with_digit(total: int, digit: int, value: int) -> int:
        mask = (enc.base - 1) << (digit * b)
        return (total & ~mask) | (value << (digit * b))

    bad_cases = [("bits above the last digit", totals[0] + (1 << (digits * b)))]
    if max_voters + 1 < enc.base:
        bad_cases.append(("a digit above max_voters", with_digit(totals[0], 0, max_voters + 1)))
    if digits >= 2:
        bad_cases.append(("more votes in total than max_voters", with_digit(max_voters, 1, 1)))
    for reason, first in bad_cases:
        bad_totals = [first] + [0] * (enc.parts - 1)
        try:
            decode_totals(enc, bad_totals, max_voters)
        except CryptoError:
            refused.append({"reason": reason, "totals": [hex_int(t) for t in bad_totals]})
        else:
            raise AssertionError(f"decode accepted {reason}")
    return {
        "candidates": candidates,
        "max_voters": max_voters,
        "key_bits": key_bits,
        "digit_bits": enc.digit_bits,
        "per_ciphertext": enc.per_ciphertext,
        "parts": enc.parts,
        "choices": [
            {"choice": c, "plaintexts": [hex_int(m) for m in plaintexts[c]]} for c in choices
        ],
        "allowed": [
            [hex_int(m) for m in allowed_plaintexts(enc, part)] for part in range(enc.parts)
        ],
        "sum_allowed": (
            [hex_int(m) for m in sum_allowed_plaintexts(enc)] if enc.parts > 1 else None
        ),
        "tally": {"counts": counts, "totals": [hex_int(t) for t in totals]},
        "refused_totals": refused,
    }


def encoding_vectors() -> dict[str, Any]:
    return {
        "description": "Ballot encoding (docs/spec.md, Ballot encoding): for each (candidates, "
        "max_voters, key_bits), the digit size, digits per ciphertext, parts, the plaintexts "
        "of some choices, the allowed values per part and for the sum, a tally and its "
        "decryption, and decrypted totals that must be refused.",
        "cases": [encoding_case(*args) for args in ENCODINGS],
        "refused": [
            {"candidates": c, "max_voters": v, "key_bits": b, "field": field}
            for c, v, b, field in REFUSED_ENCODINGS
        ],
    }


# --------------------------------------------------------------------------------------------


# The statement of the vectors: part 1 of the vector election's split council contest, whose
# allowed values are (0, B^0, B^1) with B = 2^40 (docs/spec.md, "Ballot encoding").
DISTRICT, CONTEST, PART = "north", "council", 1


def membership_context() -> dict[str, Any]:
    """{"contest": C, "part": 1} with C built by formats.ballot.contest_context, as on a ballot."""
    return part_context(contest_context(vector_manifest(), DISTRICT, CONTEST), PART)


def membership_case(
    key: PublicKey, label: str, plaintext: int, allowed: tuple[int, ...], index: int
) -> dict[str, Any]:
    """A valid proof, with the first derived nonces for which the statement's challenge and
    one of the proof's challenges start with a zero hex digit."""
    n = key.n
    context = membership_context()
    for attempt in itertools.count():
        name = f"{label}/{attempt}"
        r = derived(f"{name}/r", n)
        c = paillier.encrypt(key, plaintext, r)
        nonces = ProverNonces(
            derived(f"{name}/rho", n),
            {
                j: (derived(f"{name}/t{j}", n), derived(f"{name}/e{j}", 2**CHALLENGE_BITS))
                for j in range(len(allowed))
                if j != index
            },
        )
        proof = prove_with_nonces(key, c, r, allowed, index, context, nonces)
        e = membership_challenge(key, c, allowed, proof.commitments, context)
        if top_nibble_zero(e, CHALLENGE_BITS) and any(
            top_nibble_zero(e_j, CHALLENGE_BITS) for e_j in proof.challenges
        ):
            break
    statement = membership_statement(key, c, allowed, proof.commitments, context)
    return {
        "context": context,
        "allowed": [hex_int(m) for m in allowed],
        "plaintext": hex_int(plaintext),
        "randomness": hex_int(r),
        "ciphertext": hex_int(c),
        "prover_nonces": {
            "rho": hex_int(nonces.rho),
            "simulated": {
                str(j): [hex_int(t), hex_int(e_j)] for j, (t, e_j) in nonces.simulated.items()
            },
        },
        "hash_input": statement,
        "hash_input_canonical_hex": canonical_bytes(statement).hex(),
        "challenge_digest_hex": domain_hash(DOMAINS["membership_proof"], statement).hex(),
        "expected_challenge": hex_int(e),
        "proof": proof.to_dict(),
    }


def membership_vectors() -> dict[str, Any]:
    manifest = vector_manifest()
    key = manifest.threshold_key.public_key
    enc = manifest.contest_encoding(DISTRICT, CONTEST)
    allowed = allowed_plaintexts(enc, PART)
    base = enc.base
    assert allowed == (0, 1, base)
    claimed = 2  # B^1: candidate 14, the council's last
    valid = membership_case(key, "membership/valid", base, allowed, claimed)
    # A double vote (B^0 + B^1) claimed as B^1: the challenges add up and every simulated
    # branch verifies (made the textbook way, a_j = z_j^n u_j^(-e_j)); branch 2 fails.
    context = membership_context()
    n, n2 = key.n, key.n_squared
    r = derived("membership/invalid/r", n)
    plaintext = 1 + base
    c = paillier.encrypt(key, plaintext, r)
    branches = len(allowed)
    commitments, challenges, responses = [0] * branches, [0] * branches, [0] * branches
    for j in range(branches):
        if j == claimed:
            continue
        z = derived(f"membership/invalid/z{j}", n)
        z = min(z, n - z)
        e_j = derived(f"membership/invalid/e{j}", 2**CHALLENGE_BITS)
        u = c * paillier.g_power(key, -allowed[j]) % n2
        commitments[j] = pow(z, n, n2) * pow(u, -e_j, n2) % n2
        challenges[j], responses[j] = e_j, z
    rho = derived("membership/invalid/rho", n)
    commitments[claimed] = pow(rho, n, n2)
    e = membership_challenge(key, c, allowed, commitments, context)
    challenges[claimed] = (e - sum(challenges)) % 2**CHALLENGE_BITS
    z = rho * pow(r, challenges[claimed], n) % n
    responses[claimed] = min(z, n - z)
    proof = MembershipProof(tuple(commitments), tuple(challenges), tuple(responses))
    statement = membership_statement(key, c, allowed, proof.commitments, context)
    invalid = {
        "context": context,
        "allowed": [hex_int(m) for m in allowed],
        "plaintext": hex_int(plaintext),
        "randomness": hex_int(r),
        "ciphertext": hex_int(c),
        "prover_nonces": {
            "rho": hex_int(rho),
            "simulated_textbook": {
                str(j): [hex_int(responses[j]), hex_int(challenges[j])]
                for j in range(branches)
                if j != claimed
            },
        },
        "hash_input": statement,
        "hash_input_canonical_hex": canonical_bytes(statement).hex(),
        "challenge_digest_hex": domain_hash(DOMAINS["membership_proof"], statement).hex(),
        "expected_challenge": hex_int(e),
        "proof": proof.to_dict(),
        "failing_branch": claimed,
        "failing_check": (
            f"branch {claimed}: (z^n)^2 != (a u^e)^2 mod n^2 with u = c g^(-m_{claimed}); the "
            "ciphertext holds B^0 + B^1, which is not allowed. The challenges add up and "
            "every other branch verifies."
        ),
    }
    with_proof = MembershipProof.from_dict(valid["proof"], key, branches, "proof")
    verify_membership(key, int(valid["ciphertext"], 16), allowed, with_proof, context)
    try:
        verify_membership(key, c, allowed, proof, context)
    except ProofInvalid as exc:
        assert f"branch {claimed}" in str(exc)
    else:
        raise AssertionError("the invalid membership vector verifies")
    return {
        "description": "1-of-L membership proofs (docs/spec.md, Membership proofs): the key "
        "of the vector election (n from the 512-bit fixture primes), the statement of part 1 "
        "of its split contest `council` (context as on a ballot), a valid proof with the "
        "prover's nonces (so the whole proof can be recomputed) and an invalid one.",
        "public_key": {"n": hex_int(key.n), "bits": key.bits},
        "manifest_hash": b64url(manifest.hash),
        "domain": DOMAINS["membership_proof"],
        "challenge_bits": CHALLENGE_BITS,
        "valid": valid,
        "invalid": invalid,
    }


VECTORS = {
    "canonical.json": canonical_vectors,
    "hashes.json": hash_vectors,
    "encoding.json": encoding_vectors,
    "membership_proof.json": membership_vectors,
}
