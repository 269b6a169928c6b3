"""Proofs that the election key is well formed, checkable from the public key alone.

The 1-of-L ballot proofs are sound only if n = pq with gcd(n, phi(n)) = 1 (docs/spec.md,
"Membership proofs"); an observer cannot see that from n. The dealer, who knows p and q,
proves it.

Paillier-Blum modulus proof (Canetti, Gennaro, Goldfeder, Makriyannis, Peled, "UC
Non-Interactive, Proactive, Threshold ECDSA with Identifiable Aborts", CCS 2020, ePrint
2021/060, section 6.3, the Pi-mod protocol): n is a product of two primes p, q = 3 mod 4 with
gcd(n, phi(n)) = 1. The prover publishes w with Jacobi symbol (w/n) = -1; the challenges y_1..y_m
are derived from the statement (strong Fiat-Shamir, `modulus_challenges`); for each it gives
x_i, a_i, b_i, z_i with

    x_i^4 = (-1)^a_i w^b_i y_i  (mod n)     and     z_i^n = y_i  (mod n).

For a Blum modulus exactly one of y, -y, wy, -wy is a square mod both primes, and it has a
fourth root; n-th roots exist for every y exactly when gcd(n, phi(n)) = 1. For any other odd
composite n, each round passes with probability at most 1/2 over the choice of y_i, so
m = 128 rounds give soundness error 2^-128. docs/spec.md, "Key proofs", is the normative text.

The proof is not unique: each x_i is one of four fourth roots. That changes nothing it proves;
the proof is checked, never used to identify anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gmpy2

from canonical.encoding import DOMAINS, FormatError, domain_hash, hex_int, parse_hex_int
from crypto.errors import InvalidInput, ProofInvalid
from crypto.primitives.modular import invert, mpz, powmod, powmod_secret, random_unit

MODULUS_PROOF_ROUNDS = 128  # soundness error 2^-128 (each round: at most 1/2)
# y_i: bits(n) + 128 bits of hash output reduced mod n, within 2^-128 of uniform
_MARGIN_BITS = 128
_MAX_ATTEMPTS = 64
# The primality test that refuses a prime "modulus": 2^-100 error for an adversarial n
_PRIMALITY_ROUNDS = 50


@dataclass(frozen=True)
class ModulusProof:
    """Pi-mod: w, then per round (x_i, a_i, b_i, z_i)."""

    w: int
    x: tuple[int, ...]
    a: tuple[int, ...]  # 0 or 1
    b: tuple[int, ...]  # 0 or 1
    z: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "w": hex_int(self.w),
            "x": [hex_int(v) for v in self.x],
            "a": "".join(str(bit) for bit in self.a),
            "b": "".join(str(bit) for bit in self.b),
            "z": [hex_int(v) for v in self.z],
        }

    @classmethod
    def from_dict(cls, obj: Any, field: str = "modulus_proof") -> ModulusProof:
        if not isinstance(obj, Mapping) or set(obj) != {"w", "x", "a", "b", "z"}:
            raise InvalidInput(field, "expected an object with exactly w, x, a, b, z")
        try:
            w = parse_hex_int(obj["w"], f"{field}.w")
            lists = {}
            for name in ("x", "z"):
                values = obj[name]
                if not isinstance(values, list) or len(values) != MODULUS_PROOF_ROUNDS:
                    raise InvalidInput(
                        f"{field}.{name}", f"expected {MODULUS_PROOF_ROUNDS} hex integers"
                    )
                lists[name] = tuple(
                    parse_hex_int(value, f"{field}.{name}[{i}]") for i, value in enumerate(values)
                )
        except FormatError as exc:
            raise InvalidInput(exc.field, exc.problem) from exc
        bits = {}
        for name in ("a", "b"):
            text = obj[name]
            if (
                not isinstance(text, str)
                or len(text) != MODULUS_PROOF_ROUNDS
                or set(text) - {"0", "1"}
            ):
                raise InvalidInput(
                    f"{field}.{name}", f"expected a string of {MODULUS_PROOF_ROUNDS} '0'/'1'"
                )
            bits[name] = tuple(int(ch) for ch in text)
        return cls(w, lists["x"], bits["a"], bits["b"], lists["z"])


def modulus_challenges(n: int, w: int, context: Mapping[str, Any]) -> tuple[int, ...]:
    """y_1..y_m: units of Z_n derived from the whole statement (context, n, w).

    Round i's y_i: blocks of H_d("ivote/v1/modulus-proof", {attempt, block, context, n, round,
    w}) concatenated to at least bits(n) + 128 bits, read big-endian, reduced mod n; a value
    that is 0 or shares a factor with n is derived again with the next attempt."""
    n = int(n)
    blocks = -(-(n.bit_length() + _MARGIN_BITS) // 256)
    fields = {"context": dict(context), "n": hex_int(n), "w": hex_int(w)}
    out = []
    for round_index in range(MODULUS_PROOF_ROUNDS):
        for attempt in range(_MAX_ATTEMPTS):
            stream = b"".join(
                _hash({**fields, "attempt": attempt, "block": block, "round": round_index})
                for block in range(blocks)
            )
            y = int.from_bytes(stream, "big") % n
            if y > 0 and gmpy2.gcd(y, n) == 1:
                out.append(y)
                break
        else:
            raise InvalidInput("public_key.n", "no unit derived: not an RSA modulus")
    return tuple(out)


def _hash(obj: Mapping[str, Any]) -> bytes:
    try:
        return domain_hash(DOMAINS["modulus_proof"], obj)
    except FormatError as exc:
        raise InvalidInput("context", exc.problem) from exc


def prove_modulus(
    p: int, q: int, context: Mapping[str, Any], w: int | None = None
) -> ModulusProof:
    """The dealer's proof that n = pq is a Paillier-Blum modulus (p, q its secret primes).
    `w` (Jacobi symbol -1) is drawn from `secrets` unless given, for known-answer vectors."""
    p, q = mpz(p), mpz(q)
    if p == q or p % 4 != 3 or q % 4 != 3:
        raise InvalidInput("key", "p and q must be distinct primes congruent to 3 mod 4")
    n = p * q
    phi = (p - 1) * (q - 1)
    if gmpy2.gcd(n, phi) != 1:
        raise InvalidInput("key", "gcd(n, phi(n)) is not 1")
    n_root = invert(n, phi)  # z = y^(n^-1 mod phi) is the n-th root of y
    while w is None:
        drawn = mpz(random_unit(n))
        if gmpy2.jacobi(drawn, n) == -1:
            w = drawn
    w = mpz(w)
    if not 0 < w < n or gmpy2.jacobi(w, n) != -1:
        raise InvalidInput("w", "must be in [1, n) with Jacobi symbol -1")
    # u^e_p mod p is the fourth root of a square u that is itself a square (p = 3 mod 4)
    e_p, e_q = ((p + 1) // 4) ** 2 % (p - 1), ((q + 1) // 4) ** 2 % (q - 1)
    q_inv_p = invert(q, p)
    xs, as_, bs, zs = [], [], [], []
    for y in modulus_challenges(n, w, context):
        y = mpz(y)
        for a, b in ((0, 0), (1, 0), (0, 1), (1, 1)):
            u = (-y if a else y) * (w if b else 1) % n
            if gmpy2.legendre(u % p, p) == 1 and gmpy2.legendre(u % q, q) == 1:
                break
        else:  # unreachable for a Blum modulus: one of the four is a square mod both
            raise InvalidInput("key", "no quadratic residue among y, -y, wy, -wy")
        x_p, x_q = powmod_secret(u % p, e_p, p), powmod_secret(u % q, e_q, q)
        x = x_q + q * ((x_p - x_q) * q_inv_p % p)  # CRT
        xs.append(int(x))
        as_.append(a)
        bs.append(b)
        zs.append(int(powmod_secret(y, n_root, n)))
    return ModulusProof(int(w), tuple(xs), tuple(as_), tuple(bs), tuple(zs))


def verify_modulus(n: int, proof: ModulusProof, context: Mapping[str, Any]) -> None:
    """Refuse (ProofInvalid, naming the failure) unless the proof shows that n is a
    Paillier-Blum modulus; the checks, in order, are those of docs/spec.md, "Key proofs"."""
    what = "key proof (Paillier-Blum modulus)"
    n = mpz(n)
    if n < 15 or n % 2 == 0:
        raise ProofInvalid(what, "n is not an odd number of at least 15")
    if gmpy2.is_prime(n, _PRIMALITY_ROUNDS):
        raise ProofInvalid(what, "n is prime")
    if gmpy2.is_square(n):
        raise ProofInvalid(what, "n is a perfect square")
    lengths = {len(proof.x), len(proof.a), len(proof.b), len(proof.z)}
    if lengths != {MODULUS_PROOF_ROUNDS}:
        raise ProofInvalid(what, f"expected {MODULUS_PROOF_ROUNDS} rounds")
    w = mpz(proof.w)
    if not 0 < w < n or gmpy2.jacobi(w, n) != -1:
        raise ProofInvalid(what, "w is not in [1, n) with Jacobi symbol -1")
    ys = modulus_challenges(int(n), int(w), context)
    for i, (y, x, a, b, z) in enumerate(
        zip(ys, proof.x, proof.a, proof.b, proof.z, strict=True)
    ):
        if a not in (0, 1) or b not in (0, 1):
            raise ProofInvalid(what, f"round {i}: a and b must be 0 or 1")
        if not (0 < x < n and 0 < z < n):
            raise ProofInvalid(what, f"round {i}: x or z is not in [1, n)")
        if powmod(z, n, n) != y:
            raise ProofInvalid(what, f"round {i}: z^n is not y (gcd(n, phi(n)) != 1?)")
        if powmod(x, 4, n) != (-y if a else y) * (w if b else 1) % n:
            raise ProofInvalid(what, f"round {i}: x^4 is not (-1)^a w^b y (not a Blum modulus?)")
