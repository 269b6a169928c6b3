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

import secrets
from collections.abc import Callable, Mapping
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
                _domain(
                    "modulus_proof",
                    {**fields, "attempt": attempt, "block": block, "round": round_index},
                )
                for block in range(blocks)
            )
            y = int.from_bytes(stream, "big") % n
            if y > 0 and gmpy2.gcd(y, n) == 1:
                out.append(y)
                break
        else:
            raise InvalidInput("public_key.n", "no unit derived: not an RSA modulus")
    return tuple(out)


def prove_modulus(p: int, q: int, context: Mapping[str, Any], w: int | None = None) -> ModulusProof:
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
    root_p, root_q = n_root % (p - 1), n_root % (q - 1)  # computed mod p and q (CRT)
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
        z_p, z_q = powmod_secret(y % p, root_p, p), powmod_secret(y % q, root_q, q)
        zs.append(int(z_q + q * ((z_p - z_q) * q_inv_p % p)))
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
    for i, (y, x, a, b, z) in enumerate(zip(ys, proof.x, proof.a, proof.b, proof.z, strict=True)):
        if a not in (0, 1) or b not in (0, 1):
            raise ProofInvalid(what, f"round {i}: a and b must be 0 or 1")
        if not (0 < x < n and 0 < z < n):
            raise ProofInvalid(what, f"round {i}: x or z is not in [1, n)")
        if powmod(z, n, n) != y:
            raise ProofInvalid(what, f"round {i}: z^n is not y (gcd(n, phi(n)) != 1?)")
        if powmod(x, 4, n) != (-y if a else y) * (w if b else 1) % n:
            raise ProofInvalid(what, f"round {i}: x^4 is not (-1)^a w^b y (not a Blum modulus?)")


# --------------------------------------------------------------------------------------------
# Ring-Pedersen parameters (each trustee's) and the dealer's no-small-factor proof
#
# Pi-fac (CGGMP, ePrint 2021/060, section C.5, "no small factor proof") shows that n = pq with
# both factors above sqrt(n) / 2^(l+e+2): at 3072 bits, above 2^1278, so no factor below
# 2^128. It commits to p and q with ring-Pedersen commitments s^a t^b mod N^ under a modulus
# N^ whose factorisation the dealer must not know: each trustee makes its own parameters
# before the key ceremony and proves s in <t> (Pi-prm, section 6.4), and the dealer proves
# against every trustee's. A dealer who plants a small factor must then know the
# factorisation of every trustee's N^ (or break strong RSA).

RING_PEDERSEN_ROUNDS = 128  # Pi-prm: soundness error 2^-128 (each round: 1/2)
FACTOR_CHALLENGE_BITS = 128  # Pi-fac's challenge e in [0, 2^128)
FACTOR_SLACK_BITS = 128  # the masks' statistical slack: the proof leaks at most 2^-128
# Verifier's bound on z1, z2: 2^(challenge + slack + 1) sqrt(n); the proven factors are above
# sqrt(n) / 2^(challenge + slack + 2)
_Z_BOUND_BITS = FACTOR_CHALLENGE_BITS + FACTOR_SLACK_BITS + 1


def _signed_hex(value: int) -> str:
    return hex_int(value) if value >= 0 else "-" + hex_int(-value)


def _parse_signed_hex(text: Any, field: str) -> int:
    if isinstance(text, str) and text.startswith("-"):
        value = parse_hex_int(text[1:], field)
        if value == 0:
            raise InvalidInput(field, "-0 is not canonical")
        return -value
    return parse_hex_int(text, field)


def _ints(obj: Any, names: tuple[str, ...], field: str, signed: tuple[str, ...] = ()) -> dict:
    if not isinstance(obj, Mapping) or set(obj) != set(names):
        raise InvalidInput(field, f"expected an object with exactly {', '.join(names)}")
    try:
        return {
            name: (_parse_signed_hex if name in signed else parse_hex_int)(
                obj[name], f"{field}.{name}"
            )
            for name in names
        }
    except FormatError as exc:
        raise InvalidInput(exc.field, exc.problem) from exc


