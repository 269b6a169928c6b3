"""The ballot log's formats: log entries (leaves), signed log heads and the collector's receipts.

docs/spec.md, "Receipt and ballot log":
- leaf i of the log is RFC 9162's leaf hash of canonical(log entry), the entry being
  {version, ballot_hash, received}: the hash of the signed ballot and when the collector took it
- log head {version, election_id, size, root_hash, timestamp}, signed by the collector under
  DOMAINS["log_head"]
- receipt {version, election_id, ballot_hash, log_index, received, log_head}, log_head being
  a signed head whose size covers log_index, signed by the collector under DOMAINS["receipt"]

Times are integer milliseconds since the Unix epoch (UTC), as in RFC 9162's timestamps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from canonical.encoding import (
    FORMAT_VERSION,
    FormatError,
    b64url,
    canonical_bytes,
    check_version,
    parse_b64url,
    require,
)
from crypto import merkle

HASH_SIZE = 32
MAX_ID_LENGTH = 200


def _hash_field(obj: Mapping[str, Any], field: str, where: str) -> bytes:
    value = parse_b64url(require(obj, field, str, where), f"{where}.{field}")
    if len(value) != HASH_SIZE:
        raise FormatError(f"{where}.{field}", f"expected a {HASH_SIZE}-byte hash")
    return value


def _count_field(obj: Mapping[str, Any], field: str, where: str) -> int:
    value = require(obj, field, int, where)
    if value < 0:
        raise FormatError(f"{where}.{field}", "must not be negative")
    return value


def _id_field(obj: Mapping[str, Any], field: str, where: str) -> str:
    value = require(obj, field, str, where)
    if not value or len(value) > MAX_ID_LENGTH:
        raise FormatError(f"{where}.{field}", f"expected 1 to {MAX_ID_LENGTH} characters")
    return value


def _exact_keys(obj: Mapping[str, Any], keys: set[str], where: str) -> None:
    extra = set(obj) - keys
    if extra:
        raise FormatError(f"{where}.{sorted(extra)[0]}", "unexpected field")


# --- log entries (leaves) ------------------------------------------------------------------------
def log_entry(ballot_hash: bytes, received: int) -> dict[str, Any]:
    return {"version": FORMAT_VERSION, "ballot_hash": b64url(ballot_hash), "received": received}


def entry_leaf_hash(ballot_hash: bytes, received: int) -> bytes:
    """The Merkle leaf hash of the log entry for a ballot received at `received` (ms)."""
    return merkle.leaf_hash(canonical_bytes(log_entry(ballot_hash, received)))


# --- log heads -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LogHead:
    election_id: str
    size: int
    root_hash: bytes
    timestamp: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "election_id": self.election_id,
            "size": self.size,
            "root_hash": b64url(self.root_hash),
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_dict(cls, obj: Any, where: str = "log_head") -> LogHead:
        check_version(obj, where)
        _exact_keys(obj, {"version", "election_id", "size", "root_hash", "timestamp"}, where)
        return cls(
            election_id=_id_field(obj, "election_id", where),
            size=_count_field(obj, "size", where),
            root_hash=_hash_field(obj, "root_hash", where),
            timestamp=_count_field(obj, "timestamp", where),
        )


# --- receipts ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Receipt:
    election_id: str
    ballot_hash: bytes
    log_index: int
    received: int
    # the signed head document as the collector sent it; its payload is `head`
    log_head_document: dict[str, Any]
    head: LogHead

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "election_id": self.election_id,
            "ballot_hash": b64url(self.ballot_hash),
            "log_index": self.log_index,
            "received": self.received,
            "log_head": self.log_head_document,
        }

    @property
    def leaf_hash(self) -> bytes:
        return entry_leaf_hash(self.ballot_hash, self.received)

    @classmethod
    def from_dict(cls, obj: Any, head: LogHead, where: str = "receipt") -> Receipt:
        """Parse a receipt payload whose `log_head` the caller has opened into `head` (the
        signature check lives with whoever holds the trust store)."""
        check_version(obj, where)
        keys = {"version", "election_id", "ballot_hash", "log_index", "received", "log_head"}
        _exact_keys(obj, keys, where)
        receipt = cls(
            election_id=_id_field(obj, "election_id", where),
            ballot_hash=_hash_field(obj, "ballot_hash", where),
            log_index=_count_field(obj, "log_index", where),
            received=_count_field(obj, "received", where),
            log_head_document=require(obj, "log_head", dict, where),
            head=head,
        )
        if head.election_id != receipt.election_id:
            raise FormatError(f"{where}.log_head.election_id", "not the receipt's election")
        if receipt.log_index >= head.size:
            raise FormatError(
                f"{where}.log_index", f"{receipt.log_index} is not covered by a head of {head.size}"
            )
        if head.timestamp < receipt.received:
            raise FormatError(f"{where}.log_head.timestamp", "signed before the ballot arrived")
        return receipt
