"""Safe primes p = 2q + 1 (q prime) for the threshold Paillier modulus.

A naive search (next_prime on q, then test 2q + 1) takes from a second to minutes for 1536-bit
primes. Here a sieve over small primes rejects a candidate q as soon as q or 2q + 1 has a small
factor, i.e. q mod r is 0 or (r - 1) / 2, for a whole interval of candidates at once; only the
survivors get a base-2 Fermat test on q, then on p, and finally Miller-Rabin (BPSW) on both.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import gmpy2

from crypto.errors import InvalidInput

# Sieving primes up to 2**17: past that, each prime removes too few candidates to pay for itself.
SIEVE_LIMIT = 1 << 17
# Candidates q per sieved interval (q, q + 2, ...): enough that most intervals hold a safe prime
# at 1536 bits, small enough that sieving one stays cheap.
INTERVAL = 1 << 16
# Rounds of Miller-Rabin on top of the BPSW test gmpy2.is_prime does.
PRIMALITY_REPS = 32
MIN_BITS = 6  # 47 = 2*23 + 1 is the smallest safe prime with the top two bits set


def _odd_primes_below(limit: int) -> list[int]:
    """Odd primes < limit (sieve of Eratosthenes)."""
    flags = bytearray([1]) * limit
    flags[0:2] = b"\x00\x00"
    for i in range(2, int(limit**0.5) + 1):
        if flags[i]:
            flags[i * i :: i] = bytes(len(range(i * i, limit, i)))
    return [i for i in range(3, limit, 2) if flags[i]]


_SIEVE_PRIMES = _odd_primes_below(SIEVE_LIMIT)


def sieve_interval(start: int, count: int, primes: list[int] | None = None) -> bytearray:
    """Flags for the candidates q = start + 2k, k in [0, count): 1 unless q or 2q + 1 has a
    factor among `primes`. `start` must be odd and larger than every sieving prime (so that
    divisibility by r means composite, never q == r or 2q + 1 == r)."""
    primes = _SIEVE_PRIMES if primes is None else primes
    if start % 2 == 0:
        raise ValueError("sieve_interval: start must be odd")
    if primes and start <= primes[-1]:
        raise ValueError("sieve_interval: start must exceed every sieving prime")
    flags = bytearray([1]) * count
    for r in primes:
        residue = start % r
        half = (r + 1) >> 1  # the inverse of 2 mod r
        # q = start + 2k is 0 mod r when k = -start/2, and 2q + 1 is 0 mod r when
        # q = (r - 1)/2, i.e. k = ((r - 1)/2 - start)/2, all mod r.
        for target in (0, (r - 1) >> 1):
            k = (target - residue) * half % r
            if k < count:
                flags[k::r] = bytes(len(range(k, count, r)))
    return flags


def _fermat_base2(x: int) -> bool:
    return gmpy2.powmod(2, x - 1, x) == 1


def is_safe_prime(p: int) -> bool:
    """True when p and (p - 1) / 2 are both prime (probabilistic: BPSW plus Miller-Rabin)."""
    if not isinstance(p, int) or isinstance(p, bool) or p < 5 or p % 2 == 0:
        return False
    q = (p - 1) >> 1
    return bool(gmpy2.is_prime(q, PRIMALITY_REPS) and gmpy2.is_prime(p, PRIMALITY_REPS))


def _survivors(bits: int) -> Iterator[int]:
    """Candidates q that pass the sieve, from fresh random intervals, forever."""
    q_low = 3 << (bits - 3)  # p = 2q + 1 >= 3 * 2^(bits-2): the top two bits of p are set
    q_high = 1 << (bits - 1)  # p < 2^bits
    primes = [r for r in _SIEVE_PRIMES if r < q_low]
    span = q_high - q_low
    count = min(INTERVAL, max(span // 2, 1))
    while True:
        start = q_low + secrets.randbelow(span) | 1
        flags = sieve_interval(start, count, primes)
        for k in range(count):
            if flags[k]:
                q = start + 2 * k
                if q >= q_high:
                    break
                yield q


def generate_safe_prime(bits: int, progress: Callable[[int], None] | None = None) -> int:
    """A random safe prime p = 2q + 1 of exactly `bits` bits with the top two bits set, so
    that the product of two of them has exactly 2 * bits bits.

    `progress(candidates_tested)` is called now and then with the number of sieve survivors
    tested so far (for a progress display; the total needed is random)."""
    if not isinstance(bits, int) or bits < MIN_BITS:
        raise InvalidInput("bits", f"a safe prime needs at least {MIN_BITS} bits")
    tested = 0
    for q in _survivors(bits):
        tested += 1
        if progress is not None and tested % 64 == 0:
            progress(tested)
        # Most survivors fail here after one modular exponentiation.
        if not _fermat_base2(q):
            continue
        p = 2 * q + 1
        if not _fermat_base2(p):
            continue
        if gmpy2.is_prime(q, PRIMALITY_REPS) and gmpy2.is_prime(p, PRIMALITY_REPS):
            if progress is not None:
                progress(tested)
            return int(p)
    raise AssertionError("unreachable: the survivor stream is endless")
