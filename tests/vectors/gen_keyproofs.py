"""modulus_proof.json and no_small_factor_proof.json (tests/vectors/README.md): the dealer's
Paillier-Blum modulus proof for the vector key (the fixture primes), with the challenge
derivation of the first rounds spelled out; a trustee's ring-Pedersen parameters (on the
1024-bit fixture primes) with their proof and the dealer's no-small-factor proof against them;
tampered copies a verifier must refuse. Deterministic: w is the first value derived from its
label with Jacobi symbol -1, the provers' draws are derived from labels."""

from __future__ import annotations

import json
from typing import Any

import gmpy2

from canonical.encoding import DOMAINS, canonical_bytes, domain_hash, hex_int
from crypto.errors import ProofInvalid
from crypto.keyproofs import (
    Draw,
    ModulusProof,
    NoSmallFactorProof,
    RingPedersen,
    modulus_challenges,
    prove_modulus,
    prove_no_small_factor,
    prove_ring_pedersen,
    verify_modulus,
    verify_no_small_factor,
    verify_ring_pedersen,
)
from tests.vectors.fixed import FIXTURES, derived, fixture_primes

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


def _draws(label: str) -> Draw:
    counter = iter(range(10**6))
    return lambda bound: derived(f"{label}/{next(counter)}", bound)


def trustee_parameters() -> tuple[RingPedersen, int, int]:
    raw = json.loads((FIXTURES / "safe_primes.json").read_text())["1024"]
    p, q = int(raw["p"], 16), int(raw["q"], 16)
    n, phi = p * q, (p - 1) * (q - 1)
    t = derived("ring-pedersen/tau", n) ** 2 % n
    lam = derived("ring-pedersen/lambda", phi)
    return RingPedersen(n, pow(t, lam, n), t), lam, phi


def no_small_factor_vectors() -> dict[str, Any]:
    p, q = fixture_primes()
    params, lam, phi = trustee_parameters()
    params_proof = prove_ring_pedersen(params, lam, phi, CONTEXT, _draws("ring-pedersen/a"))
    verify_ring_pedersen(params, params_proof, CONTEXT)
    proof = prove_no_small_factor(p, q, params, CONTEXT, _draws("no-small-factor"))
    verify_no_small_factor(p * q, params, proof, CONTEXT)
    document = proof.to_dict()
    invalid = []
    for name in ("z1", "v", "P"):
        tampered = dict(document)
        value = int(tampered[name].lstrip("-"), 16) + 1
        tampered[name] = ("-" if tampered[name].startswith("-") else "") + hex_int(value)
        try:
            verify_no_small_factor(p * q, params, NoSmallFactorProof.from_dict(tampered), CONTEXT)
        except ProofInvalid as exc:
            invalid.append(
                {"change": f"|{name}| + 1", "proof": tampered, "refused_because": exc.problem}
            )
        else:
            raise AssertionError(f"{name} + 1 verified")
    return {
        "domains": {
            "ring_pedersen_proof": DOMAINS["ring_pedersen_proof"],
            "no_small_factor_proof": DOMAINS["no_small_factor_proof"],
        },
        "context": CONTEXT,
        "n": hex_int(p * q),
        "ring_pedersen": params.to_dict(),
        "ring_pedersen_proof": params_proof.to_dict(),
        "no_small_factor_proof": document,
        "invalid": invalid,
    }


VECTORS = {
    "modulus_proof.json": modulus_proof_vectors,
    "no_small_factor_proof.json": no_small_factor_vectors,
}
