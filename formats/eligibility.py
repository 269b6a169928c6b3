"""Eligibility: before the voter chooses, the voter app asks the collector whether this e-ID may
vote here, in which district, and whether the election is open (docs/spec.md, "Collector API",
"Eligibility").

The request, signed with the voter's e-ID under DOMAINS["eligibility_request"] (a domain of its
own, so that no signed ballot opens as a request and no request as a ballot):

    {"version": 1, "election_id", "manifest_hash": b64url, "challenge": b64url(32 bytes)}

The answer, signed by the collector under DOMAINS["eligibility"] (a lie is signed evidence):

    {"version": 1, "election_id", "manifest_hash": b64url, "challenge": b64url,
     "personal_code", "district", "status": "open" | "not_open" | "over" | "closed",
     "has_ballot": bool, "at": ms}

`at` is the collector's clock when it answered; `status` is what the period says at `at`,
or "closed" once the officials closed the collector.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from canonical.encoding import (
    FORMAT_VERSION,
    FormatError,
    b64url,
    check_version,
    parse_b64url,
    require,
)
from formats.ballot import CHALLENGE_BYTES
from formats.manifest import ID_RE, Manifest
from formats.personal_codes import PERSONAL_CODE_RE

STATUSES = ("open", "not_open", "over", "closed")
# The envelope, a certificate (formats.signed allows 16 KiB of DER, 21,846 characters in
# base64url) and the small payload.
MAX_REQUEST_BYTES = 24 * 1024
REQUEST_FIELDS = frozenset({"version", "election_id", "manifest_hash", "challenge"})
ANSWER_FIELDS = frozenset(
    {
        "version",
        "election_id",
        "manifest_hash",
        "challenge",
        "personal_code",
        "district",
        "status",
        "has_ballot",
        "at",
    }
)


def _exact(obj: Mapping[str, Any], fields: frozenset[str], where: str) -> None:
    extra = sorted(set(obj) - fields)
    if extra:
        raise FormatError(f"{where}.{extra[0]}", "unknown field")


def _hash(obj: Mapping[str, Any], name: str, where: str, size: int = 32) -> bytes:
    value = parse_b64url(require(obj, name, str, where), f"{where}.{name}")
    if len(value) != size:
        raise FormatError(f"{where}.{name}", f"expected {size} bytes")
    return value


def _identifier(obj: Mapping[str, Any], name: str, where: str, pattern: Any) -> str:
    value = require(obj, name, str, where)
    if not pattern.match(value):
        raise FormatError(f"{where}.{name}", "not a valid identifier")
    return value


@dataclass(frozen=True)
class EligibilityRequest:
    election_id: str
    manifest_hash: bytes
    challenge: bytes

    @classmethod
    def for_manifest(cls, manifest: Manifest, challenge: bytes) -> EligibilityRequest:
        return cls(manifest.election_id, manifest.hash, challenge)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "election_id": self.election_id,
            "manifest_hash": b64url(self.manifest_hash),
            "challenge": b64url(self.challenge),
        }

    @classmethod
    def from_dict(cls, obj: Any, where: str = "eligibility request") -> EligibilityRequest:
        check_version(obj, where)
        _exact(obj, REQUEST_FIELDS, where)
        return cls(
            _identifier(obj, "election_id", where, ID_RE),
            _hash(obj, "manifest_hash", where),
            _hash(obj, "challenge", where, CHALLENGE_BYTES),
        )


@dataclass(frozen=True)
class EligibilityAnswer:
    election_id: str
    manifest_hash: bytes
    challenge: bytes
    personal_code: str
    district: str
    status: str
    has_ballot: bool
    at: int  # ms since the epoch, the collector's clock

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "election_id": self.election_id,
            "manifest_hash": b64url(self.manifest_hash),
            "challenge": b64url(self.challenge),
            "personal_code": self.personal_code,
            "district": self.district,
            "status": self.status,
            "has_ballot": self.has_ballot,
            "at": self.at,
        }

    @classmethod
    def from_dict(cls, obj: Any, where: str = "eligibility") -> EligibilityAnswer:
        check_version(obj, where)
        _exact(obj, ANSWER_FIELDS, where)
        status = require(obj, "status", str, where)
        if status not in STATUSES:
            raise FormatError(f"{where}.status", f"expected one of {', '.join(STATUSES)}")
        at = require(obj, "at", int, where)
        if at < 0:
            raise FormatError(f"{where}.at", "must not be negative")
        return cls(
            _identifier(obj, "election_id", where, ID_RE),
            _hash(obj, "manifest_hash", where),
            _hash(obj, "challenge", where, CHALLENGE_BYTES),
            _identifier(obj, "personal_code", where, PERSONAL_CODE_RE),
            _identifier(obj, "district", where, ID_RE),
            status,
            require(obj, "has_ballot", bool, where),
            at,
        )


def status_at(manifest: Manifest, at_ms: int, closed: bool) -> str:
    """The election's status at `at_ms` by its period, or "closed" once the collector was
    closed: the one rule the collector answers by and the voter app checks the answer with."""
    if closed:
        return "closed"
    if at_ms < int(manifest.period.start.timestamp() * 1000):
        return "not_open"
    if at_ms >= int(manifest.period.end.timestamp() * 1000):
        return "over"
    return "open"
