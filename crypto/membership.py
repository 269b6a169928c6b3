"""1-out-of-L membership proofs for Paillier ciphertexts, and their batch verification.

A proof shows that c = g^m r^n mod n^2 for some m in a public list of allowed values, without
saying which: for each allowed m_j, u_j = c g^(-m_j) is an n-th residue exactly when c holds m_j.
One Sigma protocol per branch (prove knowledge of an n-th root of u_j), OR-composed after
Cramer-Damgard-Schoenmakers: the prover simulates every branch but the real one, and the
branch challenges must add up to the Fiat-Shamir challenge. The hash binds the whole statement
(context, key, allowed values, ciphertext, every commitment: strong Fiat-Shamir).

Verification equation, per branch j: (z_j^n)^2 == (a_j u_j^(e_j))^2 mod n^2. The squares are
deliberate: batch verification squares both sides (Boyd-Pavlovski) and so cannot see an order-2
factor; individual verification squares too, so that the two agree exactly. Soundness is not
lost: the order-2 elements of Z*_{n^2} are n-th residues (n is odd), so u_j^2 being an n-th
residue means u_j is one. Responses are kept in the lower half [1, (n-1)/2], so that negating a
response (the order-2 element any outsider can use) is refused instead of giving a second valid
proof. docs/spec.md, "Membership proofs and batch verification", is the normative text.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import gmpy2

from canonical.encoding import DOMAINS, FormatError, domain_hash, hex_int, parse_hex_int
from crypto import paillier
from crypto.encoding import (
    ContestEncoding,
    allowed_plaintexts,
    check_fits,
    count_plaintexts,
    encode_choice,
    encode_marks,
    sum_allowed_plaintexts,
)
from crypto.errors import InvalidInput, ProofInvalid
from crypto.paillier import PublicKey
from crypto.primitives.modular import (
    FixedBase,
    is_unit,
    mpz,
    multiexp_buckets,
    powmod,
    random_unit,
)

CHALLENGE_BITS = 128  # Fiat-Shamir challenge: the first 16 bytes of the domain hash
CHALLENGE_MODULUS = 1 << CHALLENGE_BITS
WEIGHT_BITS = 64  # batch verification: a bad statement passes a batch with probability about 2^-64
# Statements per batch equation. The buckets' multi-exponentiation costs less per statement
# the more it holds (at 3072 bits and 10 branches: about 1.5 ms at 1024, 1.2 at 4096, 1.1 at
# 8192, by _bucket_cost); 4096 ballots of 1-of-10 keep a worker under a few hundred MB.
BATCH_CHUNK = 4096


# --------------------------------------------------------------------------------------------
# The proof object and its validation


@dataclass(frozen=True)
class MembershipProof:
    """Per allowed value j: commitment a_j (mod n^2), challenge e_j, response z_j (mod n)."""

    commitments: tuple[int, ...]
    challenges: tuple[int, ...]
    responses: tuple[int, ...]
    # Set only by from_dict, never by the constructor or dataclasses.replace (init=False): the
    # modulus whose range checks these values passed there, so that batch verification does
    # not repeat them, and the commitments' hex text as parsed (the challenge hashes it).
    _ranges_checked_for: int = field(default=0, init=False, compare=False, repr=False)
    _commitments_hex: tuple[str, ...] | None = field(
        default=None, init=False, compare=False, repr=False
    )

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "commitments": [hex_int(a) for a in self.commitments],
            "challenges": [hex_int(e) for e in self.challenges],
            "responses": [hex_int(z) for z in self.responses],
        }

    @classmethod
    def from_dict(cls, d: Any, key: PublicKey, branches: int, field: str) -> MembershipProof:
        """Parse a proof from outside: shape, hex and ranges; every error names the offending
        field. Whether its commitments and responses are units is part of checking the proof
        (verify_membership, batch_verify), which is the only use of those values."""
        proof = _parse_proof(d, key, branches, field)
        _check_ranges(key, proof, branches, field)
        object.__setattr__(proof, "_ranges_checked_for", int(key.n))
        return proof


def _parse_proof(d: Any, key: PublicKey, branches: int, field: str) -> MembershipProof:
    """The proof's values from its dict (shapes and hex syntax; no range or unit test)."""
    if not isinstance(d, Mapping):
        raise InvalidInput(field, "expected an object")
    extra = set(d) - {"commitments", "challenges", "responses"}
    if extra:
        raise InvalidInput(field, f"unexpected fields {sorted(extra)}")
    values = {name: _hex_list(d, name, branches, field) for name in _PROOF_FIELDS}
    proof = MembershipProof(values["commitments"], values["challenges"], values["responses"])
    # parse_hex_int admits only the canonical spelling, so the text is hex_int's
    object.__setattr__(proof, "_commitments_hex", tuple(d["commitments"]))
    return proof


_PROOF_FIELDS = ("commitments", "challenges", "responses")


def _hex_list(d: Mapping[str, Any], name: str, length: int, field: str) -> tuple[int, ...]:
    where = f"{field}.{name}"
    if name not in d:
        raise InvalidInput(where, "missing")
    items = d[name]
    if not isinstance(items, list):
        raise InvalidInput(where, "expected a list")
    if len(items) != length:
        raise InvalidInput(where, f"{len(items)} entries, expected {length}")
    try:
        return tuple(parse_hex_int(item, f"{where}[{i}]") for i, item in enumerate(items))
    except FormatError as exc:
        raise InvalidInput(exc.field, exc.problem) from exc


