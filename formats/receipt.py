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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from canonical.encoding import (
    DOMAINS,
    FORMAT_VERSION,
    FormatError,
    b64url,
    canonical_bytes,
    check_version,
    parse_b64url,
    require,
)
from crypto import merkle
from crypto.errors import CryptoError

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


# --- the latest-ballot statement (vote check) ----------------------------------------------------
@dataclass(frozen=True)
class LatestStatement:
    """The collector's signed word, in answer to a vote check, on which ballot of the checked
    ballot's voter counts now: when the log had `log_size` entries (at `timestamp`), the
    latest ballot signed by the same e-ID holder as ballot `ballot_hash` (at `log_index`) was
    the one at `latest_index`. Signed under DOMAINS["latest_ballot"]; docs/spec.md, "Vote
    check", says what a device can check of it now and what the ballot box proves later."""

    election_id: str
    ballot_hash: bytes
    log_index: int
    latest_index: int
    log_size: int
    timestamp: int

    @property
    def is_latest(self) -> bool:
        return self.latest_index == self.log_index

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "election_id": self.election_id,
            "ballot_hash": b64url(self.ballot_hash),
            "log_index": self.log_index,
            "latest_index": self.latest_index,
            "log_size": self.log_size,
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_dict(cls, obj: Any, where: str = "latest") -> LatestStatement:
        check_version(obj, where)
        keys = {
            "version",
            "election_id",
            "ballot_hash",
            "log_index",
            "latest_index",
            "log_size",
            "timestamp",
        }
        _exact_keys(obj, keys, where)
        statement = cls(
            election_id=_id_field(obj, "election_id", where),
            ballot_hash=_hash_field(obj, "ballot_hash", where),
            log_index=_count_field(obj, "log_index", where),
            latest_index=_count_field(obj, "latest_index", where),
            log_size=_count_field(obj, "log_size", where),
            timestamp=_count_field(obj, "timestamp", where),
        )
        if not statement.log_index <= statement.latest_index < statement.log_size:
            raise FormatError(
                f"{where}.latest_index", "not between the ballot's index and the log's size"
            )
        return statement


# --- a receipt against the final log -------------------------------------------------------------


class ReceiptContradicted(FormatError):
    """A receipt the collector validly signed that the final log contradicts: the ballot it
    names is not at its index, or the log it was shown is not a prefix of the final one. The
    receipt is then signed evidence that the collector dropped, replaced or reordered a
    ballot after acknowledging it."""


def open_by_collector(
    document: Any, domain: str, collector_certificates: Sequence[bytes], where: str
) -> dict[str, Any]:
    """The payload of a document signed by one of the manifest's collector certificates: the
    envelope's certificate is byte for byte one of `collector_certificates` (DER) and the
    signature verifies under it (docs/spec.md, the collector's signer rule). FormatError or
    crypto.eid errors otherwise."""
    from crypto.eid import WrongSigner
    from formats.signed import open_signed

    payload, _, _ = open_signed(document, domain, where=where)
    certificate = parse_b64url(document["signature"]["certificate"], f"{where}.signature")
    if certificate not in collector_certificates:
        raise WrongSigner(
            f"{where}.signature.certificate", "signed, but not by a collector the manifest names"
        )
    return payload


def open_final_head(
    document: Any,
    collector_certificates: Sequence[bytes],
    leaves: Sequence[bytes],
    where: str,
    subtree: merkle.SubtreeRoot | None = None,
) -> LogHead:
    """The final signed log head of a record, checked against its leaf hashes (their number
    and RFC 9162 root; `subtree` as crypto.merkle takes it)."""
    head = LogHead.from_dict(
        open_by_collector(document, DOMAINS["log_head"], collector_certificates, where),
        f"{where}.payload",
    )
    if head.size != len(leaves) or merkle.root_hash(leaves, subtree) != head.root_hash:
        raise FormatError(where, "the record's leaf hashes do not rebuild its signed log head")
    return head


def check_receipt_in_log(
    document: Any,
    election_id: str,
    collector_certificates: Sequence[bytes],
    final: LogHead,
    leaves: Sequence[bytes],
    where: str = "receipt",
    subtree: merkle.SubtreeRoot | None = None,
) -> Receipt:
    """A voter's receipt against the final log (docs/spec.md, "Receipt and ballot log"): the
    receipt and its head signed by a collector of the manifest, for this election; the leaf at
    its index is its ballot's entry; the head it carries is consistent with the final head
    (an RFC 9162 consistency proof made from the leaves). ReceiptContradicted when the
    receipt is genuine and the log disagrees with it. Give the same
    `merkle.cached_subtree_root(leaves)` for many receipts of one log: each proof then costs
    O(log n) hashes after the first."""
    from canonical.encoding import DOMAINS

    payload = open_by_collector(document, DOMAINS["receipt"], collector_certificates, where)
    head_payload = open_by_collector(
        require(payload, "log_head", dict, where),
        DOMAINS["log_head"],
        collector_certificates,
        f"{where}.log_head",
    )
    head = LogHead.from_dict(head_payload, f"{where}.log_head.payload")
    receipt = Receipt.from_dict(payload, head, f"{where}.payload")
    if receipt.election_id != election_id:
        raise FormatError(f"{where}.election_id", f"not election {election_id!r}")
    index = receipt.log_index
    if index >= final.size:
        raise ReceiptContradicted(
            f"{where}.log_index",
            f"the final log has {final.size} entries, so the ballot receipted at index "
            f"{index} is missing",
        )
    if leaves[index] != receipt.leaf_hash:
        raise ReceiptContradicted(
            f"{where}.log_index",
            f"the final log holds another entry at index {index} than the receipted ballot",
        )
    if head.size > final.size:
        raise ReceiptContradicted(
            f"{where}.log_head.size",
            f"the receipt's log had {head.size} entries, the final log only {final.size}",
        )
    proof = merkle.consistency_proof(leaves, head.size, final.size, subtree)
    try:
        merkle.verify_consistency(head.size, final.size, head.root_hash, final.root_hash, proof)
    except CryptoError as exc:
        raise ReceiptContradicted(
            f"{where}.log_head",
            "the final log does not extend the log the receipt's signed head showed: an "
            f"entry before index {head.size} was dropped, replaced or moved ({exc})",
        ) from exc
    return receipt
