"""The tally's files and the election record: one home for their formats (docs/spec.md,
"Tally" and "Election record").

Four documents, each canonical JSON with `version` and `kind`:

- the tally (`tally.json`, written by `ivote tally process`): the signed manifest, the
  collector's final signed log head and every leaf hash, the tally report's counts, the
  encrypted totals (one per district, contest and part) and the hash of the observers' bundle;
- the observers' bundle (`observers-bundle.json`): the counted ballots, shuffled and stripped
  of everything that links them to a voter or a log leaf, with their validity proofs;
- a trustee's decryption shares (`ivote ceremony decrypt`): one share with proof per total,
  bound to the tally by its hash;
- the election record (`record.json`, written by `ivote tally combine`): the tally plus every
  valid decryption share, the decrypted plaintexts and the results (per district and
  contest; for national contests also their totals over every district).

Which voters' i-votes count is written next to the tally (`counted-voters.json`) and never
into the record: publishing it next to the counted ballots would undo the shuffle.

This module only parses and writes the shapes; the checks that need cryptography live with
the verifier (verifier/record.py) and the crypto package.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from canonical.encoding import (
    Encoded,
    FormatError,
    b64url,
    check_version,
    hex_int,
    object_hash,
    parse_b64url,
    parse_hex_int,
    require,
)
from canonical.files import (
    read_json_file,
    write_atomic,
    write_atomic_chunks,
    write_canonical_json,
)
from i18n import N_

if TYPE_CHECKING:
    from formats.manifest import Manifest

TALLY_KIND = "ivote/tally"
BUNDLE_KIND = "ivote/observers-bundle"
SHARES_KIND = "ivote/decryption-shares"
RECORD_KIND = "ivote/election-record"
COUNTED_VOTERS_KIND = "ivote/counted-voters"

# File names inside a tally directory and a record directory.
TALLY_FILE = "tally.json"
BUNDLE_FILE = "observers-bundle.json"
COUNTED_VOTERS_FILE = "counted-voters.json"
RECORD_FILE = "record.json"
CRLS_DIR = "crls"  # the CRLs the tally used, each named crls/<hex SHA-256>.crl
COPY_BLOCK = 1 << 20

# Why a ballot from the box is not counted, beyond revotes and paper votes (docs/spec.md).
INVALID_REASONS = (
    "malformed",  # the ballot does not parse
    "signature",  # the voter's signature does not verify
    "certificate-revoked",  # revoked at the time the collector received the ballot
    "certificate-expired",  # outside its validity period at that time
    "certificate-untrusted",  # not issued by a CA the election trusts
    "certificate",  # any other certificate problem (key usage, malformed...)
    "not-eligible",  # the signer is not on the voter list
    "wrong-district",  # the ballot is for another district than the voter's
    "outside-voting-period",  # received before the start or after the end
    "wrong-election",  # the ballot names another election or manifest
    "replayed",  # its challenge was signed in an earlier ballot (a replay of that ballot)
    "copied-ciphertext",  # a ciphertext another voter cast earlier (ballot copying)
    "proof",  # a validity proof does not verify
)
COUNT_FIELDS = ("received", "superseded", "cancelled_by_paper", "invalid", "counted")
# What people call each count and each reason (marked for the catalogs; shown with i18n._)
COUNT_LABELS = {
    "received": N_("received"),
    "superseded": N_("superseded by a later i-vote"),
    "cancelled_by_paper": N_("cancelled by a paper vote"),
    "invalid": N_("invalid"),
    "counted": N_("counted"),
}
REASON_LABELS = {
    "malformed": N_("the ballot does not parse"),
    "signature": N_("the voter's signature does not verify"),
    "certificate-revoked": N_("the e-ID was revoked when the ballot arrived"),
    "certificate-expired": N_("the e-ID was not valid when the ballot arrived"),
    "certificate-untrusted": N_("the e-ID is not from a trusted issuer"),
    "certificate": N_("another problem with the e-ID certificate"),
    "not-eligible": N_("the signer is not on the voter list"),
    "wrong-district": N_("the ballot is for another district than the voter's"),
    "outside-voting-period": N_("received outside the voting period"),
    "wrong-election": N_("the ballot is for another election"),
    "replayed": N_("a copy of an earlier ballot sent again"),
    "copied-ciphertext": N_("copies another voter's encrypted choice"),
    "proof": N_("a validity proof does not verify"),
}
UNASSIGNED = "unassigned"  # report bucket of ballots naming no district of the manifest


def _small_int(obj: Any, name: str, where: str) -> int:
    value = require(obj, name, int, where)
    if value < 0:
        raise FormatError(f"{where}.{name}", "must not be negative")
    return value


def _string(obj: Any, name: str, where: str) -> str:
    value = require(obj, name, str, where)
    if not value:
        raise FormatError(f"{where}.{name}", "must not be empty")
    return value


def _hash32(text: Any, field: str) -> bytes:
    """A SHA-256 hash written in base64url."""
    digest = parse_b64url(text, field)
    if len(digest) != 32:
        raise FormatError(field, "not a 32-byte hash")
    return digest


def _digest(obj: Any, name: str, where: str) -> bytes:
    return _hash32(require(obj, name, str, where), f"{where}.{name}")


def _kind(obj: Any, kind: str, where: str) -> None:
    check_version(obj, where)
    found = require(obj, "kind", str, where)
    if found != kind:
        raise FormatError(f"{where}.kind", f"expected {kind!r}, found {found!r}")


def _only(obj: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        raise FormatError(f"{where}.{extra[0]}", "unexpected field")


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Counts:
    """What happened to the ballots of one district (or of the whole election)."""

    received: int = 0
    superseded: int = 0
    cancelled_by_paper: int = 0
    invalid: int = 0
    counted: int = 0

    def to_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNT_FIELDS}

    @classmethod
    def from_dict(cls, obj: Any, where: str) -> Counts:
        if not isinstance(obj, Mapping):
            raise FormatError(where, "expected an object")
        _only(obj, set(COUNT_FIELDS), where)
        return cls(**{name: _small_int(obj, name, where) for name in COUNT_FIELDS})

    def plus(self, other: Counts) -> Counts:
        return Counts(**{n: getattr(self, n) + getattr(other, n) for n in COUNT_FIELDS})

    @property
    def accounted(self) -> int:
        """Every received ballot is exactly one of these."""
        return self.superseded + self.cancelled_by_paper + self.invalid + self.counted


@dataclass(frozen=True)
class InvalidBallot:
    """A ballot of the box that does not count, and why. `district` is the district the ballot
    names, or UNASSIGNED."""

    log_index: int
    district: str
    reason: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "log_index": self.log_index,
            "district": self.district,
            "reason": self.reason,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, obj: Any, where: str) -> InvalidBallot:
        if not isinstance(obj, Mapping):
            raise FormatError(where, "expected an object")
        _only(obj, {"log_index", "district", "reason", "detail"}, where)
        reason = _string(obj, "reason", where)
        if reason not in INVALID_REASONS:
            raise FormatError(f"{where}.reason", f"unknown reason {reason!r}")
        return cls(
            _small_int(obj, "log_index", where),
            _string(obj, "district", where),
            reason,
            require(obj, "detail", str, where),
        )


@dataclass(frozen=True)
class TallyReport:
    """The tally report: counts per district (plus UNASSIGNED) and every invalid ballot."""

    districts: dict[str, Counts]
    invalid_ballots: tuple[InvalidBallot, ...]

    @property
    def total(self) -> Counts:
        result = Counts()
        for counts in self.districts.values():
            result = result.plus(counts)
        return result

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total.to_dict(),
            "districts": {name: c.to_dict() for name, c in sorted(self.districts.items())},
            "invalid_ballots": [b.to_dict() for b in self.invalid_ballots],
        }

    @classmethod
    def from_dict(cls, obj: Any, where: str = "report") -> TallyReport:
        """Parses the shape only; whether the numbers add up is a verifier check, so that a
        record that does not add up is reported as such rather than refused unread."""
        if not isinstance(obj, Mapping):
            raise FormatError(where, "expected an object")
        _only(obj, {"total", "districts", "invalid_ballots"}, where)
        Counts.from_dict(require(obj, "total", dict, where), f"{where}.total")
        districts = {
            name: Counts.from_dict(value, f"{where}.districts.{name}")
            for name, value in require(obj, "districts", dict, where).items()
        }
        invalid = tuple(
            InvalidBallot.from_dict(item, f"{where}.invalid_ballots[{i}]")
            for i, item in enumerate(require(obj, "invalid_ballots", list, where))
        )
        return cls(districts, invalid)

    @staticmethod
    def stated_total(obj: Mapping[str, Any], where: str = "report") -> Counts:
        return Counts.from_dict(obj["total"], f"{where}.total")


# --------------------------------------------------------------------------- totals


@dataclass(frozen=True)
class EncryptedTotal:
    """The product of the counted ballots' ciphertexts for one district, contest and part."""

    district: str
    contest: str
    part: int
    ciphertext: int

    @property
    def label(self) -> str:
        return f"{self.district}/{self.contest}/{self.part}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "district": self.district,
            "contest": self.contest,
            "part": self.part,
            "ciphertext": hex_int(self.ciphertext),
        }

    @classmethod
    def from_dict(cls, obj: Any, where: str) -> EncryptedTotal:
        if not isinstance(obj, Mapping):
            raise FormatError(where, "expected an object")
        _only(obj, {"district", "contest", "part", "ciphertext"}, where)
        return cls(
            _string(obj, "district", where),
            _string(obj, "contest", where),
            _small_int(obj, "part", where),
            parse_hex_int(require(obj, "ciphertext", str, where), f"{where}.ciphertext"),
        )


