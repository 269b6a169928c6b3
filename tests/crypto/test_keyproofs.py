"""The Paillier-Blum modulus proof (crypto/keyproofs.py): honest keys verify; moduli that are
not Paillier-Blum cannot be proven (no answer exists for some challenge, checked from the
factorisation with the number-theoretic criteria, independently of the prover); tampering with
any value is refused; the vector file is recomputed from the spec's words."""

from __future__ import annotations

import json
from math import gcd
from pathlib import Path

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canonical.encoding import DOMAINS, canonical_bytes, domain_hash, hex_int
from crypto.errors import InvalidInput, ProofInvalid
from crypto.keyproofs import (
    MODULUS_PROOF_ROUNDS,
    ModulusProof,
    NoSmallFactorProof,
    RingPedersen,
    RingPedersenProof,
    make_ring_pedersen,
    modulus_challenges,
    prove_modulus,
    prove_no_small_factor,
    prove_ring_pedersen,
    verify_modulus,
    verify_no_small_factor,
    verify_ring_pedersen,
)

CONTEXT = {"election_id": "test-2099"}
VECTORS = Path(__file__).parents[1] / "vectors" / "modulus_proof.json"


def prime_at(seed: int, residue: int, bits: int = 64) -> int:
    """The first prime = residue mod 4 above a seed-chosen point of `bits` bits."""
    candidate = gmpy2.next_prime((1 << (bits - 1)) + seed * 7919)
    while candidate % 4 != residue:
        candidate = gmpy2.next_prime(candidate)
    return int(candidate)


def test_the_fixture_key_is_proven(safe_primes: dict) -> None:
    p, q = safe_primes[512]
    proof = prove_modulus(p, q, CONTEXT)
    verify_modulus(p * q, proof, CONTEXT)
    again = ModulusProof.from_dict(json.loads(canonical_bytes(proof.to_dict())))
    assert again == proof
    with pytest.raises(ProofInvalid):  # bound to its context
        verify_modulus(p * q, proof, {"election_id": "another"})


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 10**6), st.integers(1, 10**6))
def test_blum_moduli_verify(seed_p: int, seed_q: int) -> None:
    p, q = prime_at(seed_p, 3), prime_at(seed_q + 10**7, 3)
    proof = prove_modulus(p, q, CONTEXT)
    verify_modulus(p * q, proof, CONTEXT)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["w", "x", "z", "a", "b"]),
    st.integers(0, MODULUS_PROOF_ROUNDS - 1),
    st.integers(1, 2**64),
)
def test_tampering_with_any_value_is_refused(field: str, index: int, delta: int) -> None:
    p, q = prime_at(11, 3), prime_at(13, 3)
    n = p * q
    proof = prove_modulus(p, q, CONTEXT)
    document = proof.to_dict()
    if field == "w":
        document["w"] = hex_int((proof.w + delta) % n)
    elif field in ("a", "b"):
        bits = document[field]
        document[field] = bits[:index] + ("1" if bits[index] == "0" else "0") + bits[index + 1 :]
    else:
        values = list(document[field])
        values[index] = hex_int((int(values[index], 16) + delta) % n)
        document[field] = values
    if document == proof.to_dict():
        return  # delta a multiple of n: nothing changed
    with pytest.raises(ProofInvalid):
        verify_modulus(n, ModulusProof.from_dict(document), CONTEXT)


