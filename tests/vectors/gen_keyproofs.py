"""modulus_proof.json (tests/vectors/README.md): the dealer's Paillier-Blum modulus proof for
the vector key (the fixture primes), with the challenge derivation of the first rounds spelled
out, and tampered copies a verifier must refuse. Deterministic: w is the first value derived
from its label with Jacobi symbol -1."""

from __future__ import annotations

from typing import Any

import gmpy2

from canonical.encoding import DOMAINS, canonical_bytes, domain_hash, hex_int
from crypto.errors import ProofInvalid
from crypto.keyproofs import ModulusProof, modulus_challenges, prove_modulus, verify_modulus
from tests.vectors.fixed import derived, fixture_primes

CONTEXT = {"election_id": "vector-2027", "purpose": "election key"}
SHOWN_ROUNDS = 2  # rounds whose hash inputs are written out in full


def _w(n: int) -> int:
    for attempt in range(1000):
        w = derived(f"modulus-proof/w/{attempt}", n)
        if gmpy2.jacobi(w, n) == -1:
            return w
    raise AssertionError("no w of Jacobi symbol -1")


def modulus_proof_vectors() -> dict[str, Any]:
    p, q = fixture_primes()
    n = p * q
    w = _w(n)
    proof = prove_modulus(p, q, CONTEXT, w=w)
    verify_modulus(n, proof, CONTEXT)
    ys = modulus_challenges(n, w, CONTEXT)
    blocks = -(-(n.bit_length() + 128) // 256)
    derivations = []
    for round_index in range(SHOWN_ROUNDS):
        inputs = [
            {
                "attempt": 0,
                "block": block,
                "context": CONTEXT,
                "n": hex_int(n),
                "round": round_index,
                "w": hex_int(w),
            }
            for block in range(blocks)
        ]
        digests = [domain_hash(DOMAINS["modulus_proof"], x) for x in inputs]
        value = int.from_bytes(b"".join(digests), "big") % n
        assert value == ys[round_index]  # a first attempt, as in nearly every round
        derivations.append(
            {
                "round": round_index,
                "blocks": [
                    {"input_canonical_hex": canonical_bytes(x).hex(), "digest_hex": d.hex()}
                    for x, d in zip(inputs, digests, strict=True)
                ],
                "y": hex_int(value),
            }
        )
    document = proof.to_dict()
    invalid = []
    for name, change in (
        ("z[0] + 1", lambda d: d["z"].__setitem__(0, hex_int(int(d["z"][0], 16) + 1))),
        ("x[5] + 1", lambda d: d["x"].__setitem__(5, hex_int(int(d["x"][5], 16) + 1))),
        ("a[3] flipped", lambda d: d.__setitem__("a", _flip(d["a"], 3))),
        ("w of Jacobi symbol +1", lambda d: d.__setitem__("w", hex_int(w * w % n))),
    ):
        tampered = {key: (list(v) if isinstance(v, list) else v) for key, v in document.items()}
        change(tampered)
        try:
            verify_modulus(n, ModulusProof.from_dict(tampered), CONTEXT)
        except ProofInvalid as exc:
            invalid.append({"change": name, "proof": tampered, "refused_because": exc.problem})
        else:
            raise AssertionError(f"{name} verified")
    return {
        "domain": DOMAINS["modulus_proof"],
        "rounds": len(ys),
        "n": hex_int(n),
        "context": CONTEXT,
        "blocks_per_attempt": blocks,
        "challenge_derivation": derivations,
        "challenges": [hex_int(y) for y in ys],
        "proof": document,
        "invalid": invalid,
    }


def _flip(bits: str, index: int) -> str:
    return bits[:index] + ("1" if bits[index] == "0" else "0") + bits[index + 1 :]


VECTORS = {"modulus_proof.json": modulus_proof_vectors}
