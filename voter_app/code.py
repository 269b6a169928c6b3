"""The vote-check code (the QR code's content): what the voter's second device needs to check a
cast ballot. Not to be confused with formats.ballot.verification_code, the short code both
devices show so that the voter sees they talk about the same ballot.

docs/spec.md, "Check code (the QR code's content)", is the normative text. The code carries
- the ballot's 128-bit seed, from which every ciphertext's encryption randomness is derived
  (formats.ballot.ballot_randomness), so the device can re-encrypt each candidate and see
  which one the stored ciphertexts hold,
- the first PREFIX_BYTES bytes of the ballot hash, by which the collector finds the ballot,
- a CRC-16 checksum, so that a mistyped code is refused before anything is fetched.
It does not carry the election: the checking device trusts the election by the fingerprint it
was given or pinned, and the seed's derivation binds the manifest hash (a ballot of another
election does not open under the seed).

Binary layout: version (1 byte, = 1) || seed (16) || ballot hash prefix (7) || CRC-16/XMODEM
of the 24 bytes before it (2, big-endian): 26 bytes. Text: RFC 4648 base32 without padding
(A-Z, 2-7: 42 characters, which QR codes store in their compact alphanumeric mode; the last
character's two unused bits are zero); shown in groups of six, read back ignoring case, spaces
and hyphens.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from i18n import N_, _

CODE_VERSION = 1
SEED_BYTES = 16
PREFIX_BYTES = 7
CHECKSUM_BYTES = 2
CODE_BYTES = 1 + SEED_BYTES + PREFIX_BYTES + CHECKSUM_BYTES
TEXT_LENGTH = -(-CODE_BYTES * 8 // 5)  # 42 base32 characters
GROUP = 6
_ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


class CodeError(ValueError):
    """A check code that cannot be read; the message says why, for the voter (translated)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # a stable name for the page's script and tests


def checksum(body: bytes) -> bytes:
    """CRC-16/XMODEM (polynomial 0x1021, initial value 0, no reflection, no final XOR): it
    catches every change of up to 16 consecutive bits, so every mistyped character (5 bits)
    and every swap of two neighbouring characters."""
    return binascii.crc_hqx(body, 0).to_bytes(CHECKSUM_BYTES, "big")


@dataclass(frozen=True)
class CheckCode:
    seed: bytes
    ballot_prefix: bytes  # the first PREFIX_BYTES bytes of the ballot hash

    def __post_init__(self) -> None:
        if not isinstance(self.seed, bytes) or len(self.seed) != SEED_BYTES:
            raise ValueError(f"a check code's seed is {SEED_BYTES} bytes")
        if not isinstance(self.ballot_prefix, bytes) or len(self.ballot_prefix) != PREFIX_BYTES:
            raise ValueError(f"a check code's ballot hash prefix is {PREFIX_BYTES} bytes")

    @classmethod
    def for_ballot(cls, seed: bytes, ballot_hash: bytes) -> CheckCode:
        return cls(seed, ballot_hash[:PREFIX_BYTES])

    def matches(self, ballot_hash: bytes) -> bool:
        return ballot_hash[:PREFIX_BYTES] == self.ballot_prefix

    def to_bytes(self) -> bytes:
        body = bytes([CODE_VERSION]) + self.seed + self.ballot_prefix
        return body + checksum(body)

    @property
    def text(self) -> str:
        """The code as the QR code holds it: upper-case base32 without padding."""
        return base64.b32encode(self.to_bytes()).decode("ascii").rstrip("=")

    @property
    def grouped(self) -> str:
        """The code for people: groups of six characters, separated by spaces."""
        return " ".join(self.groups)

    @property
    def groups(self) -> tuple[str, ...]:
        text = self.text
        return tuple(text[i : i + GROUP] for i in range(0, len(text), GROUP))

    @classmethod
    def from_bytes(cls, data: bytes) -> CheckCode:
        if len(data) != CODE_BYTES:
            text = TOO_SHORT if len(data) < CODE_BYTES else TOO_LONG
            raise CodeError("length", _(text).format(count=TEXT_LENGTH))
        body, check = data[:-CHECKSUM_BYTES], data[-CHECKSUM_BYTES:]
        if checksum(body) != check:
            raise CodeError("checksum", _(TYPO))
        if body[0] != CODE_VERSION:
            raise CodeError("version", _(UNSUPPORTED).format(version=body[0]))
        return cls(body[1 : 1 + SEED_BYTES], body[1 + SEED_BYTES :])

    @classmethod
    def parse(cls, text: str) -> CheckCode:
        """Read a code as typed or scanned: case, spaces and hyphens do not matter."""
        cleaned = "".join(text.split()).replace("-", "").upper()
        if not cleaned:
            raise CodeError("empty", _(EMPTY))
        if not set(cleaned) <= _ALPHABET:
            raise CodeError("characters", _(CHARACTERS))
        if len(cleaned) != TEXT_LENGTH:
            too_short = len(cleaned) < TEXT_LENGTH
            raise CodeError(
                "length",
                _(TOO_SHORT if too_short else TOO_LONG).format(count=TEXT_LENGTH),
            )
        try:
            data = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
        except (binascii.Error, ValueError) as exc:
            raise CodeError("checksum", _(TYPO)) from exc
        # the last character's unused bits are zero: one spelling per code
        if base64.b32encode(data).decode("ascii").rstrip("=") != cleaned:
            raise CodeError("checksum", _(TYPO))
        return cls.from_bytes(data)


EMPTY = N_("The check code is empty: type or paste the code your voting app showed.")
CHARACTERS = N_(
    "The check code has characters other than the letters A-Z and the digits 2-7: check it "
    "for typing mistakes (the digits 0, 1, 8 and 9 never appear in a code)."
)
TOO_SHORT = N_(
    "The check code is too short: a check code has {count} characters. Was part of it left out?"
)
TOO_LONG = N_(
    "The check code is too long: a check code has {count} characters. Was something added?"
)
TYPO = N_(
    "The check code has a typing mistake (its checksum does not match): compare it with the "
    "code your voting app showed, character by character."
)
UNSUPPORTED = N_(
    "This check code is of version {version}, which this app cannot read: update the app."
)