def _unit_mod_n(x: int, n: int) -> bool:
    # gcd with n decides invertibility mod n^2 as well (same prime factors), at half the cost
    return gmpy2.gcd(x, n) == 1


def _check_ranges(key: PublicKey, proof: MembershipProof, branches: int, field: str) -> None:
    """Lengths and ranges, without the gcd tests (batch verification does those together)."""
    if not isinstance(proof, MembershipProof):
        raise InvalidInput(field, "not a membership proof")
    n, n2 = key.n, key.n_squared
    half = (n - 1) // 2
    for name in _PROOF_FIELDS:
        values = getattr(proof, name)
        if not isinstance(values, tuple) or len(values) != branches:
            raise InvalidInput(f"{field}.{name}", f"expected {branches} entries")
        for i, value in enumerate(values):
            if not isinstance(value, int | gmpy2.mpz) or isinstance(value, bool):
                raise InvalidInput(f"{field}.{name}[{i}]", "not an integer")
    for i, a in enumerate(proof.commitments):
        if not 0 < a < n2:
            raise InvalidInput(f"{field}.commitments[{i}]", "not in [1, n^2)")
    for i, e in enumerate(proof.challenges):
        if not 0 <= e < CHALLENGE_MODULUS:
            raise InvalidInput(f"{field}.challenges[{i}]", f"not in [0, 2^{CHALLENGE_BITS})")
    for i, z in enumerate(proof.responses):
        if not 0 < z <= half:
            raise InvalidInput(f"{field}.responses[{i}]", "not in [1, (n-1)/2]")


def check_proof(key: PublicKey, proof: MembershipProof, branches: int, field: str) -> None:
    """Sizes, ranges and units of a proof from outside (before any arithmetic on it)."""
    _check_ranges(key, proof, branches, field)
    _check_units(key, proof, field)


def _check_units(key: PublicKey, proof: MembershipProof, field: str) -> None:
    """Every commitment and response of `proof` is a unit.

    One gcd for all of them: a product mod n is a unit exactly when every factor is (and gcd
    with n decides invertibility mod n^2 too: same prime factors). Only when that fails are
    the values tested one by one, to name the first one that is not a unit. Values must be
    range-checked already."""
    n = mpz(key.n)
    product = mpz(1)
    for value in (*proof.commitments, *proof.responses):
        product = product * value % n
    if gmpy2.gcd(product, n) == 1:
        return
    for name in ("commitments", "responses"):
        for i, value in enumerate(getattr(proof, name)):
            if not _unit_mod_n(value, key.n):
                raise InvalidInput(f"{field}.{name}[{i}]", "not a unit")


def _check_statement_values(
    key: PublicKey, ciphertext: int, allowed: Sequence[int], field: str
) -> tuple[int, ...]:
    if not isinstance(key, PublicKey) or not isinstance(key.n, int | gmpy2.mpz) or key.n < 3:
        raise InvalidInput(f"{field}.key", "not a Paillier public key")
    if not isinstance(ciphertext, int | gmpy2.mpz) or isinstance(ciphertext, bool):
        raise InvalidInput(f"{field}.ciphertext", "not an integer")
    if not 0 < ciphertext < key.n_squared:
        raise InvalidInput(f"{field}.ciphertext", "not in [1, n^2)")
    allowed = tuple(allowed)
    if not allowed:
        raise InvalidInput(f"{field}.allowed", "no allowed values")
    for i, m in enumerate(allowed):
        if not isinstance(m, int | gmpy2.mpz) or isinstance(m, bool) or not 0 <= m < key.n:
            raise InvalidInput(f"{field}.allowed[{i}]", "not an integer in [0, n)")
    return allowed


# --------------------------------------------------------------------------------------------
# Fiat-Shamir challenge


