"""The ballot box: what the collector exports for the tallier, and the reader that checks it.

docs/spec.md, "Ballot box". A zip file with
    ballotbox.json          the collector-signed index (DOMAINS["ballot_box"])
    entries.jsonl           one canonical JSON line per log entry, in log order:
                            {"version": 1, "log_index", "ballot": signed ballot,
                             "receipt": signed receipt}
    voters/list-NNNN.json   every voter list version, as in the election directory
The index {version, election_id, manifest_hash, voter_list: {list_version, hash}, ballots,
log_head: the final signed log head, files: {name: b64url SHA-256}, exported} names every other
member by hash, so its one signature covers the whole box. `read_ballot_box` checks all of it
and that the log rebuilds to the signed head; the tallier then checks each ballot's e-ID.
`BallotBoxReader` makes the same checks in stages, so that a caller can check the entries'
lines in worker processes (`check_entry_line`) while the box is read once, as a stream.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from cryptography import x509

from canonical.encoding import (
    DOMAINS,
    FORMAT_VERSION,
    FormatError,
    b64url,
    canonical_bytes,
    check_version,
    object_hash,
    parse_b64url,
    parse_canonical,
    require,
)
from crypto import merkle
from crypto.eid import Signer
from crypto.errors import CryptoError
from formats.ballot import ballot_hash
from formats.receipt import LogHead, Receipt
from formats.signed import open_signed, sign_object
from formats.voters import VoterList

if TYPE_CHECKING:
    from formats.manifest import Manifest

INDEX = "ballotbox.json"
ENTRIES = "entries.jsonl"
VOTER_LIST_RE = re.compile(r"^voters/list-[0-9]{4}\.json\Z")  # \Z: no trailing newline
MAX_LINE_BYTES = 8 * 1024 * 1024
READ_BLOCK_BYTES = 1 << 20  # BallotBoxReader.lines reads entries.jsonl in blocks this large
INDEX_FIELDS = frozenset(
    {
        "version",
        "election_id",
        "manifest_hash",
        "voter_list",
        "ballots",
        "log_head",
        "files",
        "exported",
    }
)


class BallotBoxError(FormatError):
    """A ballot box that does not check; the message names the member and field."""


@dataclass(frozen=True)
class BoxEntry:
    log_index: int
    ballot: dict[str, Any]  # the signed ballot as cast
    receipt: Receipt


@dataclass(frozen=True)
class BallotBox:
    index: dict[str, Any]
    head: LogHead
    entries: list[BoxEntry]
    voter_lists: list[VoterList]
    collector_certificate: x509.Certificate


def _sha256_file(handle: Any) -> bytes:
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.digest()


def write_ballot_box(
    path: str | os.PathLike[str],
    signer: Signer,
    manifest: Manifest,
    entries: Iterable[tuple[int, bytes, bytes]],
    voter_lists: Sequence[VoterList],
    final_head: dict[str, Any],
    exported: int,
) -> int:
    """Write the zip atomically from (log_index, canonical signed ballot, canonical signed
    receipt) in log order; returns the number of ballots."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        files: dict[str, str] = {}
        count = 0
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as box:
            digest = hashlib.sha256()
            with box.open(ENTRIES, "w", force_zip64=True) as out:
                for expected, (log_index, ballot, receipt) in enumerate(entries):
                    if log_index != expected:
                        raise BallotBoxError(ENTRIES, f"log index {log_index} where {expected} due")
                    line = (
                        b'{"ballot":'
                        + ballot
                        + b',"log_index":'
                        + str(log_index).encode()
                        + b',"receipt":'
                        + receipt
                        + b',"version":1}\n'
                    )
                    digest.update(line)
                    out.write(line)
                    count += 1
            files[ENTRIES] = b64url(digest.digest())
            for voter_list in voter_lists:
                name = f"voters/list-{voter_list.list_version:04d}.json"
                data = canonical_bytes(voter_list.to_dict()) + b"\n"
                box.writestr(name, data)
                files[name] = b64url(hashlib.sha256(data).digest())
            newest = voter_lists[-1]
            index = {
                "version": FORMAT_VERSION,
                "election_id": manifest.election_id,
                "manifest_hash": b64url(manifest.hash),
                "voter_list": {"list_version": newest.list_version, "hash": b64url(newest.hash)},
                "ballots": count,
                "log_head": final_head,
                "files": files,
                "exported": exported,
            }
            signed = sign_object(signer, DOMAINS["ballot_box"], index)
            box.writestr(INDEX, canonical_bytes(signed) + b"\n")
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return count


