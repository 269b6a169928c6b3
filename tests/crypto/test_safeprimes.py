"""Safe-prime search: exact sizes, real safe primes, and a sieve that never loses one."""

from __future__ import annotations

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import InvalidInput
from crypto.primitives.safeprimes import (
    _SIEVE_PRIMES,
    MIN_BITS,
    generate_safe_prime,
    is_safe_prime,
    sieve_interval,
)

SMALL_SAFE_PRIMES = [5, 7, 11, 23, 47, 59, 83, 107, 167, 179, 227, 263, 347, 359, 383, 467, 479]


def brute_force_safe(x: int) -> bool:
    return x > 2 and gmpy2.is_prime(x) and gmpy2.is_prime((x - 1) // 2)


def test_is_safe_prime_known_values(safe_primes: dict) -> None:
    assert [x for x in range(500) if is_safe_prime(x)] == SMALL_SAFE_PRIMES
    for p, q in safe_primes.values():
        assert is_safe_prime(p) and is_safe_prime(q)
        assert not is_safe_prime(p * q)
    assert not is_safe_prime(True)


@given(st.integers(min_value=-10, max_value=200_000))
def test_is_safe_prime_agrees_with_brute_force(x: int) -> None:
    assert is_safe_prime(x) == brute_force_safe(x)


@pytest.mark.parametrize("bits", [128, 192, 256])
def test_generated_safe_prime_has_exact_size(bits: int) -> None:
    seen: list[int] = []
    p = generate_safe_prime(bits, seen.append)
    assert p.bit_length() == bits
    assert p >> (bits - 2) == 0b11  # top two bits set, so p*q has exactly 2*bits bits
    assert is_safe_prime(p)
    assert seen and seen == sorted(seen) and seen[-1] >= 1


@settings(max_examples=40)
@given(st.integers(min_value=MIN_BITS, max_value=80))
def test_small_generated_safe_primes(bits: int) -> None:
    p = generate_safe_prime(bits)
    assert p.bit_length() == bits and p >> (bits - 2) == 0b11
    assert brute_force_safe(p)


def test_products_of_two_have_twice_the_bits() -> None:
    for bits in (64, 100):
        p, q = generate_safe_prime(bits), generate_safe_prime(bits)
        assert (p * q).bit_length() == 2 * bits


@pytest.mark.parametrize("bits", [0, 5, -3])
def test_refuses_tiny_sizes(bits: int) -> None:
    with pytest.raises(InvalidInput):
        generate_safe_prime(bits)


@settings(max_examples=30)
@given(
    st.integers(min_value=2**17, max_value=2**80).map(lambda x: x | 1),
    st.integers(min_value=1, max_value=3000),
)
def test_sieve_keeps_exactly_the_candidates_without_small_factors(start: int, count: int) -> None:
    primes = _SIEVE_PRIMES if start > _SIEVE_PRIMES[-1] else [r for r in _SIEVE_PRIMES if r < start]
    primorial = gmpy2.mpz(1)
    for r in primes:
        primorial *= r
    flags = sieve_interval(start, count, primes)
    assert len(flags) == count
    for k in range(count):
        q = start + 2 * k
        no_small_factor = gmpy2.gcd(q * (2 * q + 1), primorial) == 1
        assert flags[k] == no_small_factor
        if brute_force_safe(2 * q + 1):
            assert flags[k] == 1  # the sieve never rejects a true safe prime


def test_sieve_keeps_every_safe_prime_in_a_dense_small_range() -> None:
    # start just above the sieving primes: many safe primes close together
    primes = [r for r in _SIEVE_PRIMES if r < 1000]
    flags = sieve_interval(1001, 50_000, primes)
    kept = {1001 + 2 * k for k in range(50_000) if flags[k]}
    safe = [q for q in range(1001, 1001 + 100_000, 2) if brute_force_safe(2 * q + 1)]
    assert len(safe) > 100
    assert set(safe) <= kept


def test_sieve_refuses_bad_starts() -> None:
    with pytest.raises(ValueError):
        sieve_interval(1000, 10, [3, 5])
    with pytest.raises(ValueError):
        sieve_interval(5, 10, [3, 5, 7])
