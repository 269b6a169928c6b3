"""Ballot encoding for 1-of-L contests: candidate j counts in base-B digit j of the plaintext.

B = 2^b with 2^b > max_voters, so the product of all ballots decrypts to every candidate's count,
b bits each, with no carry between digits. A plaintext holds at most `per_ciphertext` digits
(their total stays below 2^(key_bits-1) < n); a contest with more candidates splits across
several ciphertexts ("parts"), each with its own membership proof, plus one proof on the product
of the parts showing that exactly one part holds a vote (docs/spec.md, "Ballot encoding").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crypto.errors import DecryptionError, InvalidInput


@dataclass(frozen=True)
class ContestEncoding:
    """How a 1-of-L contest is packed into Paillier plaintexts."""

    candidates: int
    digit_bits: int  # b: each candidate's count takes b bits, B = 2^b
    per_ciphertext: int  # digits (candidates) per plaintext

    @property
    def base(self) -> int:
        return 1 << self.digit_bits

    @property
    def parts(self) -> int:
        """Number of ciphertexts the contest takes."""
        return -(-self.candidates // self.per_ciphertext)

    def digits_in(self, part: int) -> int:
        """Candidates encoded in ciphertext `part` (the last part may hold fewer)."""
        if not 0 <= part < self.parts:
            raise InvalidInput("part", f"{part} is not in [0, {self.parts})")
        return min(self.per_ciphertext, self.candidates - part * self.per_ciphertext)

    @property
    def plaintext_bits(self) -> int:
        """Bits the plaintexts and every aggregate of them occupy: the key must have more."""
        return self.digit_bits * self.per_ciphertext


def _positive_int(value: object, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidInput(field, f"expected a positive integer, got {value!r}")
    return value


def contest_encoding(candidates: int, max_voters: int, key_bits: int) -> ContestEncoding:
    """The encoding of a contest with `candidates` choices for at most `max_voters` ballots.

    Digits fit in key_bits - 1 bits, below any modulus of key_bits bits. With several parts the
    sum proof is sound only while parts < B (a sum of fewer than B powers of B is a single power
    only when it has one term), so larger contests are refused rather than made unsound.
    """
    _positive_int(candidates, "candidates")
    _positive_int(max_voters, "max_voters")
    _positive_int(key_bits, "key_bits")
    digit_bits = max_voters.bit_length()
    per_ciphertext = (key_bits - 1) // digit_bits
    if per_ciphertext < 1:
        raise InvalidInput(
            "max_voters",
            f"{max_voters} voters need {digit_bits}-bit digits: too many for a {key_bits}-bit key",
        )
    per_ciphertext = min(per_ciphertext, candidates)
    enc = ContestEncoding(candidates, digit_bits, per_ciphertext)
    if enc.parts >= enc.base:
        raise InvalidInput(
            "candidates",
            f"{candidates} candidates need {enc.parts} ciphertexts of "
            f"{per_ciphertext} digits; the sum proof needs fewer than {enc.base}",
        )
    return enc


def check_encoding(enc: ContestEncoding) -> None:
    """Refuse a hand-made ContestEncoding that contest_encoding would not produce."""
    _positive_int(enc.candidates, "encoding.candidates")
    _positive_int(enc.digit_bits, "encoding.digit_bits")
    _positive_int(enc.per_ciphertext, "encoding.per_ciphertext")
    if enc.per_ciphertext > enc.candidates or enc.parts >= enc.base:
        raise InvalidInput("encoding", "inconsistent contest encoding")


def check_fits(enc: ContestEncoding, key_bits: int) -> None:
    """The plaintexts and their totals must stay below n (n has key_bits bits, n > 2^(bits-1))."""
    check_encoding(enc)
    if enc.plaintext_bits > key_bits - 1:
        raise InvalidInput(
            "encoding", f"{enc.plaintext_bits}-bit plaintexts do not fit a {key_bits}-bit key"
        )


def encode_choice(enc: ContestEncoding, choice: int) -> tuple[int, ...]:
    """One plaintext per part: B^(choice mod per) in part choice // per, 0 in the others."""
    check_encoding(enc)
    if not isinstance(choice, int) or isinstance(choice, bool):
        raise InvalidInput("choice", f"{choice!r} is not a candidate index")
    if not 0 <= choice < enc.candidates:
        raise InvalidInput(
            "choice", f"{choice!r} is not a candidate index in [0, {enc.candidates})"
        )
    part, digit = divmod(choice, enc.per_ciphertext)
    return tuple((1 << (digit * enc.digit_bits)) if j == part else 0 for j in range(enc.parts))


def allowed_plaintexts(enc: ContestEncoding, part: int) -> tuple[int, ...]:
    """The values ciphertext `part` may hold: B^0..B^(k-1), and also 0 when there are parts."""
    check_encoding(enc)
    powers = tuple(1 << (i * enc.digit_bits) for i in range(enc.digits_in(part)))
    return powers if enc.parts == 1 else (0, *powers)


def sum_allowed_plaintexts(enc: ContestEncoding) -> tuple[int, ...]:
    """The values the product of all parts may hold (exactly one vote): B^0..B^(per-1)."""
    check_encoding(enc)
    return tuple(1 << (i * enc.digit_bits) for i in range(enc.per_ciphertext))


def decode_totals(enc: ContestEncoding, totals: Sequence[int], max_voters: int) -> list[int]:
    """Per-candidate counts from the decrypted product of every part's ciphertexts.

    Refuses (DecryptionError) a digit above max_voters, bits above a part's last digit, and a
    grand total above max_voters: none can come from at most max_voters valid ballots, so each
    means a wrong decryption or an invalid ballot counted.
    """
    check_encoding(enc)
    _positive_int(max_voters, "max_voters")
    if max_voters.bit_length() > enc.digit_bits:
        raise InvalidInput("max_voters", f"{max_voters} does not fit {enc.digit_bits}-bit digits")
    if len(totals) != enc.parts:
        raise InvalidInput("totals", f"{len(totals)} totals for {enc.parts} parts")
    mask = enc.base - 1
    counts: list[int] = []
    for part, total in enumerate(totals):
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            raise InvalidInput(f"totals[{part}]", "not a non-negative integer")
        digits = enc.digits_in(part)
        if total >> (digits * enc.digit_bits):
            raise DecryptionError(f"totals[{part}]: bits set above the last of its {digits} digits")
        for digit in range(digits):
            count = (total >> (digit * enc.digit_bits)) & mask
            if count > max_voters:
                candidate = part * enc.per_ciphertext + digit
                raise DecryptionError(
                    f"totals[{part}]: candidate {candidate} has {count} votes, above the "
                    f"{max_voters} possible voters"
                )
            counts.append(count)
    if sum(counts) > max_voters:
        raise DecryptionError(f"{sum(counts)} votes in total, above the {max_voters} voters")
    return counts