def _collector_certificate(
    document: Any, manifest: Manifest, certificates: Sequence[x509.Certificate] | None
) -> x509.Certificate:
    """The collector certificate that signed the index: one the manifest (or caller) names."""
    trusted = list(certificates) if certificates is not None else manifest.trust.collectors()
    if not trusted:
        raise BallotBoxError(INDEX, "no collector certificate to check the signature against")
    last: Exception | None = None
    for certificate in trusted:
        try:
            open_signed(document, DOMAINS["ballot_box"], expected_cert=certificate, where=INDEX)
            return certificate
        except (CryptoError, FormatError) as exc:  # try the next certificate; report the last
            last = exc
    raise BallotBoxError(INDEX, f"not signed by the election's collector ({last})")


def read_ballot_box(
    path: str | os.PathLike[str],
    manifest: Manifest,
    collector_certificates: Sequence[x509.Certificate] | None = None,
) -> BallotBox:
    """Open and check a ballot box: the index's signature by the manifest's collector, every
    member's hash, the voter list chain, every receipt's signer and ballot hash, the log
    order and times, and that the leaves rebuild to the final signed head and to every
    receipt's head. Raises BallotBoxError (or FormatError / EidError) naming what fails."""
    with BallotBoxReader(path, manifest, collector_certificates) as reader:
        reader.check_entries_hash()
        entries: list[BoxEntry] = []
        heads: list[LogHead] = []
        cache: dict[bytes, LogHead] = {}
        times = EntryTimes()
        for position, line in enumerate(reader.lines()):
            entry, head = check_entry_line(line, position, reader.certificate, manifest, cache)
            times.check(position, entry.receipt.received)
            entries.append(entry)
            heads.append(head)
        reader.finish([e.receipt.leaf_hash for e in entries], heads)
        return BallotBox(reader.index, reader.head, entries, reader.voter_lists, reader.certificate)