def _totals(obj: Any, where: str) -> tuple[EncryptedTotal, ...]:
    items = require(obj, "totals", list, where)
    totals = tuple(EncryptedTotal.from_dict(t, f"{where}.totals[{i}]") for i, t in enumerate(items))
    seen: set[tuple[str, str, int]] = set()
    for i, total in enumerate(totals):
        key = (total.district, total.contest, total.part)
        if key in seen:
            raise FormatError(f"{where}.totals[{i}]", f"{total.label} appears twice")
        seen.add(key)
    return totals


# --------------------------------------------------------------------------- bundle


@dataclass(frozen=True)
class AnonymousBallot:
    """A counted ballot without its voter: the district and, per contest id, the contest's
    ciphertexts and proofs as `crypto.membership.EncryptedContest.to_dict()` writes them."""

    district: str
    contests: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"district": self.district, "contests": dict(self.contests)}

    @classmethod
    def from_dict(cls, obj: Any, where: str) -> AnonymousBallot:
        if not isinstance(obj, Mapping):
            raise FormatError(where, "expected an object")
        _only(obj, {"district", "contests"}, where)
        contests = require(obj, "contests", dict, where)
        return cls(_string(obj, "district", where), dict(contests))


@dataclass(frozen=True)
class EncodedBallot:
    """A counted ballot held as the canonical bytes of its AnonymousBallot document, made
    where the ballot was checked (the tallier's worker processes, in parallel): the bundle
    is then hashed and written from these bytes, and the tallier keeps one bytes object per
    ballot instead of its parsed contests."""

    document: Encoded

    @classmethod
    def of(cls, district: str, contests: dict[str, Any]) -> EncodedBallot:
        return cls(Encoded(AnonymousBallot(district, contests).to_dict()))

    def to_dict(self) -> dict[str, Any]:
        """AnonymousBallot.to_dict() of this ballot (parsed from the bytes)."""
        document: dict[str, Any] = self.document.value()
        return document


