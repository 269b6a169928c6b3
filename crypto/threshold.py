"""Threshold Paillier with a trusted dealer (Shoup 2000; Damgard-Jurik 2001 with s = 1).

- p = 2p' + 1, q = 2q' + 1 safe primes of equal size, n = pq, m = p'q', Delta = N!.
- d = 0 mod m and d = 1 mod n; f(X) = d + a_1 X + ... + a_{t-1} X^{t-1} over Z_{nm};
  trustee i holds s_i = f(i).
- v a random square generating the squares of Z*_{n^2}; verification keys v_i = v^(Delta s_i).
- Decryption share c_i = c^(2 Delta s_i) mod n^2 with a Fiat-Shamir proof that
  log_{c^4}(c_i^2) = log_v(v_i), responses over the integers.
- Any t valid shares: c' = prod c_i^(2 mu_i), mu_i = Delta lambda_{0,i}^S, and
  m = L(c') (4 Delta^2)^-1 mod n.

Formats and every check are in docs/spec.md, "Threshold key and decryption shares".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import gmpy2

from canonical.encoding import (
    DOMAINS,
    FORMAT_VERSION,
    FormatError,
    check_version,
    domain_hash,
    hex_int,
    parse_hex_int,
    require,
)
from crypto import paillier
from crypto.errors import DecryptionError, InvalidInput, ProofInvalid
from crypto.primitives.modular import (
    invert,
    is_unit,
    lagrange_at_zero_times,
    mpz,
    powmod,
    powmod_secret,
    random_below,
    random_bits,
    random_unit,
)
from crypto.primitives.safeprimes import generate_safe_prime, is_safe_prime

# Fiat-Shamir challenges are the full SHA-256 output read as a big-endian integer.
CHALLENGE_BITS = 256
# Statistical hiding of Delta * s_i in the response z = r + e Delta s_i.
SLACK_BITS = 128
# Sanity bounds on keys from outside (a verifier should not be made to compute 100! or
# exponentiate modulo a million-bit number).
MAX_TRUSTEES = 255
MAX_KEY_BITS = 16384
KEY_SHARE_TYPE = "ivote-threshold-key-share"


def _unit_square_candidate(x: int, n: int, n2: int, field_name: str) -> None:
    """v and v_i are squares in Z*_{n^2}: units in [1, n^2) with Jacobi symbol 1 mod n, and
    never 1 or -1 (which would make every proof about them vacuous)."""
    if not is_unit(x, n2):
        raise InvalidInput(field_name, "not a unit in [1, n^2)")
    if gmpy2.jacobi(x % n, n) != 1:
        raise InvalidInput(field_name, "not a square (Jacobi symbol mod n is not 1)")
    if x in (1, n2 - 1):
        raise InvalidInput(field_name, "has order at most 2")


@dataclass(frozen=True)
class ThresholdKey:
    """The public threshold key (goes into the manifest): n, N, t, v and v_1..v_N."""

    n: int
    trustees: int
    threshold: int
    v: int
    verification_keys: tuple[int, ...]

    @cached_property
    def public_key(self) -> paillier.PublicKey:
        return paillier.PublicKey(self.n)

    @cached_property
    def n_squared(self) -> int:
        return self.n * self.n

    @cached_property
    def delta(self) -> int:
        """Delta = N!: clears the denominators of every Lagrange coefficient at 0."""
        return math.factorial(self.trustees)

    @property
    def bits(self) -> int:
        return self.n.bit_length()

    @cached_property
    def response_bits(self) -> int:
        """Bit length of the prover's randomness r: |n^2| + |Delta| + challenge + slack.

        n^2 stands in for nm (the order of v), which verifiers do not know; it is larger."""
        return self.n_squared.bit_length() + self.delta.bit_length() + CHALLENGE_BITS + SLACK_BITS

    def verification_key(self, index: int) -> int:
        return self.verification_keys[index - 1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": hex_int(self.n),
            "trustees": self.trustees,
            "threshold": self.threshold,
            "v": hex_int(self.v),
            "verification_keys": [hex_int(vk) for vk in self.verification_keys],
        }

    @classmethod
    def from_dict(
        cls, d: Any, field: str = "key", expected_bits: int | None = None
    ) -> ThresholdKey:
        """Parse and validate a key from outside; every error names the field at fault."""
        n = parse_hex_int(require(d, "n", str, field), f"{field}.n")
        trustees = require(d, "trustees", int, field)
        threshold = require(d, "threshold", int, field)
        v = parse_hex_int(require(d, "v", str, field), f"{field}.v")
        raw_vks = require(d, "verification_keys", list, field)
        vks = tuple(
            parse_hex_int(vk, f"{field}.verification_keys[{i}]") for i, vk in enumerate(raw_vks)
        )
        extra = set(d) - {"n", "trustees", "threshold", "v", "verification_keys"}
        if extra:
            raise FormatError(f"{field}.{sorted(extra)[0]}", "unknown field")
        key = cls(n, trustees, threshold, v, vks)
        key.check(field, expected_bits)
        return key

    def check(self, field: str = "key", expected_bits: int | None = None) -> None:
        """Validate every value of the key (sizes, ranges, units)."""
        if self.n.bit_length() > MAX_KEY_BITS:
            raise InvalidInput(f"{field}.n", f"more than {MAX_KEY_BITS} bits")
        paillier.PublicKey(self.n).check(expected_bits, f"{field}.n")
        if not 1 <= self.trustees <= MAX_TRUSTEES:
            raise InvalidInput(f"{field}.trustees", f"must be in 1..{MAX_TRUSTEES}")
        if not 1 <= self.threshold <= self.trustees:
            raise InvalidInput(f"{field}.threshold", f"must be in 1..{self.trustees} (trustees)")
        n, n2 = self.n, self.n_squared
        _unit_square_candidate(self.v, n, n2, f"{field}.v")
        if len(self.verification_keys) != self.trustees:
            raise InvalidInput(
                f"{field}.verification_keys",
                f"{len(self.verification_keys)} keys for {self.trustees} trustees",
            )
        for i, vk in enumerate(self.verification_keys):
            _unit_square_candidate(vk, n, n2, f"{field}.verification_keys[{i}]")


@dataclass(frozen=True, repr=False)
class KeyShare:
    """One trustee's SECRET share s_i = f(i). Only ever written sealed (crypto.sealing)."""

    key: ThresholdKey
    index: int
    secret: int

    def __repr__(self) -> str:  # never print the secret
        return f"KeyShare(index={self.index}, n_bits={self.key.bits}, secret=<hidden>)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "type": KEY_SHARE_TYPE,
            "key": self.key.to_dict(),
            "index": self.index,
            "secret": hex_int(self.secret),
        }

    @classmethod
    def from_dict(
        cls, d: Any, field: str = "key_share", expected_bits: int | None = None
    ) -> KeyShare:
        """Parse a share file's contents; checks that the secret matches its verification key."""
        check_version(d, field)
        if require(d, "type", str, field) != KEY_SHARE_TYPE:
            raise FormatError(f"{field}.type", f"expected {KEY_SHARE_TYPE!r}")
        key = ThresholdKey.from_dict(require(d, "key", dict, field), f"{field}.key", expected_bits)
        index = require(d, "index", int, field)
        if not 1 <= index <= key.trustees:
            raise InvalidInput(f"{field}.index", f"must be in 1..{key.trustees}")
        secret = parse_hex_int(require(d, "secret", str, field), f"{field}.secret")
        if not 0 < secret < key.n_squared:
            raise InvalidInput(f"{field}.secret", "out of range (0, n^2)")
        if powmod_secret(key.v, key.delta * secret, key.n_squared) != key.verification_key(index):
            raise InvalidInput(
                f"{field}.secret", f"does not match the verification key of trustee {index}"
            )
        return cls(key, index, secret)


