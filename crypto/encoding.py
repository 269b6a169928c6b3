"""Ballot encoding: candidate j counts in base-B digit j of the plaintext.

B = 2^b with 2^b > max_voters, so the product of all ballots decrypts to every candidate's count,
b bits each, with no carry between digits. A plaintext holds at most `per_ciphertext` digits
(their total stays below 2^(key_bits-1) < n); a contest with more candidates splits across
several ciphertexts ("parts").

Two kinds of contest (docs/spec.md, "Ballot encoding"):
- choose exactly one (min_marks = max_marks = 1): each part holds 0 or one power of B, with a
  membership proof per part plus one on the product of the parts showing exactly one vote;
- choose several (between min_marks and max_marks marks, approval when 0..L): one ciphertext
  per candidate holding its mark 0 or 1, plus, where a blank ballot is allowed (min_marks = 0),
  one holding 1 exactly when no candidate is marked; a proof on their weighted product bounds
  the number of marks. The tally packs the per-candidate products into digits the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from crypto.errors import DecryptionError, InvalidInput

# The values a mark's ciphertext may hold (choose-several contests), in proof order.
MARK_VALUES = (0, 1)


@dataclass(frozen=True)
class ContestEncoding:
    """How a contest is packed into Paillier plaintexts."""

    candidates: int
    digit_bits: int  # b: each candidate's count takes b bits, B = 2^b
    per_ciphertext: int  # digits (counts) per plaintext
    min_marks: int = 1  # (1, 1): choose exactly one, the packed 1-of-L form
    max_marks: int = 1

    @property
    def base(self) -> int:
        return 1 << self.digit_bits

    @property
    def marks(self) -> bool:
        """A choose-several contest: one 0/1 ciphertext per candidate (and one for blank)."""
        return (self.min_marks, self.max_marks) != (1, 1)

    @property
    def blank_allowed(self) -> bool:
        """A choose-several contest that a ballot may leave blank (min_marks = 0)."""
        return self.marks and self.min_marks == 0

    @property
    def digits(self) -> int:
        """Counts in the decrypted totals: one per candidate, then blank ballots if allowed."""
        return self.candidates + self.blank_allowed

    @property
    def parts(self) -> int:
        """Number of plaintexts the totals take (and ciphertexts a 1-of-L ballot takes)."""
        return -(-self.digits // self.per_ciphertext)

    @property
    def ciphertexts(self) -> int:
        """Number of ciphertexts in one ballot's contest: its parts, or one per digit."""
        return self.digits if self.marks else self.parts

    def digits_in(self, part: int) -> int:
        """Digits encoded in plaintext `part` (the last part may hold fewer)."""
        if not 0 <= part < self.parts:
            raise InvalidInput("part", f"{part} is not in [0, {self.parts})")
        return min(self.per_ciphertext, self.digits - part * self.per_ciphertext)

    @property
    def plaintext_bits(self) -> int:
        """Bits the plaintexts and every aggregate of them occupy: the key must have more."""
        return self.digit_bits * self.per_ciphertext

    @property
    def blank_weight(self) -> int:
        """W = L + 1: the blank ciphertext's exponent in the count statement (above any count
        of marks, so a blank ballot's count W cannot be reached by marks alone)."""
        return self.candidates + 1