@dataclass(frozen=True)
class ObserversBundle:
    election_id: str
    manifest_hash: bytes
    ballots: tuple[AnonymousBallot | EncodedBallot, ...]

    def to_dict(self) -> dict[str, Any]:
        """The bundle as plain JSON values (encoded ballots parsed again)."""
        return {
            **self._head(),
            "ballots": [b.to_dict() for b in self.ballots],
        }

    def document(self) -> dict[str, Any]:
        """The bundle for hashing and writing (canonical.encoding's object_hash and
        write_canonical_json): encoded ballots stay bytes. Its canonical bytes are those
        of to_dict()."""
        return {
            **self._head(),
            "ballots": [
                b.document if isinstance(b, EncodedBallot) else b.to_dict() for b in self.ballots
            ],
        }

    def _head(self) -> dict[str, Any]:
        return {
            "version": 1,
            "kind": BUNDLE_KIND,
            "election_id": self.election_id,
            "manifest_hash": b64url(self.manifest_hash),
        }

    @property
    def hash(self) -> bytes:
        return object_hash(self.document())

    @classmethod
    def from_dict(cls, obj: Any, where: str = "observers_bundle") -> ObserversBundle:
        _kind(obj, BUNDLE_KIND, where)
        _only(obj, {"version", "kind", "election_id", "manifest_hash", "ballots"}, where)
        ballots = tuple(
            AnonymousBallot.from_dict(b, f"{where}.ballots[{i}]")
            for i, b in enumerate(require(obj, "ballots", list, where))
        )
        return cls(
            _string(obj, "election_id", where),
            parse_b64url(require(obj, "manifest_hash", str, where), f"{where}.manifest_hash"),
            ballots,
        )


