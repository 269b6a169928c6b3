"""Errors of the crypto layer. Each names the field or party at fault, never a traceback."""

from __future__ import annotations


class CryptoError(Exception):
    """Base class of every error the crypto layer raises on purpose."""


class InvalidInput(CryptoError, ValueError):
    """A value from outside that is malformed or out of range; `field` names it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class ProofInvalid(CryptoError):
    """A proof that does not verify; `what` names the proof (ballot, contest, trustee...)."""

    def __init__(self, what: str, problem: str = "proof does not verify") -> None:
        super().__init__(f"{what}: {problem}")
        self.what = what
        self.problem = problem


class DecryptionError(CryptoError):
    """Decryption could not be completed (too few valid shares, overflowing counts...)."""


class SealError(CryptoError):
    """A sealed file could not be opened: wrong passphrase, modified or malformed file."""