def _positive_int(value: object, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidInput(field, f"expected a positive integer, got {value!r}")
    return value


def contest_encoding(
    candidates: int, max_voters: int, key_bits: int, min_marks: int = 1, max_marks: int = 1
) -> ContestEncoding:
    """The encoding of a contest with `candidates` choices for at most `max_voters` ballots,
    where a ballot marks between `min_marks` and `max_marks` of them.

    Digits fit in key_bits - 1 bits, below any modulus of key_bits bits. A 1-of-L contest with
    several parts has a sum proof that is sound only while parts < B (a sum of fewer than B
    powers of B is a single power only when it has one term), so larger contests are refused
    rather than made unsound.
    """
    _positive_int(candidates, "candidates")
    _positive_int(max_voters, "max_voters")
    _positive_int(key_bits, "key_bits")
    _check_marks(candidates, min_marks, max_marks, "")
    digit_bits = max_voters.bit_length()
    per_ciphertext = (key_bits - 1) // digit_bits
    if per_ciphertext < 1:
        raise InvalidInput(
            "max_voters",
            f"{max_voters} voters need {digit_bits}-bit digits: too many for a {key_bits}-bit key",
        )
    blank_digit = min_marks == 0  # only a choose-several contest can have min 0
    per_ciphertext = min(per_ciphertext, candidates + blank_digit)
    enc = ContestEncoding(candidates, digit_bits, per_ciphertext, min_marks, max_marks)
    if not enc.marks and enc.parts >= enc.base:
        raise InvalidInput(
            "candidates",
            f"{candidates} candidates need {enc.parts} ciphertexts of "
            f"{enc.per_ciphertext} digits; the sum proof needs fewer than {enc.base}",
        )
    return enc


def _check_marks(candidates: int, min_marks: int, max_marks: int, where: str) -> None:
    for value, name in ((min_marks, "min_marks"), (max_marks, "max_marks")):
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidInput(f"{where}{name}", f"expected an integer, got {value!r}")
    if not 0 <= min_marks <= max_marks or not 1 <= max_marks <= candidates:
        raise InvalidInput(
            f"{where}max_marks",
            f"between {min_marks} and {max_marks} marks of {candidates} candidates: "
            "need 0 <= min <= max and 1 <= max <= candidates",
        )


def check_encoding(enc: ContestEncoding) -> None:
    """Refuse a hand-made ContestEncoding that contest_encoding would not produce."""
    _positive_int(enc.candidates, "encoding.candidates")
    _positive_int(enc.digit_bits, "encoding.digit_bits")
    _positive_int(enc.per_ciphertext, "encoding.per_ciphertext")
    _check_marks(enc.candidates, enc.min_marks, enc.max_marks, "encoding.")
    if enc.per_ciphertext > enc.digits or (not enc.marks and enc.parts >= enc.base):
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
    if enc.marks:
        raise InvalidInput("choice", "this contest takes several marks (encode_marks)")
    if not isinstance(choice, int) or isinstance(choice, bool):
        raise InvalidInput("choice", f"{choice!r} is not a candidate index")
    if not 0 <= choice < enc.candidates:
        raise InvalidInput(
            "choice", f"{choice!r} is not a candidate index in [0, {enc.candidates})"
        )
    part, digit = divmod(choice, enc.per_ciphertext)
    return tuple((1 << (digit * enc.digit_bits)) if j == part else 0 for j in range(enc.parts))


def encode_marks(enc: ContestEncoding, marked: Collection[int]) -> tuple[int, ...]:
    """The plaintexts of a choose-several contest: 1 for each marked candidate index, 0 for
    the others, then (where blank is allowed) 1 when nothing is marked."""
    check_encoding(enc)
    if not enc.marks:
        raise InvalidInput("choice", "this contest takes exactly one choice (encode_choice)")
    if isinstance(marked, str | bytes) or not isinstance(marked, Collection):
        raise InvalidInput("choice", f"{marked!r} is not a collection of candidate indices")
    chosen = list(marked)
    for index in chosen:
        if not isinstance(index, int) or isinstance(index, bool):
            raise InvalidInput("choice", f"{index!r} is not a candidate index")
        if not 0 <= index < enc.candidates:
            raise InvalidInput(
                "choice", f"{index!r} is not a candidate index in [0, {enc.candidates})"
            )
    if len(set(chosen)) != len(chosen):
        raise InvalidInput("choice", "a candidate is marked twice")
    if not enc.min_marks <= len(chosen) <= enc.max_marks:
        raise InvalidInput(
            "choice",
            f"{len(chosen)} marks; this contest takes between {enc.min_marks} and "
            f"{enc.max_marks}",
        )
    marks = tuple(int(j in set(chosen)) for j in range(enc.candidates))
    return (*marks, int(not chosen)) if enc.blank_allowed else marks


def count_plaintexts(enc: ContestEncoding) -> tuple[int, ...]:
    """The values the count statement of a choose-several contest may hold: the number of
    marks, max(min, 1)..max, and W (blank_weight) for a blank ballot where it is allowed."""
    check_encoding(enc)
    if not enc.marks:
        raise InvalidInput("encoding", "a 1-of-L contest has no count statement")
    counts = tuple(range(max(enc.min_marks, 1), enc.max_marks + 1))
    return (*counts, enc.blank_weight) if enc.blank_allowed else counts


def allowed_plaintexts(enc: ContestEncoding, part: int) -> tuple[int, ...]:
    """The values ciphertext `part` may hold: B^0..B^(k-1), and also 0 when there are parts;
    a choose-several contest's ciphertexts each hold a mark (MARK_VALUES)."""
    check_encoding(enc)
    if enc.marks:
        if not 0 <= part < enc.ciphertexts:
            raise InvalidInput("part", f"{part} is not in [0, {enc.ciphertexts})")
        return MARK_VALUES
    powers = tuple(1 << (i * enc.digit_bits) for i in range(enc.digits_in(part)))
    return powers if enc.parts == 1 else (0, *powers)


def sum_allowed_plaintexts(enc: ContestEncoding) -> tuple[int, ...]:
    """The values the product of all parts may hold (exactly one vote): B^0..B^(per-1)."""
    check_encoding(enc)
    if enc.marks:
        raise InvalidInput("encoding", "a choose-several contest has a count statement instead")
    return tuple(1 << (i * enc.digit_bits) for i in range(enc.per_ciphertext))


def decode_totals(enc: ContestEncoding, totals: Sequence[int], max_voters: int) -> list[int]:
    """Per-candidate counts from the decrypted product of every part's ciphertexts.

    Refuses (DecryptionError) a digit above max_voters, bits above a part's last digit, and a
    grand total above max_voters (above max_marks * max_voters marks for a choose-several
    contest, whose last count is its blank ballots where blank is allowed): none can come from
    at most max_voters valid ballots, so each
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
    marks = sum(counts[: enc.candidates])
    if enc.marks and marks > enc.max_marks * max_voters:
        raise DecryptionError(
            f"{marks} marks in total, above {enc.max_marks} for each of the {max_voters} voters"
        )
    if not enc.marks and sum(counts) > max_voters:
        raise DecryptionError(f"{sum(counts)} votes in total, above the {max_voters} voters")
    return counts
