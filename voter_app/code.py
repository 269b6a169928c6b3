"""The vote-check code (the QR code's content): what the voter's second device needs to check a
cast ballot. Not to be confused with formats.ballot.verification_code, the short code both
devices show so that the voter sees they talk about the same ballot.

docs/spec.md, "Voter app", is the normative text. The check code carries
- the manifest hash, so the checking device knows which election to trust without being told,
- the ballot hash, by which it fetches the stored ballot from the collector,
- the encryption randomness of every ciphertext of the ballot (crypto.membership draws it and
  returns it; it cannot be derived from a shorter seed), so the device can re-encrypt each
  candidate and see which one the stored ciphertexts hold,
- a 4-byte checksum, so that a mistyped code is refused before anything is fetched.

Binary layout (big-endian): version (1 byte, = 1) || manifest hash (32) || ballot hash (32) ||
contest count (1) || per contest: part count (1) || per part: length L (2) || r (L bytes,
minimal) || checksum = first 4 bytes of SHA-256 of everything before it. Text: RFC 4648 base32
without padding (A-Z, 2-7), which QR codes store in their compact alphanumeric mode; shown in
groups of five, read back ignoring case, spaces and hyphens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

CODE_VERSION = 1
HASH_BYTES = 32
CHECKSUM_BYTES = 4
MAX_CONTESTS = 255
MAX_PARTS = 255
MAX_VALUE_BYTES = 65535


class CodeError(ValueError):
    """A check code that cannot be read; the message says why, for the voter."""


@dataclass(frozen=True)
class CheckCode:
    manifest_hash: bytes
    ballot_hash: bytes
    # per contest of the district, in the manifest's order: the randomness of each ciphertext
    randomness: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        if len(self.manifest_hash) != HASH_BYTES or len(self.ballot_hash) != HASH_BYTES:
            raise CodeError("the manifest and ballot hashes must be 32 bytes")
        if not 0 < len(self.randomness) <= MAX_CONTESTS:
            raise CodeError(f"a ballot has 1 to {MAX_CONTESTS} contests")
        for parts in self.randomness:
            if not 0 < len(parts) <= MAX_PARTS:
                raise CodeError(f"a contest has 1 to {MAX_PARTS} ciphertexts")
            for r in parts:
                if not isinstance(r, int) or isinstance(r, bool) or r <= 0:
                    raise CodeError("randomness must be positive integers")
                if (r.bit_length() + 7) // 8 > MAX_VALUE_BYTES:
                    raise CodeError("randomness too large")

    def to_bytes(self) -> bytes:
        out = bytearray([CODE_VERSION])
        out += self.manifest_hash + self.ballot_hash
        out.append(len(self.randomness))
        for parts in self.randomness:
            out.append(len(parts))
            for r in parts:
                raw = r.to_bytes((r.bit_length() + 7) // 8, "big")
                out += len(raw).to_bytes(2, "big") + raw
        out += hashlib.sha256(out).digest()[:CHECKSUM_BYTES]
        return bytes(out)

    @property
    def text(self) -> str:
        """The code as the QR code holds it: upper-case base32 without padding."""
        return base64.b32encode(self.to_bytes()).decode("ascii").rstrip("=")

    @property
    def grouped(self) -> str:
        """The code for people: groups of five characters."""
        text = self.text
        return " ".join(text[i : i + 5] for i in range(0, len(text), 5))

    @classmethod
    def from_bytes(cls, data: bytes) -> CheckCode:
        if len(data) < 1 + 2 * HASH_BYTES + 1 + CHECKSUM_BYTES:
            raise CodeError("the code is too short: was part of it left out?")
        body, checksum = data[:-CHECKSUM_BYTES], data[-CHECKSUM_BYTES:]
        if hashlib.sha256(body).digest()[:CHECKSUM_BYTES] != checksum:
            raise CodeError("the code's checksum does not match: check it for typing mistakes")
        if body[0] != CODE_VERSION:
            raise CodeError(f"unsupported check code version {body[0]}")
        position = 1
        manifest_hash = body[position : position + HASH_BYTES]
        position += HASH_BYTES
        ballot_hash = body[position : position + HASH_BYTES]
        position += HASH_BYTES

        def take(count: int) -> bytes:
            nonlocal position
            if position + count > len(body):
                raise CodeError("the code ends too early")
            chunk = body[position : position + count]
            position += count
            return chunk

        contests = []
        for _ in range(take(1)[0]):
            parts = []
            for _ in range(take(1)[0]):
                length = int.from_bytes(take(2), "big")
                raw = take(length)
                if not raw or raw[0] == 0:
                    raise CodeError("the code holds a malformed randomness value")
                parts.append(int.from_bytes(raw, "big"))
            contests.append(tuple(parts))
        if position != len(body):
            raise CodeError("the code has trailing data")
        return cls(manifest_hash, ballot_hash, tuple(contests))

    @classmethod
    def parse(cls, text: str) -> CheckCode:
        """Read a code as typed or scanned: case, spaces and hyphens do not matter."""
        cleaned = "".join(text.split()).replace("-", "").upper()
        if not cleaned:
            raise CodeError("the check code is empty")
        try:
            data = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
        except (binascii.Error, ValueError) as exc:
            raise CodeError("the check code has characters other than A-Z and 2-7") from exc
        return cls.from_bytes(data)