def _has_fourth_root(u: int, prime: int, power: int) -> bool:
    """u (a unit) has a fourth root mod prime^power: Z*_(p^k) is cyclic of order
    p^(k-1)(p-1), and u is a 4th power iff u^(order / gcd(4, order)) = 1."""
    order = prime ** (power - 1) * (prime - 1)
    return pow(u, order // gcd(4, order), prime**power) == 1


def _has_nth_root(y: int, n: int, prime: int, power: int) -> bool:
    order = prime ** (power - 1) * (prime - 1)
    return pow(y, order // gcd(n, order), prime**power) == 1


def answerable_rounds(factors: dict[int, int], w: int, context: dict) -> int:
    """How many of the challenges for (n, w) have any valid (x, a, b, z): a fourth root of one
    of y, -y, wy, -wy and an n-th root of y, each mod every prime power of n."""
    n = 1
    for prime, power in factors.items():
        n *= prime**power
    count = 0
    for y in modulus_challenges(n, w, context):
        fourth = any(
            all(
                _has_fourth_root((-y if a else y) * (w if b else 1) % n, prime, power)
                for prime, power in factors.items()
            )
            for a in (0, 1)
            for b in (0, 1)
        )
        nth = all(_has_nth_root(y, n, prime, power) for prime, power in factors.items())
        count += fourth and nth
    return count


def _w_of_jacobi_minus_one(n: int) -> int:
    return next(w for w in range(2, n) if gcd(w, n) == 1 and gmpy2.jacobi(w, n) == -1)


BAD_MODULI = {
    # three primes = 3 mod 4 (gcd(n, phi(n)) = 1 still)
    "three prime factors": {prime_at(1, 3, 48): 1, prime_at(2, 3, 48): 1, prime_at(3, 3, 48): 1},
    "a square factor": {prime_at(4, 3): 2, prime_at(5, 3): 1},
    "p = 1 mod 4": {prime_at(6, 1): 1, prime_at(7, 3): 1},
    "both = 1 mod 4": {prime_at(8, 1): 1, prime_at(9, 1): 1},
}


@pytest.mark.parametrize("case", sorted(BAD_MODULI))
def test_a_modulus_that_is_not_paillier_blum_cannot_be_proven(case: str) -> None:
    factors = BAD_MODULI[case]
    n = 1
    for prime, power in factors.items():
        n *= prime**power
    good_p, good_q = prime_at(11, 3), prime_at(13, 3)
    good = answerable_rounds(
        {good_p: 1, good_q: 1}, _w_of_jacobi_minus_one(good_p * good_q), CONTEXT
    )
    assert good == MODULUS_PROOF_ROUNDS  # the criteria agree with the honest case
    # whatever w the prover picks (here the first three it may), about half the rounds fail
    candidates = (w for w in range(2, n) if gcd(w, n) == 1 and gmpy2.jacobi(w, n) == -1)
    for w in (next(candidates) for _ in range(3)):
        assert answerable_rounds(factors, w, CONTEXT) < MODULUS_PROOF_ROUNDS * 3 // 4, case
    if len(factors) == 2 and set(factors.values()) == {1}:
        p, q = factors
        with pytest.raises(InvalidInput):  # the honest prover refuses too
            prove_modulus(p, q, CONTEXT)


def test_prime_and_even_moduli_are_refused_before_any_round() -> None:
    p, q = prime_at(11, 3), prime_at(13, 3)
    proof = prove_modulus(p, q, CONTEXT)
    for n, problem in ((p, "prime"), (2 * q, "odd"), (p * p, "perfect square")):
        with pytest.raises(ProofInvalid, match=problem):
            verify_modulus(n, proof, CONTEXT)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.pop("w"), "modulus_proof"),
        (lambda d: d.update(a="01"), "modulus_proof.a"),
        (lambda d: d.update(b="2" * MODULUS_PROOF_ROUNDS), "modulus_proof.b"),
        (lambda d: d.update(x=d["x"][:-1]), "modulus_proof.x"),
        (lambda d: d["z"].__setitem__(0, "0x1"), "modulus_proof.z[0]"),
        (lambda d: d.update(w="00ff"), "modulus_proof.w"),
    ],
)
def test_malformed_proofs_name_the_field(change: object, field: str) -> None:
    p, q = prime_at(11, 3), prime_at(13, 3)
    document = prove_modulus(p, q, CONTEXT).to_dict()
    document = {k: (list(v) if isinstance(v, list) else v) for k, v in document.items()}
    change(document)  # type: ignore[operator]
    with pytest.raises(InvalidInput) as caught:
        ModulusProof.from_dict(document)
    assert caught.value.field == field