# --------------------------------------------------------------------------- tally


@dataclass(frozen=True)
class LogSnapshot:
    """The collector's final signed log head (as formats.receipt writes it) and every leaf
    hash in log order, so that anyone can rebuild the head and check a receipt against it."""

    head: dict[str, Any]
    leaves: tuple[bytes, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"head": self.head, "leaves": [b64url(leaf) for leaf in self.leaves]}

    @classmethod
    def from_dict(cls, obj: Any, where: str) -> LogSnapshot:
        if not isinstance(obj, Mapping):
            raise FormatError(where, "expected an object")
        _only(obj, {"head", "leaves"}, where)
        leaves = tuple(
            _hash32(leaf, f"{where}.leaves[{i}]")
            for i, leaf in enumerate(require(obj, "leaves", list, where))
        )
        return cls(dict(require(obj, "head", dict, where)), leaves)


@dataclass(frozen=True)
class BundleReference:
    """The hash of the observers' bundle and how many ballots it holds."""

    hash: bytes
    ballots: int

    def to_dict(self) -> dict[str, Any]:
        return {"hash": b64url(self.hash), "ballots": self.ballots}

    @classmethod
    def from_dict(cls, obj: Any, where: str) -> BundleReference:
        if not isinstance(obj, Mapping):
            raise FormatError(where, "expected an object")
        _only(obj, {"hash", "ballots"}, where)
        return cls(_digest(obj, "hash", where), _small_int(obj, "ballots", where))


@dataclass(frozen=True)
class TallyInputs:
    """Everything the cleansing used, named by hash, so that an auditor holding the inputs
    can tell that they are the ones this tally was made from: the collector-signed ballot box
    (the hash of its signed index, which covers every member), the voter-list version used
    for eligibility, the organiser-signed paper-voter list and the CRLs (SHA-256 of each DER
    file, sorted)."""

    ballot_box: bytes
    voter_list_version: int
    voter_list_hash: bytes
    paper_voters: bytes
    paper_voters_count: int
    crls: tuple[bytes, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ballot_box": b64url(self.ballot_box),
            "voter_list": {
                "list_version": self.voter_list_version,
                "hash": b64url(self.voter_list_hash),
            },
            "paper_voters": {"hash": b64url(self.paper_voters), "voters": self.paper_voters_count},
            "crls": [b64url(h) for h in self.crls],
        }

    @classmethod
    def from_dict(cls, obj: Any, where: str) -> TallyInputs:
        if not isinstance(obj, Mapping):
            raise FormatError(where, "expected an object")
        _only(obj, {"ballot_box", "voter_list", "paper_voters", "crls"}, where)
        voter_list = require(obj, "voter_list", dict, where)
        _only(voter_list, {"list_version", "hash"}, f"{where}.voter_list")
        paper = require(obj, "paper_voters", dict, where)
        _only(paper, {"hash", "voters"}, f"{where}.paper_voters")
        crls = require(obj, "crls", list, where)
        parsed_crls = tuple(_hash32(value, f"{where}.crls[{i}]") for i, value in enumerate(crls))
        if list(parsed_crls) != sorted(set(parsed_crls)):
            raise FormatError(f"{where}.crls", "not sorted or repeated")
        version = _small_int(voter_list, "list_version", f"{where}.voter_list")
        if version < 1:
            raise FormatError(f"{where}.voter_list.list_version", "must be at least 1")
        return cls(
            _digest(obj, "ballot_box", where),
            version,
            _digest(voter_list, "hash", f"{where}.voter_list"),
            _digest(paper, "hash", f"{where}.paper_voters"),
            _small_int(paper, "voters", f"{where}.paper_voters"),
            parsed_crls,
        )


