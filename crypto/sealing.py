"""Secret files sealed under a passphrase: scrypt derives an AES-256-GCM key.

The container is canonical JSON (docs/spec.md, "Sealed files"). Everything but the ciphertext is
the header, and the header's canonical bytes are the AEAD's associated data, so changing any
parameter, the purpose or the nonce makes opening fail just like a wrong passphrase. The
container must be byte-for-byte canonical on input, so that no modified byte goes unnoticed.
"""

from __future__ import annotations

import os
import secrets
import unicodedata
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from canonical.encoding import (
    FORMAT_VERSION,
    FormatError,
    b64url,
    canonical_bytes,
    check_version,
    parse_b64url,
    parse_canonical,
    require,
)
from canonical.files import write_atomic
from crypto.errors import InvalidInput, SealError

# About 0.5 s and 128 MiB per attempt on a 2-core machine: slows passphrase guessing without
# making the ceremony wait. Tests pass a smaller `cost`.
DEFAULT_SCRYPT_N = 2**17
SCRYPT_R = 8
SCRYPT_P = 1
# Bounds on parameters read from a file, so that a crafted file cannot ask for gigabytes.
MIN_SCRYPT_N = 2**4
MAX_SCRYPT_N = 2**20
MAX_SCRYPT_R = 32
MAX_SCRYPT_P = 16
MAX_SCRYPT_MEMORY = 2**30
SALT_BYTES = 16
NONCE_BYTES = 12
AEAD = "aes-256-gcm"
KDF = "scrypt"
WHAT = "sealed file"
_HEADER_FIELDS = {"version", "purpose", "kdf", "aead", "nonce"}
_KDF_FIELDS = {"name", "salt", "n", "r", "p"}


def _passphrase_bytes(passphrase: str) -> bytes:
    # NFC, so that the same passphrase typed on different systems gives the same key.
    if not isinstance(passphrase, str):
        raise InvalidInput("passphrase", "must be text")
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _check_purpose(purpose: str) -> None:
    if not isinstance(purpose, str) or not purpose or not purpose.isascii() or len(purpose) > 100:
        raise InvalidInput("purpose", "must be a short non-empty ASCII string")


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(_passphrase_bytes(passphrase))


def _check_cost(n: Any, where: str) -> None:
    if (
        isinstance(n, bool)
        or not isinstance(n, int)
        or not MIN_SCRYPT_N <= n <= MAX_SCRYPT_N
        or n & (n - 1)
    ):
        raise FormatError(
            where, f"scrypt n must be a power of two in {MIN_SCRYPT_N}..{MAX_SCRYPT_N}"
        )


def seal(plaintext: bytes, passphrase: str, purpose: str, *, cost: int = DEFAULT_SCRYPT_N) -> bytes:
    """Encrypt `plaintext` under `passphrase` for `purpose` (e.g. "trustee-key-share");
    returns the container's canonical JSON bytes. `cost` is scrypt's n (tests lower it)."""
    if not isinstance(plaintext, bytes | bytearray):
        raise InvalidInput("plaintext", "must be bytes")
    _check_purpose(purpose)
    if not passphrase:
        raise InvalidInput("passphrase", "must not be empty")
    _check_cost(cost, "cost")
    salt = secrets.token_bytes(SALT_BYTES)
    nonce = secrets.token_bytes(NONCE_BYTES)
    header: dict[str, Any] = {
        "version": FORMAT_VERSION,
        "purpose": purpose,
        "kdf": {"name": KDF, "salt": b64url(salt), "n": cost, "r": SCRYPT_R, "p": SCRYPT_P},
        "aead": AEAD,
        "nonce": b64url(nonce),
    }
    key = _derive(passphrase, salt, cost, SCRYPT_R, SCRYPT_P)
    ciphertext = AESGCM(key).encrypt(nonce, bytes(plaintext), canonical_bytes(header))
    return canonical_bytes({**header, "ciphertext": b64url(ciphertext)})