@dataclass(frozen=True)
class RingPedersen:
    """A trustee's ring-Pedersen parameters: a modulus N^ (its factors the trustee's secret)
    and s, t in Z*_N^ with s in the group t generates."""

    n: int
    s: int
    t: int

    def to_dict(self) -> dict[str, str]:
        return {"n": hex_int(self.n), "s": hex_int(self.s), "t": hex_int(self.t)}

    @classmethod
    def from_dict(cls, obj: Any, field: str = "ring_pedersen") -> RingPedersen:
        values = _ints(obj, ("n", "s", "t"), field)
        params = cls(values["n"], values["s"], values["t"])
        params.check(field)
        return params

    def check(self, field: str = "ring_pedersen") -> None:
        if self.n < 15 or self.n % 2 == 0:
            raise InvalidInput(f"{field}.n", "not an odd modulus")
        for name, value in (("s", self.s), ("t", self.t)):
            if not 1 < value < self.n or gmpy2.gcd(value, self.n) != 1:
                raise InvalidInput(f"{field}.{name}", "not a unit of Z_N other than 1")


@dataclass(frozen=True)
class RingPedersenProof:
    """Pi-prm: per round, A_i = t^a_i and z_i = a_i + e_i lambda mod phi(N^)."""

    commitments: tuple[int, ...]
    responses: tuple[int, ...]

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "commitments": [hex_int(v) for v in self.commitments],
            "responses": [hex_int(v) for v in self.responses],
        }

    @classmethod
    def from_dict(cls, obj: Any, field: str = "ring_pedersen_proof") -> RingPedersenProof:
        if not isinstance(obj, Mapping) or set(obj) != {"commitments", "responses"}:
            raise InvalidInput(field, "expected an object with exactly commitments, responses")
        lists = []
        for name in ("commitments", "responses"):
            values = obj[name]
            if not isinstance(values, list) or len(values) != RING_PEDERSEN_ROUNDS:
                raise InvalidInput(f"{field}.{name}", f"expected {RING_PEDERSEN_ROUNDS} integers")
            try:
                lists.append(
                    tuple(parse_hex_int(v, f"{field}.{name}[{i}]") for i, v in enumerate(values))
                )
            except FormatError as exc:
                raise InvalidInput(exc.field, exc.problem) from exc
        return cls(lists[0], lists[1])


def blum_prime(bits: int) -> int:
    """A random prime = 3 mod 4 of exactly `bits` bits, its top two bits set (so that the
    product of two has exactly twice as many bits)."""
    while True:
        candidate = gmpy2.next_prime(mpz(secrets.randbits(bits)) | (mpz(3) << (bits - 2)))
        if candidate % 4 == 3 and candidate.bit_length() == bits:
            return int(candidate)