class BallotBoxReader:
    """read_ballot_box in stages, for callers that check the entries elsewhere (in worker
    processes) while the box is read once:

        with BallotBoxReader(path, manifest) as reader:   # index, members, voter lists, head
            for position, line in enumerate(reader.lines()):
                ... check_entry_line(line, position, reader.certificate, manifest) anywhere,
                ... then EntryTimes.check in log order
            reader.finish(leaves, receipt_heads)           # the entries' hash, the log

    Every check of read_ballot_box is made, and a box with several faults is refused with the
    fault read_ballot_box names: the entries' hash (computed while `lines` streams) is checked
    first whenever another check fails after the members' hashes, as read_ballot_box would.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        manifest: Manifest,
        collector_certificates: Sequence[x509.Certificate] | None = None,
    ) -> None:
        self.manifest = manifest
        try:
            self._box = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise BallotBoxError(str(path), f"not a readable zip file ({exc})") from exc
        self._entries_digest: bytes | None = None  # SHA-256 of entries.jsonl, once read
        self._entries_checked = False
        try:
            self._open(path, collector_certificates)
        except BaseException:
            self._box.close()
            raise

    def __enter__(self) -> BallotBoxReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._box.close()

    def _open(
        self,
        path: str | os.PathLike[str],
        collector_certificates: Sequence[x509.Certificate] | None,
    ) -> None:
        box, manifest = self._box, self.manifest
        names = box.namelist()
        if len(names) != len(set(names)):
            raise BallotBoxError(str(path), "a member name appears twice")
        if INDEX not in names:
            raise BallotBoxError(INDEX, "missing")
        with box.open(INDEX) as handle:
            document = parse_canonical(handle.read(MAX_LINE_BYTES), INDEX)
        self.certificate = _collector_certificate(document, manifest, collector_certificates)
        index = document["payload"]
        _check_index(index, manifest)
        files = index["files"]
        expected_names = {INDEX, *files}
        if set(names) != expected_names:
            extra = sorted(set(names) - expected_names) or sorted(expected_names - set(names))
            raise BallotBoxError(extra[0], "member not listed in the signed index, or missing")
        self._files_order = list(files)
        self._expected_entries = parse_b64url(files[ENTRIES], f"{INDEX}.files.{ENTRIES}")
        # entries.jsonl is hashed while it streams (check_entries_hash / finish); the others now
        for name, value in files.items():
            if name != ENTRIES and not VOTER_LIST_RE.match(name):
                self._entries_first(before=name)
                raise BallotBoxError(f"{INDEX}.files.{name}", "not a ballot box member name")
            if name == ENTRIES:
                continue
            expected = parse_b64url(value, f"{INDEX}.files.{name}")
            with box.open(name) as handle:
                if _sha256_file(handle) != expected:
                    self._entries_first(before=name)
                    raise BallotBoxError(name, "content does not match the signed hash")
        self.index = index
        # the hash of the signed index names the whole box (it covers every member's hash)
        self.index_hash = object_hash(document)
        try:
            self.voter_lists = _voter_lists(box, files, index, manifest)
            self.head = _open_head(
                index["log_head"], self.certificate, manifest, f"{INDEX}.log_head"
            )
            if self.head.size != index["ballots"]:
                raise BallotBoxError(
                    f"{INDEX}.ballots", f"{index['ballots']} ballots, head {self.head.size}"
                )
        except (FormatError, CryptoError):
            self.check_entries_hash()
            raise

    def _entries_first(self, before: str) -> None:
        """read_ballot_box hashes the members in the index's order: when entries.jsonl comes
        before `before` and does not match, that is the error it names."""
        if self._files_order.index(ENTRIES) < self._files_order.index(before):
            self.check_entries_hash()

    def check_entries_hash(self) -> None:
        """BallotBoxError unless entries.jsonl matches the index (reads it unless `lines` has)."""
        if self._entries_checked:
            return
        if self._entries_digest is None:
            with self._box.open(ENTRIES) as handle:
                self._entries_digest = _sha256_file(handle)
        if self._entries_digest != self._expected_entries:
            raise BallotBoxError(ENTRIES, "content does not match the signed hash")
        self._entries_checked = True

    @property
    def ballots(self) -> int:
        """How many entries the signed index announces."""
        return int(self.index["ballots"])

    def lines(self) -> Iterator[bytes]:
        """The lines of entries.jsonl in order, each with its newline, read in large blocks
        and hashed on the way. A line longer than MAX_LINE_BYTES (or the last line without a
        newline) comes out cut and without newline, for check_entry_line to refuse; nothing
        follows it."""
        digest = hashlib.sha256()
        pending = b""
        cut = False
        with self._box.open(ENTRIES) as handle:
            for block in iter(lambda: handle.read(READ_BLOCK_BYTES), b""):
                digest.update(block)
                if cut:
                    continue
                pending += block
                start = 0
                while True:
                    end = pending.find(b"\n", start, start + MAX_LINE_BYTES)
                    if end < 0:
                        break
                    yield pending[start : end + 1]
                    start = end + 1
                pending = pending[start:]
                if len(pending) >= MAX_LINE_BYTES:
                    cut = True
                    yield pending[:MAX_LINE_BYTES]
            if pending and not cut:
                yield pending[:MAX_LINE_BYTES]
        self._entries_digest = digest.digest()

    def fail(self, error: Exception) -> NoReturn:
        """Raise `error`, found in an entry, unless entries.jsonl does not match the index: that
        is the error read_ballot_box names first. Drains `lines` to hash the rest if needed."""
        if self._entries_digest is None:
            for _ in self.lines():
                pass
        self.check_entries_hash()
        raise error

    def finish(self, leaves: Sequence[bytes], receipt_heads: Sequence[LogHead]) -> None:
        """After every line: the entries' hash, their number, the log rebuilding to the final
        signed head, and every receipt's head being a prefix of the log."""
        self.check_entries_hash()
        head = self.head
        if len(leaves) != head.size:
            raise BallotBoxError(ENTRIES, f"{len(leaves)} entries, the final head says {head.size}")
        frontier = merkle.Frontier.empty()
        roots: dict[int, bytes] = {0: frontier.root()}
        wanted = {h.size for h in receipt_heads}
        for leaf in leaves:
            frontier = frontier.append(leaf)
            if frontier.size in wanted:
                roots[frontier.size] = frontier.root()
        if frontier.root() != head.root_hash:
            raise BallotBoxError(ENTRIES, "the log does not rebuild to the final signed head")
        for position, receipt_head in enumerate(receipt_heads):
            if (
                receipt_head.size > head.size
                or roots.get(receipt_head.size) != receipt_head.root_hash
            ):
                raise BallotBoxError(
                    f"{ENTRIES}[{position}].receipt.log_head",
                    "the receipt's signed head is not a prefix of the exported log",
                )