_TALLY_FIELDS = {
    "version",
    "kind",
    "manifest",
    "inputs",
    "log",
    "report",
    "totals",
    "observers_bundle",
    "key_proofs",
}


@dataclass(frozen=True)
class Tally:
    """What `ivote tally process` publishes for the decryption ceremony."""

    manifest: dict[str, Any]  # the signed manifest document, as formats.manifest reads it
    inputs: TallyInputs
    log: LogSnapshot
    report: dict[str, Any]  # TallyReport.to_dict(), kept as written so that it hashes the same
    totals: tuple[EncryptedTotal, ...]
    bundle: BundleReference
    # The key-proofs document (formats.keyproofs) from the election directory, as published;
    # whether it is there and the manifest's is the verifier's check. Written only when set.
    key_proofs: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        return {
            "version": 1,
            "manifest": self.manifest,
            "inputs": self.inputs.to_dict(),
            "log": self.log.to_dict(),
            "report": self.report,
            "totals": [t.to_dict() for t in self.totals],
            "observers_bundle": self.bundle.to_dict(),
        } | ({} if self.key_proofs is None else {"key_proofs": self.key_proofs})

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "kind": TALLY_KIND}

    @property
    def hash(self) -> bytes:
        """What decryption shares bind to: the tally, whatever document carries it, without
        its copy of the key-proofs document, which the signed manifest already binds by hash
        (so a tally from before the key proofs keeps its hash, and a bad copy fails the
        key-proofs check alone)."""
        document = self.to_dict()
        document.pop("key_proofs", None)
        return object_hash(document)

    @classmethod
    def from_dict(cls, obj: Any, where: str = "tally", kind: str = TALLY_KIND) -> Tally:
        _kind(obj, kind, where)
        if kind == TALLY_KIND:
            _only(obj, _TALLY_FIELDS, where)
        report = dict(require(obj, "report", dict, where))
        TallyReport.from_dict(report, f"{where}.report")
        return cls(
            dict(require(obj, "manifest", dict, where)),
            TallyInputs.from_dict(require(obj, "inputs", dict, where), f"{where}.inputs"),
            LogSnapshot.from_dict(require(obj, "log", dict, where), f"{where}.log"),
            report,
            _totals(obj, where),
            BundleReference.from_dict(
                require(obj, "observers_bundle", dict, where), f"{where}.observers_bundle"
            ),
            dict(require(obj, "key_proofs", dict, where)) if "key_proofs" in obj else None,
        )


# --------------------------------------------------------------------------- shares


@dataclass(frozen=True)
class TrusteeShares:
    """One trustee's decryption shares, one per encrypted total in the tally's order, each as
    `crypto.threshold.DecryptionShare.to_dict()` writes it."""

    tally_hash: bytes
    trustee: int
    shares: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "kind": SHARES_KIND,
            "tally_hash": b64url(self.tally_hash),
            "trustee": self.trustee,
            "shares": list(self.shares),
        }

    @classmethod
    def from_dict(cls, obj: Any, where: str = "shares") -> TrusteeShares:
        _kind(obj, SHARES_KIND, where)
        _only(obj, {"version", "kind", "tally_hash", "trustee", "shares"}, where)
        digest = parse_b64url(require(obj, "tally_hash", str, where), f"{where}.tally_hash")
        trustee = _small_int(obj, "trustee", where)
        if trustee < 1:
            raise FormatError(f"{where}.trustee", "trustee indices start at 1")
        items = require(obj, "shares", list, where)
        for i, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise FormatError(f"{where}.shares[{i}]", "expected an object")
        return cls(digest, trustee, tuple(dict(item) for item in items))