def test_vector_file_recomputed_from_the_spec() -> None:
    """An outside implementation's view: derive the challenges from the spec's words and check
    the proof's equations with plain integers."""
    vectors = json.loads(VECTORS.read_text())
    n = int(vectors["n"], 16)
    proof = vectors["proof"]
    w = int(proof["w"], 16)
    blocks = -(-(n.bit_length() + 128) // 256)
    assert vectors["blocks_per_attempt"] == blocks
    for shown in vectors["challenge_derivation"]:
        digests = b""
        for block, entry in enumerate(shown["blocks"]):
            data = {
                "attempt": 0,
                "block": block,
                "context": vectors["context"],
                "n": vectors["n"],
                "round": shown["round"],
                "w": proof["w"],
            }
            assert canonical_bytes(data).hex() == entry["input_canonical_hex"]
            digest = domain_hash(vectors["domain"], data)
            assert digest.hex() == entry["digest_hex"]
            digests += digest
        assert hex_int(int.from_bytes(digests, "big") % n) == shown["y"]
    assert vectors["domain"] == DOMAINS["modulus_proof"]
    ys = [int(y, 16) for y in vectors["challenges"]]
    assert len(ys) == vectors["rounds"] == MODULUS_PROOF_ROUNDS
    for i, y in enumerate(ys):
        x, z = int(proof["x"][i], 16), int(proof["z"][i], 16)
        a, b = int(proof["a"][i]), int(proof["b"][i])
        assert pow(z, n, n) == y
        assert pow(x, 4, n) == (-1) ** a * w**b * y % n
    for case in vectors["invalid"]:
        with pytest.raises(ProofInvalid):
            verify_modulus(n, ModulusProof.from_dict(case["proof"]), vectors["context"])


# -- ring-Pedersen parameters and the no-small-factor proof ------------------------------------


@pytest.fixture(scope="module")
def trustee() -> tuple[RingPedersen, int, int]:
    return make_ring_pedersen(1024)


def test_ring_pedersen_parameters_are_proven(trustee: tuple[RingPedersen, int, int]) -> None:
    params, lam, phi = trustee
    proof = prove_ring_pedersen(params, lam, phi, CONTEXT)
    verify_ring_pedersen(params, proof, CONTEXT)
    assert RingPedersenProof.from_dict(json.loads(canonical_bytes(proof.to_dict()))) == proof
    assert RingPedersen.from_dict(params.to_dict()) == params
    with pytest.raises(ProofInvalid):
        verify_ring_pedersen(params, proof, {"election_id": "another"})
    # -s is outside <t>: t is a square and -1 is a square mod neither prime of a Blum N^
    other = RingPedersen(params.n, params.n - params.s, params.t)
    with pytest.raises(ProofInvalid):
        verify_ring_pedersen(other, proof, CONTEXT)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["commitments", "responses"]), st.integers(0, 127), st.integers(1, 2**64))
def test_ring_pedersen_tampering_is_refused(
    trustee: tuple[RingPedersen, int, int], field: str, index: int, delta: int
) -> None:
    params, lam, phi = trustee
    document = prove_ring_pedersen(params, lam, phi, CONTEXT).to_dict()
    values = list(document[field])
    values[index] = hex_int((int(values[index], 16) + delta) % params.n)
    document[field] = values
    with pytest.raises(ProofInvalid):
        verify_ring_pedersen(params, RingPedersenProof.from_dict(document), CONTEXT)


def test_no_small_factor_proof_for_a_balanced_key(
    trustee: tuple[RingPedersen, int, int], safe_primes: dict
) -> None:
    params, _, _ = trustee
    p, q = safe_primes[1024]
    proof = prove_no_small_factor(p, q, params, CONTEXT)
    verify_no_small_factor(p * q, params, proof, CONTEXT)
    again = NoSmallFactorProof.from_dict(json.loads(canonical_bytes(proof.to_dict())))
    assert again == proof
    with pytest.raises(ProofInvalid):
        verify_no_small_factor(p * q, params, proof, {"election_id": "another"})
    another, _, _ = make_ring_pedersen(1024)
    with pytest.raises(ProofInvalid):  # made against one trustee's parameters only
        verify_no_small_factor(p * q, another, proof, CONTEXT)