class EntryTimes:
    """The receive times must not decrease along the log: feed them in log order."""

    def __init__(self) -> None:
        self.previous = 0

    def check(self, position: int, received: int) -> None:
        if received < self.previous:
            raise BallotBoxError(
                f"{ENTRIES}[{position}].receipt.received", "earlier than the entry before"
            )
        self.previous = received


def _check_index(index: Any, manifest: Manifest) -> None:
    check_version(index, INDEX)
    extra = set(index) - INDEX_FIELDS
    if extra:
        raise BallotBoxError(f"{INDEX}.{sorted(extra)[0]}", "unexpected field")
    if require(index, "election_id", str, INDEX) != manifest.election_id:
        raise BallotBoxError(f"{INDEX}.election_id", "not this election")
    manifest_hash = parse_b64url(require(index, "manifest_hash", str, INDEX), f"{INDEX}.hash")
    if manifest_hash != manifest.hash:
        raise BallotBoxError(f"{INDEX}.manifest_hash", "not this election's manifest")
    voter_list = require(index, "voter_list", dict, INDEX)
    require(voter_list, "list_version", int, f"{INDEX}.voter_list")
    require(voter_list, "hash", str, f"{INDEX}.voter_list")
    if require(index, "ballots", int, INDEX) < 0:
        raise BallotBoxError(f"{INDEX}.ballots", "negative")
    require(index, "log_head", dict, INDEX)
    files = require(index, "files", dict, INDEX)
    if ENTRIES not in files:
        raise BallotBoxError(f"{INDEX}.files", f"does not list {ENTRIES}")
    for name, value in files.items():
        if not isinstance(value, str):
            raise BallotBoxError(f"{INDEX}.files.{name}", "expected a base64url hash")
    require(index, "exported", int, INDEX)