# --------------------------------------------------------------------------- record


@dataclass(frozen=True)
class ContestResult:
    district: str
    contest: str
    counts: tuple[int, ...]  # votes per option, in the contest's option order ("vote no" last)

    def to_dict(self) -> dict[str, Any]:
        return {"district": self.district, "contest": self.contest, "counts": list(self.counts)}

    @classmethod
    def from_dict(cls, obj: Any, where: str) -> ContestResult:
        if not isinstance(obj, Mapping):
            raise FormatError(where, "expected an object")
        _only(obj, {"district", "contest", "counts"}, where)
        counts = _counts(obj, where)
        return cls(_string(obj, "district", where), _string(obj, "contest", where), counts)


def _counts(obj: Any, where: str) -> tuple[int, ...]:
    counts = require(obj, "counts", list, where)
    for i, count in enumerate(counts):
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise FormatError(f"{where}.counts[{i}]", "expected a non-negative integer")
    return tuple(counts)


@dataclass(frozen=True)
class NationalResult:
    """A national contest's totals over the whole election: its counts in every district
    added option by option, and the ballots counted in every district."""

    contest: str
    counts: tuple[int, ...]  # per option, in the contest's option order ("vote no" last)
    counted_ballots: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "contest": self.contest,
            "counts": list(self.counts),
            "counted_ballots": self.counted_ballots,
        }

    @classmethod
    def from_dict(cls, obj: Any, where: str) -> NationalResult:
        if not isinstance(obj, Mapping):
            raise FormatError(where, "expected an object")
        _only(obj, {"contest", "counts", "counted_ballots"}, where)
        return cls(
            _string(obj, "contest", where),
            _counts(obj, where),
            _small_int(obj, "counted_ballots", where),
        )


def national_totals(
    manifest: Manifest, results: Sequence[ContestResult], report: TallyReport
) -> tuple[NationalResult, ...] | None:
    """The national totals of an election (docs/spec.md, "Election record"): for each national
    contest, in the manifest's order, the element-wise sum over the manifest's districts of the
    district's counts, and the sum of the districts' counted ballots. None for an election
    without national contests (the record then has no `national_results`). A district's
    result missing, or of another length than the contest's options, is a FormatError."""
    if not manifest.national_contests:
        return None
    by_label = {(r.district, r.contest): r.counts for r in results}
    counted = sum(report.districts.get(d.id, Counts()).counted for d in manifest.districts)
    totals = []
    for contest in manifest.national_contests:
        sums = [0] * contest.counts_size
        for district in manifest.districts:
            counts = by_label.get((district.id, contest.id))
            where = f"decryption.results {district.id}/{contest.id}"
            if counts is None:
                raise FormatError(where, "missing")
            if len(counts) != len(sums):
                raise FormatError(where, f"{len(counts)} counts for {len(sums)} options")
            sums = [total + count for total, count in zip(sums, counts, strict=True)]
        totals.append(NationalResult(contest.id, tuple(sums), counted))
    return tuple(totals)


@dataclass(frozen=True)
class Decryption:
    """Every valid trustee's shares, the plaintext of each total and the decoded results;
    for an election with national contests, their national totals too (None: not in the
    record, as for an election without them)."""

    trustees: tuple[TrusteeShares, ...]
    plaintexts: tuple[int, ...]  # per total, in the tally's order
    results: tuple[ContestResult, ...]
    national_results: tuple[NationalResult, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "shares": [t.to_dict() for t in self.trustees],
            "plaintexts": [hex_int(p) for p in self.plaintexts],
            "results": [r.to_dict() for r in self.results],
        }
        # written only for an election with national contests: other records keep their bytes
        if self.national_results is not None:
            body["national_results"] = [r.to_dict() for r in self.national_results]
        return body


