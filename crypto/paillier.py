"""Paillier with g = n + 1 on phe's key class, with the encryption randomness explicit.

phe's `encrypt()` hides its randomness and `EncryptedNumber` accepts any integer; ballot proofs
need the randomness, and everything from outside needs validation, so this module works on raw
integers: a ciphertext is an int in Z*_{n^2}.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import gmpy2
from phe import paillier as phe_paillier
from phe import util as phe_util

from crypto.errors import InvalidInput
from crypto.primitives.modular import is_unit, mpz, powmod, random_unit

if not phe_util.HAVE_GMP:  # phe would silently run about 8x slower in pure Python
    raise ImportError("ivote needs gmpy2 under phe; install the project's dependencies")

# 128-bit security for the life of an election (DESIGN.md); tests use small fixture keys and
# say so by passing the manifest's key size explicitly.
PRODUCTION_KEY_BITS = 3072


@dataclass(frozen=True)
class PublicKey:
    """The election's Paillier public key: the modulus n (g is n + 1)."""

    n: int

    @cached_property
    def n_squared(self) -> int:
        return self.n * self.n

    @property
    def bits(self) -> int:
        return self.n.bit_length()

    @cached_property
    def phe(self) -> phe_paillier.PaillierPublicKey:
        """phe's key object, for the raw operations phe already does well."""
        return phe_paillier.PaillierPublicKey(int(self.n))

    def check(self, expected_bits: int | None = None, field: str = "public_key.n") -> None:
        """Validate a key that came from outside: odd, composite-looking, of the expected size."""
        n = self.n
        if not isinstance(n, int) or n <= 3 or n % 2 == 0:
            raise InvalidInput(field, "not an odd modulus")
        if expected_bits is not None and n.bit_length() != expected_bits:
            raise InvalidInput(field, f"{n.bit_length()} bits, manifest says {expected_bits}")
        if gmpy2.is_square(n) or gmpy2.is_prime(n):
            raise InvalidInput(field, "not a product of two distinct primes")


def encrypt(key: PublicKey, plaintext: int, randomness: int) -> int:
    """Enc(m; r) = (1 + m n) r^n mod n^2, with the caller's r (a unit mod n)."""
    if not 0 <= plaintext < key.n:
        raise InvalidInput("plaintext", "out of range [0, n)")
    if not is_unit(randomness, key.n):
        raise InvalidInput("randomness", "not a unit mod n")
    n2 = key.n_squared
    return int((1 + plaintext * key.n) % n2 * powmod(randomness, key.n, n2) % n2)


def encrypt_random(key: PublicKey, plaintext: int) -> tuple[int, int]:
    """Encrypt with fresh randomness from `secrets`; returns (ciphertext, randomness)."""
    r = random_unit(key.n)
    return encrypt(key, plaintext, r), r


def g_power(key: PublicKey, exponent: int) -> int:
    """(n + 1)^m mod n^2 = 1 + m n mod n^2: no exponentiation needed."""
    return (1 + (exponent % key.n) * key.n) % key.n_squared


def multiply(key: PublicKey, ciphertexts: list[int] | tuple[int, ...]) -> int:
    """Homomorphic sum: the product of ciphertexts mod n^2 (raw ints, never re-randomised)."""
    n2 = mpz(key.n_squared)
    total = mpz(1)
    for c in ciphertexts:
        total = total * c % n2
    return int(total)


def check_ciphertext(key: PublicKey, value: object, field: str) -> int:
    """A ciphertext from outside must be an integer unit in [1, n^2)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(field, "not an integer")
    if not is_unit(value, key.n_squared):
        raise InvalidInput(field, "not a unit in [1, n^2)")
    return value


def L(u: int, n: int) -> int:
    """L(u) = (u - 1) / n, defined for u = 1 mod n."""
    if (u - 1) % n:
        raise ArithmeticError("L: argument is not 1 mod n")
    return (u - 1) // n