def _voter_lists(
    box: zipfile.ZipFile, files: dict[str, str], index: dict[str, Any], manifest: Manifest
) -> list[VoterList]:
    names = sorted(n for n in files if VOTER_LIST_RE.match(n))
    if not names:
        raise BallotBoxError("voters/", "the ballot box holds no voter list")
    districts = [d.id for d in manifest.districts]
    lists: list[VoterList] = []
    for position, name in enumerate(names, start=1):
        with box.open(name) as handle:
            voter_list = VoterList.from_dict(
                parse_canonical(handle.read(), name),
                name,
                districts,
                manifest.personal_code_scheme,
            )
        if voter_list.list_version != position:
            raise BallotBoxError(f"{name}.list_version", f"expected {position}")
        if voter_list.election_id != manifest.election_id:
            raise BallotBoxError(f"{name}.election_id", "not this election")
        anchor = manifest.voter_list.hash if position == 1 else lists[-1].hash
        if (voter_list.hash if position == 1 else voter_list.previous) != anchor:
            raise BallotBoxError(name, "does not chain to the manifest's voter list")
        lists.append(voter_list)
    newest = lists[-1]
    named = index["voter_list"]
    if (
        named["list_version"] != newest.list_version
        or parse_b64url(named["hash"], f"{INDEX}.voter_list.hash") != newest.hash
    ):
        raise BallotBoxError(f"{INDEX}.voter_list", "not the newest list in the box")
    return lists


def _open_head(
    document: Any, certificate: x509.Certificate, manifest: Manifest, where: str
) -> LogHead:
    payload, _, _ = open_signed(
        document, DOMAINS["log_head"], expected_cert=certificate, where=where
    )
    head = LogHead.from_dict(payload, f"{where}.payload")
    if head.election_id != manifest.election_id:
        raise BallotBoxError(f"{where}.payload.election_id", "not this election")
    return head


def check_entry_line(
    line: bytes,
    position: int,
    certificate: x509.Certificate,
    manifest: Manifest,
    heads: dict[bytes, LogHead] | None = None,
) -> tuple[BoxEntry, LogHead]:
    """One line of entries.jsonl (from BallotBoxReader.lines): its shape and log index, the
    receipt's envelope naming the collector's certificate, the receipt's signed head, and that
    the receipt names this ballot. The receipt's own signature is not verified: the index's
    signature by the same collector covers this line (entries.jsonl's hash), and a P-384
    verification per ballot is a third of the tallier's e-ID work. `heads` caches opened heads
    between calls (receipts of one append share their head). Returns the entry and its
    receipt's head; errors name entries.jsonl[position]. The receive time's order is
    EntryTimes's."""
    where = f"{ENTRIES}[{position}]"
    if not line.endswith(b"\n"):
        raise BallotBoxError(where, "line too long or not terminated")
    entry = parse_canonical(line, where)
    check_version(entry, where)
    if set(entry) != {"version", "log_index", "ballot", "receipt"}:
        raise BallotBoxError(where, "expected version, log_index, ballot, receipt")
    if require(entry, "log_index", int, where) != position:
        raise BallotBoxError(f"{where}.log_index", f"expected {position}")
    ballot = require(entry, "ballot", dict, where)
    payload, _, _ = open_signed(
        require(entry, "receipt", dict, where),
        DOMAINS["receipt"],
        expected_cert=certificate,
        where=f"{where}.receipt",
        check_signature=False,
    )
    head_document = require(payload, "log_head", dict, f"{where}.receipt.payload")
    key = canonical_bytes(head_document)
    head = heads.get(key) if heads is not None else None
    if head is None:
        head = _open_head(head_document, certificate, manifest, f"{where}.receipt.log_head")
        if heads is not None:
            if len(heads) >= 64:
                heads.clear()
            heads[key] = head
    receipt = Receipt.from_dict(payload, head, f"{where}.receipt.payload")
    if receipt.election_id != manifest.election_id:
        raise BallotBoxError(f"{where}.receipt.election_id", "not this election")
    if receipt.log_index != position:
        raise BallotBoxError(f"{where}.receipt.log_index", f"expected {position}")
    if receipt.ballot_hash != ballot_hash(ballot):
        raise BallotBoxError(f"{where}.receipt.ballot_hash", "not the hash of the ballot")
    return BoxEntry(position, ballot, receipt), head