_RECORD_FIELDS = _TALLY_FIELDS | {"decryption"}


@dataclass(frozen=True)
class ElectionRecord:
    tally: Tally
    decryption: Decryption

    def to_dict(self) -> dict[str, Any]:
        return {**self.tally.body(), "kind": RECORD_KIND, "decryption": self.decryption.to_dict()}

    @classmethod
    def from_dict(cls, obj: Any, where: str = "record") -> ElectionRecord:
        tally = Tally.from_dict(obj, where, kind=RECORD_KIND)
        _only(obj, _RECORD_FIELDS, where)
        dec = require(obj, "decryption", dict, where)
        here = f"{where}.decryption"
        _only(dec, {"shares", "plaintexts", "results", "national_results"}, here)
        trustees = tuple(
            TrusteeShares.from_dict(item, f"{here}.shares[{i}]")
            for i, item in enumerate(require(dec, "shares", list, here))
        )
        plaintexts = tuple(
            parse_hex_int(p, f"{here}.plaintexts[{i}]")
            for i, p in enumerate(require(dec, "plaintexts", list, here))
        )
        results = tuple(
            ContestResult.from_dict(r, f"{here}.results[{i}]")
            for i, r in enumerate(require(dec, "results", list, here))
        )
        national = None  # absent; whether it should be there is the verifier's check
        if "national_results" in dec:
            national = tuple(
                NationalResult.from_dict(r, f"{here}.national_results[{i}]")
                for i, r in enumerate(require(dec, "national_results", list, here))
            )
        return cls(tally, Decryption(trustees, plaintexts, results, national))


# --------------------------------------------------------------------------- counted voters


@dataclass(frozen=True)
class CountedVoters:
    """The voters whose i-vote counts, for the polling stations (not part of the record)."""

    election_id: str
    voters: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "kind": COUNTED_VOTERS_KIND,
            "election_id": self.election_id,
            "voters": sorted(self.voters),
        }

    @classmethod
    def from_dict(cls, obj: Any, where: str = "counted_voters") -> CountedVoters:
        _kind(obj, COUNTED_VOTERS_KIND, where)
        voters = require(obj, "voters", list, where)
        for i, voter in enumerate(voters):
            if not isinstance(voter, str):
                raise FormatError(f"{where}.voters[{i}]", "expected a string")
        return cls(_string(obj, "election_id", where), tuple(voters))


# --------------------------------------------------------------------------- files


def write_tally_dir(
    directory: str | os.PathLike[str],
    tally: Tally,
    bundle: ObserversBundle,
    counted: CountedVoters,
    crls: Sequence[bytes] = (),
) -> None:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    write_crls(out, crls)
    write_canonical_json(out / BUNDLE_FILE, bundle.document())
    write_canonical_json(out / COUNTED_VOTERS_FILE, counted.to_dict(), mode=0o600)
    write_canonical_json(out / TALLY_FILE, tally.to_dict())  # last: its presence means done


def write_crls(directory: Path, crls: Sequence[bytes]) -> None:
    """The CRLs a tally used, beside it: public documents the auditors re-check with."""
    for crl in crls:
        write_atomic(directory / CRLS_DIR / f"{hashlib.sha256(crl).hexdigest()}.crl", crl)


def read_crls_next_to(path: str | os.PathLike[str]) -> list[bytes]:
    """The CRLs kept in a tally or record directory (crls/), none when there are none."""
    candidate = Path(path)
    directory = (candidate if candidate.is_dir() else candidate.parent) / CRLS_DIR
    if not directory.is_dir():
        return []
    try:
        return [p.read_bytes() for p in sorted(directory.glob("*.crl"))]
    except OSError as exc:
        raise FormatError(str(directory), f"cannot read a CRL ({exc.strerror})") from exc