def _parse(sealed: bytes) -> tuple[dict[str, Any], bytes, bytes, bytes, tuple[int, int, int]]:
    """Check the container's structure; returns (header, salt, nonce, ciphertext, (n, r, p))."""
    if not isinstance(sealed, bytes | bytearray):
        raise FormatError(WHAT, "must be bytes")
    container = parse_canonical(bytes(sealed), WHAT)
    if not isinstance(container, dict):
        raise FormatError(WHAT, "expected a JSON object")
    if canonical_bytes(container) != bytes(sealed):
        raise FormatError(WHAT, "not in canonical form (modified?)")
    check_version(container, WHAT)
    extra = set(container) - _HEADER_FIELDS - {"ciphertext"}
    if extra:
        raise FormatError(f"{WHAT}.{sorted(extra)[0]}", "unknown field")
    require(container, "purpose", str, WHAT)
    if require(container, "aead", str, WHAT) != AEAD:
        raise FormatError(f"{WHAT}.aead", f"unsupported (expected {AEAD})")
    kdf = require(container, "kdf", dict, WHAT)
    where = f"{WHAT}.kdf"
    if set(kdf) != _KDF_FIELDS:
        raise FormatError(where, f"expected exactly the fields {sorted(_KDF_FIELDS)}")
    if require(kdf, "name", str, where) != KDF:
        raise FormatError(f"{where}.name", f"unsupported (expected {KDF})")
    salt = parse_b64url(require(kdf, "salt", str, where), f"{where}.salt")
    if len(salt) != SALT_BYTES:
        raise FormatError(f"{where}.salt", f"expected {SALT_BYTES} bytes")
    n = require(kdf, "n", int, where)
    _check_cost(n, f"{where}.n")
    r = require(kdf, "r", int, where)
    p = require(kdf, "p", int, where)
    if not 1 <= r <= MAX_SCRYPT_R:
        raise FormatError(f"{where}.r", f"must be in 1..{MAX_SCRYPT_R}")
    if not 1 <= p <= MAX_SCRYPT_P:
        raise FormatError(f"{where}.p", f"must be in 1..{MAX_SCRYPT_P}")
    if 128 * n * r > MAX_SCRYPT_MEMORY:
        raise FormatError(where, "asks scrypt for more than 1 GiB of memory")
    nonce = parse_b64url(require(container, "nonce", str, WHAT), f"{WHAT}.nonce")
    if len(nonce) != NONCE_BYTES:
        raise FormatError(f"{WHAT}.nonce", f"expected {NONCE_BYTES} bytes")
    ciphertext = parse_b64url(require(container, "ciphertext", str, WHAT), f"{WHAT}.ciphertext")
    if len(ciphertext) < 16:
        raise FormatError(f"{WHAT}.ciphertext", "shorter than the authentication tag")
    header = {k: v for k, v in container.items() if k != "ciphertext"}
    return header, salt, nonce, ciphertext, (n, r, p)


def sealed_purpose(sealed: bytes) -> str:
    """The purpose a container says it was sealed for (unauthenticated until opened)."""
    return _parse(sealed)[0]["purpose"]


def unseal(sealed: bytes, passphrase: str, purpose: str) -> bytes:
    """Open a container; SealError for a wrong passphrase, a modified file or the wrong purpose,
    FormatError for a malformed one."""
    _check_purpose(purpose)
    header, salt, nonce, ciphertext, (n, r, p) = _parse(sealed)
    if header["purpose"] != purpose:
        raise SealError(f"sealed for {header['purpose']!r}, not for {purpose!r}")
    key = _derive(passphrase, salt, n, r, p)
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, canonical_bytes(header))
    except InvalidTag as exc:
        raise SealError("wrong passphrase or modified file") from exc


def write_sealed(
    path: str | os.PathLike[str],
    plaintext: bytes,
    passphrase: str,
    purpose: str,
    *,
    cost: int = DEFAULT_SCRYPT_N,
) -> None:
    """Seal and write atomically, readable by the owner only (0600)."""
    write_atomic(path, seal(plaintext, passphrase, purpose, cost=cost), mode=0o600)


def read_sealed(path: str | os.PathLike[str], passphrase: str, purpose: str) -> bytes:
    """Read and open a sealed file; a missing file is a FormatError naming it."""
    source = Path(path)
    try:
        data = source.read_bytes()
    except FileNotFoundError as exc:
        raise FormatError(WHAT, f"file {source} not found") from exc
    except OSError as exc:
        raise FormatError(WHAT, f"cannot read {source}: {exc.strerror}") from exc
    try:
        return unseal(data, passphrase, purpose)
    except SealError as exc:
        raise SealError(f"{source}: {exc}") from exc
    except FormatError as exc:
        raise FormatError(f"{source}: {exc.field}", exc.problem) from exc