def membership_statement(
    key: PublicKey,
    ciphertext: int,
    allowed: Sequence[int],
    commitments: Sequence[int],
    context: Mapping[str, Any],
    *,
    ciphertext_hex: str | None = None,
    commitments_hex: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The object whose domain hash is the challenge: the whole statement and every commitment.

    ciphertext_hex / commitments_hex: the values' hex_int text when the caller has it already
    (as parsed: the canonical spelling), which saves converting them back."""
    if not isinstance(context, Mapping):
        raise InvalidInput("context", "expected a mapping")
    return {
        "version": 1,
        "context": dict(context),
        "public_key": _hex_of_int(int(key.n)),
        "allowed": list(_hex_of_ints(tuple(int(m) for m in allowed))),
        "ciphertext": hex_int(ciphertext) if ciphertext_hex is None else ciphertext_hex,
        "commitments": (
            [hex_int(a) for a in commitments] if commitments_hex is None else list(commitments_hex)
        ),
    }


@functools.lru_cache(maxsize=16)
def _hex_of_int(value: int) -> str:
    return hex_int(value)  # the key's modulus: the same in every statement


@functools.lru_cache(maxsize=256)
def _hex_of_ints(values: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(hex_int(v) for v in values)  # the allowed values: a few lists per election


def membership_challenge(
    key: PublicKey,
    ciphertext: int,
    allowed: Sequence[int],
    commitments: Sequence[int],
    context: Mapping[str, Any],
    *,
    ciphertext_hex: str | None = None,
    commitments_hex: Sequence[str] | None = None,
) -> int:
    """e = first 128 bits (big-endian) of H_d(statement), d = ivote/v1/membership-proof."""
    statement = membership_statement(
        key,
        ciphertext,
        allowed,
        commitments,
        context,
        ciphertext_hex=ciphertext_hex,
        commitments_hex=commitments_hex,
    )
    try:
        digest = domain_hash(DOMAINS["membership_proof"], statement)
    except FormatError as exc:
        raise InvalidInput("context", exc.problem) from exc
    return int.from_bytes(digest[: CHALLENGE_BITS // 8], "big")


# --------------------------------------------------------------------------------------------
# Prover


@dataclass(frozen=True)
class ProverNonces:
    """The prover's random choices: rho for the real branch; (t_j, e_j) for each simulated one
    (t_j a unit mod n, e_j < 2^128). `powers` may carry rho^n and t_j^n mod n^2 (by branch)
    when they were drawn together; otherwise they are computed. Explicit nonces are for
    known-answer vectors; prove_membership draws fresh ones."""

    rho: int
    simulated: Mapping[int, tuple[int, int]]
    powers: Mapping[int, int] | None = None


class NthResidues:
    """Uniform units t of Z*_n together with t^n mod n^2, about 4x faster than powmod.

    t = s^k sigma mod n and t^n = S^k sigma^n mod n^2, with s a random square, S = s^n mod n^2
    (fixed-base tables for both), k uniform below 2^(bits(n)+128), and sigma uniform in
    {1, -1, y, -y} for a y of Jacobi symbol -1. For n = pq with safe primes, a random square
    generates the squares QR_n (cyclic of order p'q') except with probability about 2/p', so
    s^k is within 2^-128 of uniform on QR_n, and {1, -1, y, -y} meets each of the four cosets
    of QR_n in Z*_n once: t is within 2^-128 of uniform on Z*_n. s and y need not be secret.
    """

    def __init__(self, n: int) -> None:
        self.n, self.n_squared = mpz(n), mpz(n) * n
        self.exponent_bits = int(n).bit_length() + 128
        x = random_unit(n)
        s = x * x % self.n
        for _ in range(128):  # half of all units qualify when n is an RSA modulus
            y = random_unit(n)
            if gmpy2.jacobi(y, self.n) == -1:
                break
        else:
            raise InvalidInput("public_key.n", "no unit of Jacobi symbol -1: not an RSA modulus")
        y_n = powmod(y, self.n, self.n_squared)
        self._mod_n = FixedBase(s, self.n, self.exponent_bits)
        self._mod_n2 = FixedBase(
            powmod(s, self.n, self.n_squared), self.n_squared, self.exponent_bits
        )
        n2 = self.n_squared
        # (-1)^n = -1 since n is odd
        self._cosets = ((1, 1), (self.n - 1, n2 - 1), (y, y_n), (self.n - y, n2 - y_n))

    def draw(self) -> tuple[int, int]:
        """(t, t^n mod n^2) for a fresh t, uniform on Z*_n."""
        k = secrets.randbits(self.exponent_bits)
        sigma, sigma_n = self._cosets[secrets.randbelow(4)]
        t = self._mod_n.power(k) * sigma % self.n
        return int(t), int(self._mod_n2.power(k) * sigma_n % self.n_squared)


@functools.lru_cache(maxsize=4)
def nth_residues(n: int) -> NthResidues:
    """The residue source of a key, made once per process (its tables take one n-bit
    exponentiation's time and about (bits(n) / 6) * 3 bits(n) bits of memory)."""
    return NthResidues(n)


def draw_nonces(n: int, branches: int, index: int) -> ProverNonces:
    """Fresh prover nonces (from `secrets`), with their n-th powers."""
    source = nth_residues(int(n))
    rho, rho_n = source.draw()
    simulated: dict[int, tuple[int, int]] = {}
    powers = {index: rho_n}
    for j in range(branches):
        if j != index:
            t, t_n = source.draw()
            simulated[j] = (t, secrets.randbits(CHALLENGE_BITS))
            powers[j] = t_n
    return ProverNonces(rho, simulated, powers)


def _finish_proof(
    key: PublicKey,
    ciphertext: int,
    randomness: int,
    allowed: tuple[int, ...],
    index: int,
    context: Mapping[str, Any],
    nonces: ProverNonces,
) -> MembershipProof:
    """Commitments from the n-th powers, then the challenge, then the responses.

    Simulated branch j: u_j = c g^(-m_j) = g^(m_k - m_j) r^n when c = Enc(m_k; r), so with
    z_j = t_j r^(e_j) the verification equation z_j^n = a_j u_j^(e_j) gives
    a_j = t_j^n g^((m_j - m_k) e_j): no exponentiation of u_j, and z_j is uniform like t_j.
    """
    n, n2 = mpz(key.n), mpz(key.n_squared)
    r = mpz(randomness)
    powers = nonces.powers
    if powers is None:
        powers = {j: powmod(t, n, n2) for j, (t, _) in nonces.simulated.items()}
        powers[index] = powmod(nonces.rho, n, n2)
    m_real = allowed[index]
    branches = len(allowed)
    commitments: list[mpz] = [mpz(0)] * branches
    challenges: list[int] = [0] * branches
    raw_responses: list[mpz] = [mpz(0)] * branches
    for j, (t, e) in nonces.simulated.items():
        commitments[j] = powers[j] * paillier.g_power(key, (allowed[j] - m_real) * e) % n2
        challenges[j] = e
        raw_responses[j] = t * powmod(r, e, n) % n
    commitments[index] = mpz(powers[index])
    e = membership_challenge(key, ciphertext, allowed, commitments, context)
    challenges[index] = (e - sum(challenges)) % CHALLENGE_MODULUS
    raw_responses[index] = nonces.rho * powmod(r, challenges[index], n) % n
    # z and n - z satisfy the squared equation alike: publish the one in the lower half
    half = (n - 1) // 2
    responses = tuple(int(z if z <= half else n - z) for z in raw_responses)
    return MembershipProof(tuple(int(a) for a in commitments), tuple(challenges), responses)


def _check_nonces(key: PublicKey, nonces: ProverNonces, branches: int, index: int) -> None:
    if not 0 <= index < branches:
        raise InvalidInput("index", f"{index} is not in [0, {branches})")
    if set(nonces.simulated) != set(range(branches)) - {index}:
        raise InvalidInput("nonces", "one (t, e) per simulated branch")
    if not is_unit(nonces.rho, key.n) or not all(
        is_unit(t, key.n) and 0 <= e < CHALLENGE_MODULUS for t, e in nonces.simulated.values()
    ):
        raise InvalidInput("nonces", "out of range")
    if nonces.powers is not None and set(nonces.powers) != set(range(branches)):
        raise InvalidInput("nonces.powers", "one n-th power per branch")


def prove_with_nonces(
    key: PublicKey,
    ciphertext: int,
    randomness: int,
    allowed: Sequence[int],
    index: int,
    context: Mapping[str, Any],
    nonces: ProverNonces,
) -> MembershipProof:
    """The prover with its random choices given (known-answer vectors); see prove_membership."""
    allowed = _check_statement_values(key, ciphertext, allowed, "statement")
    if not is_unit(randomness, key.n):
        raise InvalidInput("randomness", "not a unit mod n")
    _check_nonces(key, nonces, len(allowed), index)
    return _finish_proof(key, ciphertext, randomness, allowed, index, context, nonces)


def prove_membership(
    key: PublicKey,
    ciphertext: int,
    randomness: int,
    allowed: Sequence[int],
    index: int,
    context: Mapping[str, Any],
) -> MembershipProof:
    """Prove that `ciphertext` = Enc(allowed[index]; randomness) holds one of `allowed`.

    The caller must pass the ciphertext's true randomness; otherwise the proof will not verify.
    """
    if not isinstance(index, int) or not 0 <= index < len(allowed):
        raise InvalidInput("index", f"{index!r} is not in [0, {len(allowed)})")
    nonces = draw_nonces(key.n, len(allowed), index)
    return prove_with_nonces(key, ciphertext, randomness, allowed, index, context, nonces)


# --------------------------------------------------------------------------------------------
# Individual verification


def verify_membership(
    key: PublicKey,
    ciphertext: int,
    allowed: Sequence[int],
    proof: MembershipProof,
    context: Mapping[str, Any],
) -> None:
    """Raise InvalidInput (malformed values) or ProofInvalid unless the proof verifies."""
    allowed = _check_statement_values(key, ciphertext, allowed, "statement")
    if not _unit_mod_n(ciphertext, key.n):
        raise InvalidInput("statement.ciphertext", "not a unit")
    check_proof(key, proof, len(allowed), "proof")
    _check_challenge_sum(key, ciphertext, allowed, proof, context)
    n, n2 = mpz(key.n), mpz(key.n_squared)
    c = mpz(ciphertext)
    for j, (a, e, z) in enumerate(
        zip(proof.commitments, proof.challenges, proof.responses, strict=True)
    ):
        u = c * paillier.g_power(key, -allowed[j]) % n2
        left = powmod(z, n, n2)
        right = a * powmod(u, e, n2) % n2
        if left * left % n2 != right * right % n2:
            raise ProofInvalid("membership proof", f"branch {j} does not verify")


def _check_challenge_sum(
    key: PublicKey,
    ciphertext: int,
    allowed: Sequence[int],
    proof: MembershipProof,
    context: Mapping[str, Any],
    ciphertext_hex: str | None = None,
) -> None:
    e = membership_challenge(
        key,
        ciphertext,
        allowed,
        proof.commitments,
        context,
        ciphertext_hex=ciphertext_hex,
        commitments_hex=proof._commitments_hex,
    )
    if sum(proof.challenges) % CHALLENGE_MODULUS != e:
        raise ProofInvalid("membership proof", "challenges do not add up to the hash challenge")


# --------------------------------------------------------------------------------------------
# Batch verification


@dataclass(frozen=True)
class MembershipStatement:
    """One proof to check: `proof` shows that `ciphertext` holds one of `allowed`."""

    key: PublicKey
    ciphertext: int
    allowed: tuple[int, ...]
    proof: MembershipProof
    context: Mapping[str, Any]
    # The ciphertext's hex text as parsed, set by contest_statements (init=False: never copied
    # by dataclasses.replace, so it always belongs to `ciphertext`).
    _ciphertext_hex: str | None = field(default=None, init=False, compare=False, repr=False)


def batch_verify(statements: Sequence[MembershipStatement]) -> list[int]:
    """Indices of the statements whose proofs fail; [] when all verify.

    Each statement's values are range-checked and its challenge sum checked on its own (cheap),
    its ciphertext's unit test made with one gcd per group. The branch equations of all
    statements under one key are then checked together with random nonzero 64-bit weights w_ij
    (Bellare-Garay-Rabin small-exponent test), both sides squared, and the commitments' and
    responses' unit tests with one gcd of the two products below (nonzero weights pass a
    non-unit's prime factor on to them):
        (prod z_ij^w_ij)^(2n) == (prod a_ij^w_ij * prod c_i^(sum_j e_ij w_ij)
                                  * g^(-sum_ij m_ij e_ij w_ij))^2      mod n^2.
    A valid set always passes; a set with a bad statement passes with probability about 2^-64
    (the squares of Z*_{n^2} have no element of order below min(p', q') for safe primes).
    When a set fails it is halved until every bad statement is named, so the answer is the one
    individual verification gives.
    """
    bad: set[int] = set()
    groups: dict[int, list[tuple[int, _Prepared]]] = {}
    for index, statement in enumerate(statements):
        try:
            prepared = _prepare(statement)
        except (InvalidInput, ProofInvalid):
            bad.add(index)
            continue
        groups.setdefault(int(statement.key.n), []).append((index, prepared))
    for n, members in groups.items():
        # bounded chunks keep memory flat; each costs one more n-bit exponentiation, which is
        # small next to a chunk's multi-exponentiations
        for start in range(0, len(members), BATCH_CHUNK):
            chunk = _drop_non_units(n, members[start : start + BATCH_CHUNK], bad)
            bad.update(_find_bad(mpz(n), chunk, known_bad=False))
    return sorted(bad)


@dataclass(frozen=True)
class _Prepared:
    ciphertext: mpz
    allowed: tuple[int, ...]
    commitments: tuple[int, ...]
    challenges: tuple[int, ...]
    responses: tuple[int, ...]


def _prepare(statement: MembershipStatement) -> _Prepared:
    if not isinstance(statement, MembershipStatement):
        raise InvalidInput("statement", "not a MembershipStatement")
    key = statement.key
    allowed = _check_statement_values(key, statement.ciphertext, statement.allowed, "statement")
    proof = statement.proof
    parsed = isinstance(proof, MembershipProof) and proof._ranges_checked_for == key.n
    if not parsed or any(len(getattr(proof, name)) != len(allowed) for name in _PROOF_FIELDS):
        _check_ranges(key, proof, len(allowed), "proof")  # from_dict checked them otherwise
    _check_challenge_sum(
        key, statement.ciphertext, allowed, proof, statement.context, statement._ciphertext_hex
    )
    return _Prepared(
        mpz(statement.ciphertext), allowed, proof.commitments, proof.challenges, proof.responses
    )


def _drop_non_units(
    n: int, members: list[tuple[int, _Prepared]], bad: set[int]
) -> list[tuple[int, _Prepared]]:
    """The statements whose ciphertext is a unit (the others go to `bad`): a product is a unit
    mod n exactly when every factor is, so one gcd decides for the whole group. (Commitments
    and responses are tested by the batch equation itself: _batch_holds.)"""
    modulus = mpz(n)
    product = mpz(1)
    for _, p in members:
        product = product * p.ciphertext % modulus
    if gmpy2.gcd(product, modulus) == 1:
        return members
    kept = []
    for index, p in members:
        if _unit_mod_n(p.ciphertext, modulus):
            kept.append((index, p))
        else:
            bad.add(index)
    return kept


def _find_bad(n: mpz, members: list[tuple[int, _Prepared]], known_bad: bool) -> list[int]:
    """Indices of the bad statements among members; known_bad: the set is known to fail."""
    if not members:
        return []
    if not known_bad and _batch_holds(n, [p for _, p in members]):
        return []
    if len(members) == 1:
        return [members[0][0]]
    middle = len(members) // 2
    left = _find_bad(n, members[:middle], known_bad=False)
    # when the left half is clean, the right half holds the failure: no need to test it whole
    right = _find_bad(n, members[middle:], known_bad=not left)
    return left + right


def _weights(count: int) -> list[int]:
    """`count` independent weights from `secrets`, uniform in [1, 2^WEIGHT_BITS): never 0, so
    that every base enters its multi-exponentiation (_batch_holds' unit test relies on it)."""
    size = WEIGHT_BITS // 8
    data = secrets.token_bytes(size * count)
    weights = [int.from_bytes(data[i : i + size], "little") for i in range(0, len(data), size)]
    for position, weight in enumerate(weights):
        while weight == 0:  # probability 2^-64 per weight
            weight = int.from_bytes(secrets.token_bytes(size), "little")
        weights[position] = weight
    return weights


def _batch_holds(n: mpz, statements: Sequence[_Prepared]) -> bool:
    """The squared small-exponent test over all branches of the statements (one key)."""
    n2 = n * n
    z_bases: list[int] = []
    a_bases: list[int] = []
    c_bases: list[int] = []
    c_exponents: list[int] = []
    g_exponent = 0
    weights = _weights(sum(len(p.commitments) for p in statements))
    position = 0
    for p in statements:
        count = len(p.commitments)
        mine = weights[position : position + count]
        position += count
        z_bases.extend(p.responses)
        a_bases.extend(p.commitments)
        ciphertext_exponent = 0
        for m, e, w in zip(p.allowed, p.challenges, mine, strict=True):
            ew = e * w
            ciphertext_exponent += ew
            g_exponent += m * ew
        # prod_j u_ij^(e_ij w_ij) = c_i^(sum_j e_ij w_ij) * g^(-sum_j m_j e_ij w_ij)
        c_bases.append(p.ciphertext)
        c_exponents.append(ciphertext_exponent)
    # x^n mod n^2 depends only on x mod n: the responses' product can be taken mod n (cheaper)
    responses = multiexp_buckets(z_bases, weights, n)
    commitments = multiexp_buckets(a_bases, weights, n2)
    # Every weight is at least 1, so a commitment or response sharing a prime factor with n
    # passes it on to these products, and their product is a unit exactly when every
    # commitment and response is: check 2's unit tests, with one gcd for the whole batch.
    if gmpy2.gcd(responses * commitments % n, n) != 1:
        return False
    left = powmod(responses, n, n2)
    right = (
        commitments
        * multiexp_buckets(c_bases, c_exponents, n2)
        % n2
        * (1 + (-g_exponent % n) * n)
        % n2
    )
    return left * left % n2 == right * right % n2


def batch_verify_parallel(
    statements: Sequence[MembershipStatement], workers: int | None = None, chunk: int = 0
) -> list[int]:
    """batch_verify spread over a process pool; same answer, indices into `statements`.

    Chunks (by default one per worker, at most BATCH_CHUNK statements) go to worker processes;
    the tallier and the verifier use this for whole ballot boxes. workers=None uses every core.
    """
    workers = workers or os.cpu_count() or 1
    if workers <= 1 or len(statements) < 2:
        return batch_verify(statements)
    size = chunk or min(-(-len(statements) // workers), BATCH_CHUNK)
    starts = range(0, len(statements), size)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(batch_verify, [list(statements[s : s + size]) for s in starts])
        return [start + i for start, bad in zip(starts, results, strict=True) for i in bad]


# --------------------------------------------------------------------------------------------
# Contests: the one home of "encrypt a 1-of-L contest" and "the statements that check it"


@dataclass(frozen=True)
class EncryptedContest:
    """One ciphertext and proof per part; with several parts, a proof that their product holds
    exactly one vote (one of B^0..B^(per-1)). A choose-several contest: one ciphertext and
    0/1 proof per candidate (and blank), and the count proof as `sum_proof`."""

    ciphertexts: tuple[int, ...]
    proofs: tuple[MembershipProof, ...]
    sum_proof: MembershipProof | None
    # Set only by from_dict (init=False, so never copied by dataclasses.replace): the modulus
    # whose ciphertext checks the ciphertexts passed there, and their hex text as parsed.
    _checked_for: int = field(default=0, init=False, compare=False, repr=False)
    _ciphertexts_hex: tuple[str, ...] | None = field(
        default=None, init=False, compare=False, repr=False
    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ciphertexts": [hex_int(c) for c in self.ciphertexts],
            "proofs": [proof.to_dict() for proof in self.proofs],
            "sum_proof": None if self.sum_proof is None else self.sum_proof.to_dict(),
        }

    @classmethod
    def from_dict(
        cls, d: Any, key: PublicKey, enc: ContestEncoding, field: str
    ) -> EncryptedContest:
        """Parse and validate a contest from outside: sizes, ranges and the ciphertexts' units;
        not the proofs (whose check includes their commitments' and responses' units)."""
        check_fits(enc, key.bits)
        try:
            contest = _parse_contest_fast(d, key, enc, field)
        except InvalidInput:
            contest = None
        if contest is None:
            # something is wrong: the checks one by one, in order, name the first problem
            contest = _parse_contest_exactly(d, key, enc, field)
        object.__setattr__(contest, "_checked_for", int(key.n))
        object.__setattr__(contest, "_ciphertexts_hex", tuple(d["ciphertexts"]))
        return contest


def _parse_contest_fast(
    d: Any, key: PublicKey, enc: ContestEncoding, field: str
) -> EncryptedContest | None:
    """The contest when every check passes, with one gcd for its ciphertexts' unit tests; None
    (or InvalidInput) when some check fails, for _parse_contest_exactly to name it."""
    if not isinstance(d, Mapping) or set(d) - {"ciphertexts", "proofs", "sum_proof"}:
        return None
    ciphertexts = _hex_list(d, "ciphertexts", enc.ciphertexts, field)
    n2 = key.n_squared
    if not all(0 < c < n2 for c in ciphertexts):
        return None
    raw_proofs = d.get("proofs")
    if (
        not isinstance(raw_proofs, list)
        or len(raw_proofs) != enc.ciphertexts
        or "sum_proof" not in d
    ):
        return None
    shapes = [
        (raw, len(allowed_plaintexts(enc, part)), f"{field}.proofs[{part}]")
        for part, raw in enumerate(raw_proofs)
    ]
    raw_sum = d["sum_proof"]
    sum_allowed = sum_statement_allowed(enc)
    if (raw_sum is None) != (sum_allowed is None):
        return None
    if raw_sum is not None and sum_allowed is not None:
        shapes.append((raw_sum, len(sum_allowed), f"{field}.sum_proof"))
    proofs = []
    for raw, branches, where in shapes:
        proof = _parse_proof(raw, key, branches, where)
        _check_ranges(key, proof, branches, where)
        proofs.append(proof)
    n = mpz(key.n)
    product = mpz(1)
    for value in ciphertexts:
        product = product * value % n
    if gmpy2.gcd(product, n) != 1:
        return None
    for proof in proofs:
        object.__setattr__(proof, "_ranges_checked_for", int(key.n))
    sum_proof = proofs.pop() if raw_sum is not None else None
    return EncryptedContest(ciphertexts, tuple(proofs), sum_proof)


def _parse_contest_exactly(
    d: Any, key: PublicKey, enc: ContestEncoding, field: str
) -> EncryptedContest:
    """Every check in the order of the format: the first problem found is the one raised."""
    if not isinstance(d, Mapping):
        raise InvalidInput(field, "expected an object")
    extra = set(d) - {"ciphertexts", "proofs", "sum_proof"}
    if extra:
        raise InvalidInput(field, f"unexpected fields {sorted(extra)}")
    ciphertexts = _hex_list(d, "ciphertexts", enc.ciphertexts, field)
    for i, c in enumerate(ciphertexts):
        paillier.check_ciphertext(key, c, f"{field}.ciphertexts[{i}]")
    proofs = d.get("proofs")
    if not isinstance(proofs, list) or len(proofs) != enc.ciphertexts:
        raise InvalidInput(f"{field}.proofs", f"expected a list of {enc.ciphertexts} proofs")
    parsed = tuple(
        MembershipProof.from_dict(
            proof, key, len(allowed_plaintexts(enc, part)), f"{field}.proofs[{part}]"
        )
        for part, proof in enumerate(proofs)
    )
    if "sum_proof" not in d:
        raise InvalidInput(
            f"{field}.sum_proof", "missing (null when a 1-of-L contest has one part)"
        )
    raw_sum = d["sum_proof"]
    sum_allowed = sum_statement_allowed(enc)
    if sum_allowed is None:
        if raw_sum is not None:
            raise InvalidInput(f"{field}.sum_proof", "must be null: the contest has one part")
        sum_proof = None
    else:
        sum_proof = MembershipProof.from_dict(
            raw_sum, key, len(sum_allowed), f"{field}.sum_proof"
        )
    return EncryptedContest(ciphertexts, parsed, sum_proof)


def sum_statement_allowed(enc: ContestEncoding) -> tuple[int, ...] | None:
    """The values of the contest's sum statement: the one vote across parts, or the count of
    a choose-several contest's marks; None for a 1-of-L contest of one part (no statement)."""
    if enc.marks:
        return count_plaintexts(enc)
    return sum_allowed_plaintexts(enc) if enc.parts > 1 else None


def _sum_ciphertext(key: PublicKey, enc: ContestEncoding, ciphertexts: Sequence[int]) -> int:
    """The ciphertext of the contest's sum statement: the product of the ciphertexts, each to
    its weight (_sum_weights: 1, and W for a choose-several contest's blank ciphertext)."""
    n2 = mpz(key.n_squared)
    product = mpz(1)
    for c, weight in zip(ciphertexts, _sum_weights(enc), strict=True):
        product = product * (c if weight == 1 else powmod(c, weight, n2)) % n2
    return int(product)


def _sum_context(
    context: Mapping[str, Any], enc: ContestEncoding, ciphertexts_hex: Sequence[str]
) -> dict[str, Any]:
    """The proof context of the sum statement. A choose-several contest's count context also
    names every ciphertext of the contest, in order (its statement has only their product)."""
    if not enc.marks:
        return part_context(context, "sum")
    return {"contest": dict(context), "count": list(ciphertexts_hex)}


def _item_context(context: Mapping[str, Any], enc: ContestEncoding, index: int) -> dict[str, Any]:
    """The proof context of ciphertext `index`: a part, or a choose-several contest's mark."""
    return {"contest": dict(context), "mark": index} if enc.marks else part_context(context, index)


def part_context(context: Mapping[str, Any], part: int | str) -> dict[str, Any]:
    """The proof context of one part (an index) or of the sum of the parts ("sum")."""
    return {"contest": dict(context), "part": part}


def encrypt_contest(
    key: PublicKey,
    enc: ContestEncoding,
    choice: int | Collection[int],
    context: Mapping[str, Any],
    randomness: Sequence[int] | None = None,
) -> tuple[EncryptedContest, tuple[int, ...]]:
    """Encrypt a choice with proofs; returns (contest, the randomness of each ciphertext).

    `choice` is a candidate index for a 1-of-L contest, a collection of marked candidate
    indices for a choose-several one. `randomness`, when given, is the encryption randomness
    of each ciphertext (units mod n; the voter app derives it from a seed,
    formats.ballot.ballot_randomness); otherwise it is drawn from `secrets`. Either way the
    proofs' nonces are fresh draws from `secrets`. The randomness lets the voter check the
    stored ballot later; it is secret otherwise.
    """
    check_fits(enc, key.bits)
    plaintexts = (
        encode_marks(enc, choice) if isinstance(choice, Collection) else encode_choice(enc, choice)
    )
    n, n2 = key.n, key.n_squared
    if randomness is None:
        # r and r^n from the residue source: Enc(m; r) = g^m r^n without another exponentiation
        drawn = [nth_residues(int(n)).draw() for _ in plaintexts]
    else:
        given = tuple(randomness)
        if len(given) != len(plaintexts):
            raise InvalidInput(
                "randomness", f"expected {len(plaintexts)} values, one per ciphertext"
            )
        for i, r in enumerate(given):
            if not isinstance(r, int | gmpy2.mpz) or isinstance(r, bool) or not is_unit(r, n):
                raise InvalidInput(f"randomness[{i}]", "not a unit mod n")
        drawn = [(int(r), int(powmod(r, n, n2))) for r in given]
    randomness = tuple(r for r, _ in drawn)
    ciphertexts = tuple(
        int(paillier.g_power(key, m) * r_n % n2)
        for m, (_, r_n) in zip(plaintexts, drawn, strict=True)
    )
    proofs = []
    for part, (c, r, m) in enumerate(zip(ciphertexts, randomness, plaintexts, strict=True)):
        allowed = allowed_plaintexts(enc, part)
        proofs.append(
            prove_membership(
                key, c, r, allowed, allowed.index(m), _item_context(context, enc, part)
            )
        )
    sum_proof = None
    sum_allowed = sum_statement_allowed(enc)
    if sum_allowed is not None:
        # the sum ciphertext is a product of powers of the ciphertexts: its randomness is the
        # same product of powers of their randomness, and its plaintext the same weighted sum
        weights = _sum_weights(enc)
        total_randomness = 1
        total = 0
        for r, m, w in zip(randomness, plaintexts, weights, strict=True):
            total_randomness = total_randomness * pow(r, w, n) % n
            total += w * m
        sum_proof = prove_membership(
            key,
            _sum_ciphertext(key, enc, ciphertexts),
            total_randomness,
            sum_allowed,
            sum_allowed.index(total),
            _sum_context(context, enc, [hex_int(c) for c in ciphertexts]),
        )
    return EncryptedContest(ciphertexts, tuple(proofs), sum_proof), randomness


def _sum_weights(enc: ContestEncoding) -> tuple[int, ...]:
    """Each ciphertext's exponent in the sum ciphertext (_sum_ciphertext)."""
    if not enc.marks:
        return (1,) * enc.parts
    return (1,) * enc.candidates + ((enc.blank_weight,) if enc.blank_allowed else ())


def contest_statements(
    key: PublicKey, enc: ContestEncoding, contest: EncryptedContest, context: Mapping[str, Any]
) -> list[MembershipStatement]:
    """The statements whose proofs together show that `contest` holds a valid choice: exactly
    one vote, or a number of 0/1 marks within the contest's bounds.

    Raises InvalidInput when the contest's shape does not match the encoding or a ciphertext is
    not a unit; the proofs themselves are checked by verify_membership or batch_verify.
    """
    check_fits(enc, key.bits)
    count = enc.ciphertexts
    if len(contest.ciphertexts) != count or len(contest.proofs) != count:
        raise InvalidInput("contest", f"expected {count} ciphertexts and proofs")
    if contest._checked_for != key.n:  # from_dict checked them against this key already
        for i, c in enumerate(contest.ciphertexts):
            paillier.check_ciphertext(key, c, f"contest.ciphertexts[{i}]")
    statements = [
        MembershipStatement(
            key, c, allowed_plaintexts(enc, part), proof, _item_context(context, enc, part)
        )
        for part, (c, proof) in enumerate(zip(contest.ciphertexts, contest.proofs, strict=True))
    ]
    if contest._ciphertexts_hex is not None:
        for statement, text in zip(statements, contest._ciphertexts_hex, strict=True):
            object.__setattr__(statement, "_ciphertext_hex", text)
    sum_allowed = sum_statement_allowed(enc)
    if sum_allowed is not None:
        if contest.sum_proof is None:
            raise InvalidInput("contest.sum_proof", "missing: the contest has a sum statement")
        texts = contest._ciphertexts_hex or [hex_int(c) for c in contest.ciphertexts]
        statements.append(
            MembershipStatement(
                key,
                _sum_ciphertext(key, enc, contest.ciphertexts),
                sum_allowed,
                contest.sum_proof,
                _sum_context(context, enc, texts),
            )
        )
    elif contest.sum_proof is not None:
        raise InvalidInput("contest.sum_proof", "must be absent: the contest has one part")
    return statements


def contest_totals(
    key: PublicKey, enc: ContestEncoding, products: Sequence[int]
) -> tuple[int, ...]:
    """The ciphertexts to decrypt for a contest, from the products over the counted ballots
    of each of its ciphertexts (`enc.ciphertexts` of them): the parts themselves for a 1-of-L
    contest; for a choose-several contest, each part packs its digits' products T_d as
    prod T_d^(B^i) (Horner: i multiplications by B cost b squarings each), so the totals
    decrypt to one count per digit like a 1-of-L contest's."""
    check_fits(enc, key.bits)
    if len(products) != enc.ciphertexts:
        raise InvalidInput("products", f"{len(products)} products for {enc.ciphertexts}")
    if not enc.marks:
        return tuple(int(p) for p in products)
    n2 = mpz(key.n_squared)
    totals = []
    for part in range(enc.parts):
        first = part * enc.per_ciphertext
        digits = products[first : first + enc.digits_in(part)]
        total = mpz(1)
        for product in reversed(digits):
            total = powmod(total, enc.base, n2) * product % n2
        totals.append(int(total))
    return tuple(totals)