def _in_dir(path: str | os.PathLike[str], name: str) -> Path:
    candidate = Path(path)
    return candidate / name if candidate.is_dir() else candidate


def read_tally(path: str | os.PathLike[str]) -> Tally:
    """A tally directory or its tally.json."""
    return Tally.from_dict(read_json_file(_in_dir(path, TALLY_FILE), "tally"))


def read_bundle(path: str | os.PathLike[str]) -> ObserversBundle:
    """An observers' bundle file, or a tally/record directory holding one."""
    return ObserversBundle.from_dict(read_json_file(_in_dir(path, BUNDLE_FILE), "observers_bundle"))


def read_shares(path: str | os.PathLike[str]) -> TrusteeShares:
    return TrusteeShares.from_dict(read_json_file(path, f"shares file {Path(path).name}"))


def write_shares(path: str | os.PathLike[str], shares: TrusteeShares) -> None:
    write_canonical_json(path, shares.to_dict())


def read_record_document(path: str | os.PathLike[str]) -> Any:
    """The raw record JSON (a record directory or its record.json): the verifier parses it
    itself so that a malformed part becomes a failed check, not a refusal to start."""
    return read_json_file(_in_dir(path, RECORD_FILE), "record")


def bundle_path_next_to(record_path: str | os.PathLike[str]) -> Path | None:
    """The observers' bundle shipped in a record directory, if there is one."""
    candidate = Path(record_path)
    directory = candidate if candidate.is_dir() else candidate.parent
    bundle = directory / BUNDLE_FILE
    return bundle if bundle.is_file() else None


def write_record_dir(
    directory: str | os.PathLike[str],
    record: ElectionRecord,
    bundle: ObserversBundle | str | os.PathLike[str] | None,
    crls: Sequence[bytes] | None = None,
) -> None:
    """record.json and, when given, the observers' bundle: an ObserversBundle, or the path of
    a bundle file (or of the tally directory holding one), which is copied as it is when it
    is the canonical encoding of the bundle the tally names, and otherwise parsed and written
    canonically (the verifier then says whether it is the one the tally names)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    if crls is not None:
        write_crls(out, crls)
    if isinstance(bundle, ObserversBundle):
        write_canonical_json(out / BUNDLE_FILE, bundle.document())
    elif bundle is not None:
        source = _in_dir(bundle, BUNDLE_FILE)
        if not _copy_if_canonical(source, out / BUNDLE_FILE, record.tally.bundle.hash):
            write_canonical_json(out / BUNDLE_FILE, read_bundle(source).to_dict())
    write_canonical_json(out / RECORD_FILE, record.to_dict())


class _NotTheNamedBundle(Exception):
    pass


def _copy_if_canonical(source: Path, target: Path, expected_hash: bytes) -> bool:
    """Copy `source` to `target` (atomically, in blocks) if it is canonical bytes hashing to
    `expected_hash` plus the final newline, as write_canonical_json writes them: an Estonia-
    size bundle (gigabytes) is then neither parsed nor held in memory. False, and nothing
    written, otherwise."""

    def blocks(handle: BinaryIO, size: int) -> Iterator[bytes]:
        digest = hashlib.sha256()
        remaining = size - 1
        while remaining > 0:
            block = handle.read(min(COPY_BLOCK, remaining))
            if not block:
                raise _NotTheNamedBundle
            digest.update(block)
            remaining -= len(block)
            yield block
        if handle.read() != b"\n" or digest.digest() != expected_hash:
            raise _NotTheNamedBundle
        yield b"\n"

    try:
        handle = source.open("rb")
    except OSError:  # missing or unreadable: read_bundle names the problem
        return False
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size < 2:
            return False
        try:
            write_atomic_chunks(target, blocks(handle, size))
        except _NotTheNamedBundle:  # write_atomic_chunks has removed its temporary file
            return False
    return True


def results_by_district(results: Sequence[ContestResult]) -> dict[str, list[ContestResult]]:
    grouped: dict[str, list[ContestResult]] = {}
    for result in results:
        grouped.setdefault(result.district, []).append(result)
    return grouped