def _check_trustee_counts(trustees: int, threshold: int) -> None:
    if not isinstance(trustees, int) or not 1 <= trustees <= MAX_TRUSTEES:
        raise InvalidInput("trustees", f"must be in 1..{MAX_TRUSTEES}")
    if not isinstance(threshold, int) or not 1 <= threshold <= trustees:
        raise InvalidInput("threshold", f"must be in 1..{trustees} (the number of trustees)")


def _random_generator_of_squares(n: int, p1: int, q1: int) -> int:
    """A random square v in Z*_{n^2} generating the squares (cyclic of order n p' q'): its
    order is not cut down by any of the prime factors p, q, p', q' of n p' q'."""
    n2 = n * n
    while True:
        v = int(powmod(random_unit(n2), 2, n2))
        if _generates_squares(v, n, p1, q1):
            return v


def _generates_squares(v: int, n: int, p1: int, q1: int) -> bool:
    """A square v generates the squares when no prime factor of their order n p' q' cuts
    its order down."""
    order = n * p1 * q1
    primes = (2 * p1 + 1, 2 * q1 + 1, p1, q1)
    return all(powmod(v, order // prime, n * n) != 1 for prime in primes)


def deal(p: int, q: int, trustees: int, threshold: int) -> tuple[ThresholdKey, list[KeyShare]]:
    """The trusted dealer: from two distinct safe primes of equal size, the public key and the
    N secret shares. p, q, d and the polynomial live only in this call's memory."""
    p1, q1 = _check_dealing(p, q, trustees, threshold)
    nm = p * q * p1 * q1
    coefficients = [random_below(nm) for _ in range(threshold - 1)]
    v = _random_generator_of_squares(p * q, p1, q1)
    return _deal(p, q, trustees, threshold, coefficients, v)


def deal_with(
    p: int, q: int, trustees: int, threshold: int, coefficients: Sequence[int], v_root: int
) -> tuple[ThresholdKey, list[KeyShare]]:
    """deal() with its random choices given, for known-answer vectors only: the polynomial's
    coefficients a_1..a_{t-1} (each in [0, nm)) and a unit r mod n^2 whose square v = r^2 must
    generate the squares (InvalidInput on `v_root` otherwise: the caller picks another r)."""
    p1, q1 = _check_dealing(p, q, trustees, threshold)
    n = p * q
    nm, n2 = n * p1 * q1, n * n
    if len(coefficients) != threshold - 1 or not all(0 <= a < nm for a in coefficients):
        raise InvalidInput("coefficients", f"expected {threshold - 1} integers in [0, nm)")
    if not is_unit(v_root, n2):
        raise InvalidInput("v_root", "not a unit in [1, n^2)")
    v = int(powmod(v_root, 2, n2))
    if not _generates_squares(v, n, p1, q1):
        raise InvalidInput("v_root", "its square does not generate the squares")
    return _deal(p, q, trustees, threshold, coefficients, v)


def _check_dealing(p: int, q: int, trustees: int, threshold: int) -> tuple[int, int]:
    """(p', q') of two valid primes for this many trustees."""
    _check_trustee_counts(trustees, threshold)
    for name, prime in (("p", p), ("q", q)):
        if not is_safe_prime(prime):
            raise InvalidInput(name, "not a safe prime")
    if p == q:
        raise InvalidInput("q", "equal to p")
    if p.bit_length() != q.bit_length():
        raise InvalidInput("q", "not the same size as p")
    p1, q1 = (p - 1) // 2, (q - 1) // 2
    if trustees >= min(p1, q1):  # Delta must be invertible mod m and mod n
        raise InvalidInput("trustees", "too many for primes this small")
    return p1, q1


def _deal(
    p: int, q: int, trustees: int, threshold: int, coefficients: Sequence[int], v: int
) -> tuple[ThresholdKey, list[KeyShare]]:
    """The shares of f(X) = d + a_1 X + ... (the given a_k) and the key with generator v."""
    p1, q1 = (p - 1) // 2, (q - 1) // 2
    n = p * q
    m = p1 * q1
    nm = n * m
    d = m * int(invert(m, n))  # d = 0 mod m, d = 1 mod n
    polynomial = [d, *coefficients]

    def f(x: int) -> int:
        value = 0
        for a in reversed(polynomial):
            value = (value * x + a) % nm
        return value

    secrets_ = [f(i) for i in range(1, trustees + 1)]
    n2 = n * n
    delta = math.factorial(trustees)
    vks = tuple(int(_secret_power(v, delta * s, n2)) for s in secrets_)
    key = ThresholdKey(n=n, trustees=trustees, threshold=threshold, v=v, verification_keys=vks)
    key.check()
    return key, [KeyShare(key, i, s) for i, s in enumerate(secrets_, start=1)]


def generate(
    key_bits: int,
    trustees: int,
    threshold: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[ThresholdKey, list[KeyShare]]:
    """A fresh threshold key with an n of exactly `key_bits` bits (two safe primes of half
    that size). `progress(candidates_tested)` is passed on to the prime search, counting
    across both primes."""
    p, q = generate_primes(key_bits, trustees, threshold, progress)
    return deal(p, q, trustees, threshold)


def generate_primes(
    key_bits: int,
    trustees: int,
    threshold: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """generate()'s two distinct safe primes, for a dealer that also proves things about
    them (the key ceremony's modulus proof) before calling deal()."""
    if not isinstance(key_bits, int) or key_bits < 16 or key_bits % 2:
        raise InvalidInput("key_bits", "must be an even number of at least 16")
    _check_trustee_counts(trustees, threshold)
    earlier = 0  # candidates tested for the primes already found
    latest = 0

    def counting(tested: int) -> None:
        nonlocal latest
        latest = tested
        if progress is not None:
            progress(earlier + tested)

    primes: list[int] = []
    while len(primes) < 2:
        prime = generate_safe_prime(key_bits // 2, counting)
        earlier += latest
        if prime not in primes:
            primes.append(prime)
    return primes[0], primes[1]


def _secret_power(base: int, exponent: int, modulus: int) -> mpz:
    """base^exponent for exponents derived from a key share (powmod_sec needs exponent > 0)."""
    if exponent == 0:
        return mpz(1)
    return powmod_secret(base, exponent, modulus)


@dataclass(frozen=True)
class ShareProof:
    """Proof that log_{c^4}(c_i^2) = log_v(v_i): commitments a = (c^4)^r and b = v^r, the
    challenge e (recomputed by the verifier) and the response z = r + e Delta s_i."""

    a: int
    b: int
    challenge: int
    response: int

    def to_dict(self) -> dict[str, str]:
        return {
            "a": hex_int(self.a),
            "b": hex_int(self.b),
            "challenge": hex_int(self.challenge),
            "response": hex_int(self.response),
        }

    @classmethod
    def from_dict(cls, d: Any, key: ThresholdKey, field: str = "proof") -> ShareProof:
        values = {
            name: parse_hex_int(require(d, name, str, field), f"{field}.{name}")
            for name in ("a", "b", "challenge", "response")
        }
        extra = set(d) - set(values)
        if extra:
            raise FormatError(f"{field}.{sorted(extra)[0]}", "unknown field")
        proof = cls(**values)
        proof.check(key, field)
        return proof

    def check(self, key: ThresholdKey, field: str = "proof") -> None:
        for name in ("a", "b"):
            if not is_unit(getattr(self, name), key.n_squared):
                raise InvalidInput(f"{field}.{name}", "not a unit in [1, n^2)")
        if not 0 <= self.challenge < 1 << CHALLENGE_BITS:
            raise InvalidInput(f"{field}.challenge", f"not a {CHALLENGE_BITS}-bit integer")
        if not 0 <= self.response < 1 << (key.response_bits + 1):
            raise InvalidInput(f"{field}.response", "out of range (too large)")


@dataclass(frozen=True)
class DecryptionShare:
    """Trustee `index`'s share c_i = c^(2 Delta s_i) mod n^2 of one ciphertext, with its proof."""

    index: int
    value: int
    proof: ShareProof

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "value": hex_int(self.value), "proof": self.proof.to_dict()}

    @classmethod
    def from_dict(
        cls, d: Any, key: ThresholdKey, field: str = "decryption_share"
    ) -> DecryptionShare:
        index = require(d, "index", int, field)
        value = parse_hex_int(require(d, "value", str, field), f"{field}.value")
        proof = ShareProof.from_dict(require(d, "proof", dict, field), key, f"{field}.proof")
        extra = set(d) - {"index", "value", "proof"}
        if extra:
            raise FormatError(f"{field}.{sorted(extra)[0]}", "unknown field")
        share = cls(index, value, proof)
        share.check(key, field)
        return share

    def check(self, key: ThresholdKey, field: str = "decryption_share") -> None:
        if isinstance(self.index, bool) or not isinstance(self.index, int):
            raise InvalidInput(f"{field}.index", "not an integer")
        if not 1 <= self.index <= key.trustees:
            raise InvalidInput(f"{field}.index", f"must be in 1..{key.trustees}")
        if not is_unit(self.value, key.n_squared):
            raise InvalidInput(f"{field}.value", "not a unit in [1, n^2)")
        self.proof.check(key, f"{field}.proof")


def share_statement(
    key: ThresholdKey,
    ciphertext: int,
    index: int,
    value: int,
    a: int,
    b: int,
    context: Mapping[str, Any],
) -> dict[str, Any]:
    """Everything the share proof's challenge binds (Fiat-Shamir over the whole statement)."""
    return {
        "version": FORMAT_VERSION,
        "n": hex_int(key.n),
        "v": hex_int(key.v),
        "verification_key": hex_int(key.verification_key(index)),
        "index": index,
        "ciphertext": hex_int(ciphertext),
        "share": hex_int(value),
        "a": hex_int(a),
        "b": hex_int(b),
        "context": dict(context),
    }


def share_challenge(
    key: ThresholdKey,
    ciphertext: int,
    index: int,
    value: int,
    a: int,
    b: int,
    context: Mapping[str, Any],
) -> int:
    statement = share_statement(key, ciphertext, index, value, a, b, context)
    digest = domain_hash(DOMAINS["decryption_share_proof"], statement)
    return int.from_bytes(digest, "big")


def decryption_share(
    share: KeyShare, ciphertext: int, context: Mapping[str, Any]
) -> DecryptionShare:
    """Trustee side: c_i = c^(2 Delta s_i) and the proof of equal logarithms."""
    # r hides e * Delta * s_i (< n^2 Delta 2^256) with 128 bits to spare: sized from the
    # modulus, never from the threshold.
    r = random_bits(share.key.response_bits)
    return decryption_share_with_nonce(share, ciphertext, context, r)


def decryption_share_with_nonce(
    share: KeyShare, ciphertext: int, context: Mapping[str, Any], r: int
) -> DecryptionShare:
    """decryption_share() with the prover's r in [0, 2^R) given: for known-answer vectors
    only (a repeated or predictable r reveals the trustee's secret)."""
    key = share.key
    n2 = key.n_squared
    paillier.check_ciphertext(key.public_key, ciphertext, "ciphertext")
    if not 0 <= r < 1 << key.response_bits:
        raise InvalidInput("r", f"not in [0, 2^{key.response_bits})")
    exponent = key.delta * share.secret
    value = int(_secret_power(ciphertext, 2 * exponent, n2))
    c4 = powmod(ciphertext, 4, n2)
    a = int(_secret_power(c4, r, n2))
    b = int(_secret_power(key.v, r, n2))
    e = share_challenge(key, ciphertext, share.index, value, a, b, context)
    z = r + e * exponent
    return DecryptionShare(share.index, value, ShareProof(a, b, e, z))


def verify_decryption_share(
    key: ThresholdKey,
    ciphertext: int,
    share: DecryptionShare,
    context: Mapping[str, Any],
) -> None:
    """Check a share and its proof; raises ProofInvalid naming "trustee <i>"."""
    what = f"trustee {share.index}"
    paillier.check_ciphertext(key.public_key, ciphertext, "ciphertext")
    try:
        share.check(key, "decryption_share")
    except InvalidInput as exc:
        raise ProofInvalid(what, str(exc)) from exc
    proof = share.proof
    expected = share_challenge(key, ciphertext, share.index, share.value, proof.a, proof.b, context)
    if proof.challenge != expected:
        raise ProofInvalid(what, "challenge does not match the statement (Fiat-Shamir)")
    n2 = key.n_squared
    e, z = proof.challenge, proof.response
    c4 = powmod(ciphertext, 4, n2)
    ci2 = powmod(share.value, 2, n2)
    if powmod(c4, z, n2) != proof.a * powmod(ci2, e, n2) % n2:
        raise ProofInvalid(what, "share does not match the proof ((c^4)^z != a (c_i^2)^e)")
    if powmod(key.v, z, n2) != proof.b * powmod(key.verification_key(share.index), e, n2) % n2:
        raise ProofInvalid(what, "share does not match the verification key (v^z != b v_i^e)")


@dataclass(frozen=True)
class Combination:
    """The plaintext, the trustees whose shares were used, and every rejected share's reason."""

    plaintext: int
    used: tuple[int, ...]
    rejected: dict[int, str]


def combine(
    key: ThresholdKey,
    ciphertext: int,
    shares: Sequence[DecryptionShare],
    context: Mapping[str, Any],
) -> Combination:
    """Verify every share, name the bad ones, and decrypt with t valid ones (lowest indices)."""
    paillier.check_ciphertext(key.public_key, ciphertext, "ciphertext")
    by_index: dict[int, list[DecryptionShare]] = {}
    for share in shares:
        by_index.setdefault(share.index, []).append(share)
    valid: dict[int, DecryptionShare] = {}
    rejected: dict[int, str] = {}
    for index, group in sorted(by_index.items()):
        distinct = {(s.value, s.proof) for s in group}
        if len(distinct) > 1:
            rejected[index] = f"trustee {index}: {len(distinct)} different shares"
            continue
        try:
            verify_decryption_share(key, ciphertext, group[0], context)
        except ProofInvalid as exc:
            rejected[index] = str(exc)
            continue
        valid[index] = group[0]
    if len(valid) < key.threshold:
        reasons = "; ".join(rejected[i] for i in rejected) or "none"
        raise DecryptionError(
            f"need {key.threshold} valid decryption shares, have {len(valid)} "
            f"(valid from trustees {sorted(valid) or 'none'}; rejected: {reasons})"
        )
    return _combine_valid(key, valid, rejected)


def combine_verified(
    key: ThresholdKey, ciphertext: int, shares: Sequence[DecryptionShare]
) -> Combination:
    """combine() for shares whose proofs the caller has checked already, each with
    verify_decryption_share against this ciphertext (the observers' verifier checks every
    share once, then combines): t or more shares of distinct trustees, the lowest t used."""
    paillier.check_ciphertext(key.public_key, ciphertext, "ciphertext")
    valid = {share.index: share for share in shares}
    if len(valid) != len(shares):
        raise InvalidInput("shares", "two shares of one trustee")
    if len(valid) < key.threshold:
        raise DecryptionError(
            f"need {key.threshold} valid decryption shares, have {len(valid)} "
            f"(from trustees {sorted(valid) or 'none'})"
        )
    return _combine_valid(key, valid, {})


def _combine_valid(
    key: ThresholdKey, valid: Mapping[int, DecryptionShare], rejected: dict[int, str]
) -> Combination:
    """Lagrange in the exponent over the lowest t indices of `valid` (shares known good)."""
    used = tuple(sorted(valid)[: key.threshold])
    n, n2, delta = key.n, key.n_squared, key.delta
    combined = mpz(1)
    for index in used:
        mu = lagrange_at_zero_times(delta, index, used)
        # a negative exponent makes powmod invert c_i (a unit, checked above)
        combined = combined * powmod(valid[index].value, 2 * mu, n2) % n2
    try:
        l_value = paillier.L(int(combined), n)
    except ArithmeticError as exc:  # only if the key's verification keys are inconsistent
        raise DecryptionError("combined shares are not 1 mod n: inconsistent key") from exc
    plaintext = l_value * int(invert(4 * delta * delta, n)) % n
    return Combination(int(plaintext), used, rejected)