@pytest.mark.parametrize("small", [3, 7, 65537, (1 << 127) - 1])
def test_a_small_factor_cannot_be_proven(
    trustee: tuple[RingPedersen, int, int], small: int
) -> None:
    """n = small * big, as a dealer planting a small factor would make it: the honest
    prover's responses leave the range, whatever the draw."""
    params, _, _ = trustee
    big = prime_at(small % 1000, 3, 1024 - small.bit_length())
    for _ in range(3):
        proof = prove_no_small_factor(small, big, params, CONTEXT)
        with pytest.raises(ProofInvalid, match="out of range"):
            verify_no_small_factor(small * big, params, proof, CONTEXT)


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(["P", "Q", "A", "B", "T", "sigma", "z1", "z2", "w1", "w2", "v"]),
    st.integers(1, 2**64),
)
def test_no_small_factor_tampering_is_refused(
    trustee: tuple[RingPedersen, int, int], safe_primes: dict, field: str, delta: int
) -> None:
    params, _, _ = trustee
    p, q = safe_primes[512]
    proof = prove_no_small_factor(p, q, params, CONTEXT)
    changed = NoSmallFactorProof(
        **{**proof.__dict__, field: getattr(proof, field) + delta}  # type: ignore[arg-type]
    )
    with pytest.raises(ProofInvalid):
        verify_no_small_factor(p * q, params, changed, CONTEXT)


@pytest.mark.parametrize("field", ["sigma", "w1", "w2", "v"])
def test_huge_exponents_are_refused_before_any_exponentiation(
    trustee: tuple[RingPedersen, int, int], safe_primes: dict, field: str
) -> None:
    """A published proof with a value far above an honest prover's range is refused by its
    size, so that a hostile document cannot make the check (collector start, voter app) slow."""
    params, _, _ = trustee
    p, q = safe_primes[512]
    proof = prove_no_small_factor(p, q, params, CONTEXT)
    huge = NoSmallFactorProof(**{**proof.__dict__, field: -(1 << 10_000_000)})  # type: ignore[arg-type]
    with pytest.raises(ProofInvalid, match=f"{field} is out of range"):
        verify_no_small_factor(p * q, params, huge, CONTEXT)


def test_no_small_factor_vectors_recomputed_from_the_spec() -> None:
    """An outside implementation's view of no_small_factor_proof.json: parameters, Pi-prm and
    Pi-fac checked with plain integers and the spec's hash inputs."""
    vectors = json.loads((VECTORS.parent / "no_small_factor_proof.json").read_text())

    def signed(text: str) -> int:
        return -int(text[1:], 16) if text.startswith("-") else int(text, 16)

    params = {k: int(v, 16) for k, v in vectors["ring_pedersen"].items()}
    nh, s, t = params["n"], params["s"], params["t"]
    prm = vectors["ring_pedersen_proof"]
    digest = domain_hash(
        vectors["domains"]["ring_pedersen_proof"],
        {
            "commitments": prm["commitments"],
            "context": vectors["context"],
            "params": vectors["ring_pedersen"],
        },
    )
    bits = int.from_bytes(digest[:16], "big")
    for i, (a, z) in enumerate(zip(prm["commitments"], prm["responses"], strict=True)):
        e = (bits >> (127 - i)) & 1
        assert pow(t, int(z, 16), nh) == int(a, 16) * (s if e else 1) % nh
    fac = {k: signed(v) for k, v in vectors["no_small_factor_proof"].items()}
    n0 = int(vectors["n"], 16)
    digest = domain_hash(
        vectors["domains"]["no_small_factor_proof"],
        {
            "commitments": {
                k: vectors["no_small_factor_proof"][k] for k in ("A", "B", "P", "Q", "T", "sigma")
            },
            "context": vectors["context"],
            "n": vectors["n"],
            "params": vectors["ring_pedersen"],
        },
    )
    e = int.from_bytes(digest[:16], "big")
    root = int(gmpy2.isqrt(n0 - 1)) + 1
    assert abs(fac["z1"]) <= root << 257 and abs(fac["z2"]) <= root << 257
    r = pow(s, n0, nh) * pow(t, fac["sigma"], nh) % nh
    assert (
        pow(s, fac["z1"], nh) * pow(t, fac["w1"], nh) % nh == fac["A"] * pow(fac["P"], e, nh) % nh
    )
    assert (
        pow(s, fac["z2"], nh) * pow(t, fac["w2"], nh) % nh == fac["B"] * pow(fac["Q"], e, nh) % nh
    )
    assert pow(fac["Q"], fac["z1"], nh) * pow(t, fac["v"], nh) % nh == fac["T"] * pow(r, e, nh) % nh
    for case in vectors["invalid"]:
        with pytest.raises(ProofInvalid):
            verify_no_small_factor(
                n0,
                RingPedersen(nh, s, t),
                NoSmallFactorProof.from_dict(case["proof"]),
                vectors["context"],
            )