def make_ring_pedersen(bits: int) -> tuple[RingPedersen, int, int]:
    """A trustee's fresh parameters: (params, lambda, phi(N^)), the last two secret (the
    trustee keeps them only until it has proven the parameters, then forgets them)."""
    p, q = blum_prime(bits // 2), blum_prime(bits - bits // 2)
    while p == q:
        q = blum_prime(bits - bits // 2)
    n, phi = p * q, (p - 1) * (q - 1)
    tau = random_unit(n)
    t = tau * tau % n
    lam = secrets.randbelow(phi)
    return RingPedersen(n, int(powmod(t, lam, n)), t), lam, phi


def _ring_pedersen_bits(
    params: RingPedersen, commitments: tuple[int, ...], context: Mapping[str, Any]
) -> tuple[int, ...]:
    digest = _domain(
        "ring_pedersen_proof",
        {
            "commitments": [hex_int(a) for a in commitments],
            "context": dict(context),
            "params": params.to_dict(),
        },
    )
    value = int.from_bytes(digest[: RING_PEDERSEN_ROUNDS // 8], "big")
    return tuple((value >> (RING_PEDERSEN_ROUNDS - 1 - i)) & 1 for i in range(RING_PEDERSEN_ROUNDS))


def _domain(name: str, obj: Mapping[str, Any]) -> bytes:
    try:
        return domain_hash(DOMAINS[name], obj)
    except FormatError as exc:
        raise InvalidInput("context", exc.problem) from exc


def prove_ring_pedersen(
    params: RingPedersen,
    lam: int,
    phi: int,
    context: Mapping[str, Any],
    draw: Draw = secrets.randbelow,
) -> RingPedersenProof:
    """The trustee's proof that s = t^lambda (s in <t>): 128 rounds, strong Fiat-Shamir."""
    if powmod(params.t, lam, params.n) != params.s:
        raise InvalidInput("lambda", "s is not t^lambda")
    nonces = tuple(draw(phi) for _ in range(RING_PEDERSEN_ROUNDS))
    commitments = tuple(int(powmod(params.t, a, params.n)) for a in nonces)
    bits = _ring_pedersen_bits(params, commitments, context)
    responses = tuple((a + e * lam) % phi for a, e in zip(nonces, bits, strict=True))
    return RingPedersenProof(commitments, responses)


def verify_ring_pedersen(
    params: RingPedersen, proof: RingPedersenProof, context: Mapping[str, Any]
) -> None:
    what = "key proof (ring-Pedersen parameters)"
    params.check()
    if {len(proof.commitments), len(proof.responses)} != {RING_PEDERSEN_ROUNDS}:
        raise ProofInvalid(what, f"expected {RING_PEDERSEN_ROUNDS} rounds")
    bits = _ring_pedersen_bits(params, proof.commitments, context)
    n, s, t = mpz(params.n), mpz(params.s), mpz(params.t)
    for i, (a, z, e) in enumerate(zip(proof.commitments, proof.responses, bits, strict=True)):
        if not 0 < a < n or not 0 <= z < n:
            raise ProofInvalid(what, f"round {i}: a value is out of range")
        if powmod(t, z, n) != a * (s if e else 1) % n:
            raise ProofInvalid(what, f"round {i}: t^z is not A s^e")


@dataclass(frozen=True)
class NoSmallFactorProof:
    """Pi-fac against one trustee's ring-Pedersen parameters."""

    # the paper's names, so that the spec and the code read alike
    P: int
    Q: int
    A: int
    B: int
    T: int
    sigma: int
    z1: int
    z2: int
    w1: int
    w2: int
    v: int

    _UNSIGNED = ("P", "Q", "A", "B", "T")
    _SIGNED = ("sigma", "z1", "z2", "w1", "w2", "v")

    def to_dict(self) -> dict[str, str]:
        return {name: hex_int(getattr(self, name)) for name in self._UNSIGNED} | {
            name: _signed_hex(getattr(self, name)) for name in self._SIGNED
        }

    @classmethod
    def from_dict(cls, obj: Any, field: str = "no_small_factor_proof") -> NoSmallFactorProof:
        return cls(**_ints(obj, cls._UNSIGNED + cls._SIGNED, field, signed=cls._SIGNED))


def _isqrt_ceil(n: int) -> int:
    root = int(gmpy2.isqrt(n))
    return root if root * root == n else root + 1


# The provers' randomness: uniform in [0, bound). `secrets.randbelow` unless a known-answer
# vector passes its own deterministic stand-in.
Draw = Callable[[int], int]


def _signed_below(bound: int, draw: Draw) -> int:
    """Uniform in [-bound, bound]."""
    return draw(2 * bound + 1) - bound


def _factor_challenge(
    n0: int, params: RingPedersen, commitments: Mapping[str, int], context: Mapping[str, Any]
) -> int:
    digest = _domain(
        "no_small_factor_proof",
        {
            "commitments": {
                k: (_signed_hex(v) if k == "sigma" else hex_int(v)) for k, v in commitments.items()
            },
            "context": dict(context),
            "n": hex_int(n0),
            "params": params.to_dict(),
        },
    )
    return int.from_bytes(digest[: FACTOR_CHALLENGE_BITS // 8], "big")


def prove_no_small_factor(
    p: int,
    q: int,
    params: RingPedersen,
    context: Mapping[str, Any],
    draw: Draw = secrets.randbelow,
) -> NoSmallFactorProof:
    """The dealer's proof that n = pq has no small factor, against a trustee's parameters."""
    n0, nh = p * q, params.n
    s, t = mpz(params.s), mpz(params.t)
    slack = 1 << (FACTOR_CHALLENGE_BITS + FACTOR_SLACK_BITS)
    root = _isqrt_ceil(n0)
    alpha, beta = _signed_below(slack * root, draw), _signed_below(slack * root, draw)
    mu = _signed_below(nh << FACTOR_CHALLENGE_BITS, draw)
    nu = _signed_below(nh << FACTOR_CHALLENGE_BITS, draw)
    sigma = _signed_below((n0 * nh) << FACTOR_CHALLENGE_BITS, draw)
    r = _signed_below(slack * n0 * nh, draw)
    x, y = _signed_below(slack * nh, draw), _signed_below(slack * nh, draw)
    big_p = powmod(s, p, nh) * powmod(t, mu, nh) % nh
    big_q = powmod(s, q, nh) * powmod(t, nu, nh) % nh
    commitments = {
        "P": int(big_p),
        "Q": int(big_q),
        "A": int(powmod(s, alpha, nh) * powmod(t, x, nh) % nh),
        "B": int(powmod(s, beta, nh) * powmod(t, y, nh) % nh),
        "T": int(powmod(big_q, alpha, nh) * powmod(t, r, nh) % nh),
        "sigma": sigma,
    }
    e = _factor_challenge(n0, params, commitments, context)
    sigma_hat = sigma - nu * p
    return NoSmallFactorProof(
        **commitments,
        z1=alpha + e * p,
        z2=beta + e * q,
        w1=x + e * mu,
        w2=y + e * nu,
        v=r + e * sigma_hat,
    )


def verify_no_small_factor(
    n0: int, params: RingPedersen, proof: NoSmallFactorProof, context: Mapping[str, Any]
) -> None:
    """Refuse unless the proof shows both factors of n0 above sqrt(n0) / 2^258 (under the
    trustee's parameters); docs/spec.md, "Key proofs"."""
    what = "key proof (no small factor)"
    params.check()
    nh, s, t = mpz(params.n), mpz(params.s), mpz(params.t)
    for name in ("P", "Q", "A", "B", "T"):
        value = getattr(proof, name)
        if not 0 < value < nh or gmpy2.gcd(value, nh) != 1:
            raise ProofInvalid(what, f"{name} is not a unit mod the trustee's modulus")
    bound = _isqrt_ceil(n0) << _Z_BOUND_BITS
    if abs(proof.z1) > bound or abs(proof.z2) > bound:
        raise ProofInvalid(what, "z1 or z2 is out of range: a factor may be small")
    # The other values' ranges (an honest prover's, with room): without them a published
    # proof with huge exponents would only make the check slow, never pass it wrongly.
    slack = FACTOR_CHALLENGE_BITS + FACTOR_SLACK_BITS
    for name, limit in (
        ("sigma", (n0 * nh) << FACTOR_CHALLENGE_BITS),
        ("w1", nh << (slack + 1)),
        ("w2", nh << (slack + 1)),
        ("v", (n0 * nh) << (slack + 2)),
    ):
        if abs(getattr(proof, name)) > limit:
            raise ProofInvalid(what, f"{name} is out of range")
    commitments = {name: getattr(proof, name) for name in ("P", "Q", "A", "B", "T", "sigma")}
    e = _factor_challenge(n0, params, commitments, context)
    r_value = powmod(s, n0, nh) * powmod(t, proof.sigma, nh) % nh
    checks = (
        ("s^z1 t^w1 is not A P^e", s, proof.z1, proof.w1, proof.A, proof.P),
        ("s^z2 t^w2 is not B Q^e", s, proof.z2, proof.w2, proof.B, proof.Q),
        ("Q^z1 t^v is not T R^e", mpz(proof.Q), proof.z1, proof.v, proof.T, r_value),
    )
    for problem, base, exponent, t_exponent, commitment, statement in checks:
        left = powmod(base, exponent, nh) * powmod(t, t_exponent, nh) % nh
        if left != commitment * powmod(statement, e, nh) % nh:
            raise ProofInvalid(what, problem)
