"""The ballot log in the database: append-only Merkle log, latest ballot per voter, one-time
challenges, signed heads, proofs and vote-check fetches.

Appends are serialised (SQLite: BEGIN IMMEDIATE; PostgreSQL: a row lock on log_state), so that
the log, the latest-per-voter table, the used challenges and the signed head move together in
one transaction: concurrent casts by one voter leave exactly one latest ballot, and a receipt
is only returned after the transaction that holds its ballot and head has committed.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from canonical.encoding import DOMAINS, canonical_bytes, parse_canonical
from collector.db import Database, challenges, ciphertexts, entries, heads, latest, log_state
from collector.errors import Refusal
from collector.limits import UNLIMITED, Rate
from crypto import merkle
from formats.receipt import LatestStatement, LogHead, Receipt, entry_leaf_hash

CHALLENGE_BYTES = 32
# A vote check's prefix (7 bytes or more) matches another ballot with probability about
# ballots / 2^56; more matches than this are not answered.
MAX_CHECK_MATCHES = 8
# Subtrees at least this large are cached once complete (they never change in an append-only log).
_CACHE_MIN = 64


def _scalar(query: sa.Select[Any], name: str) -> Any:
    return query.scalar_subquery().label(name)


# BallotLog.lookup's one statement: a resend's receipt, the closed time, the challenge's row.
_LOOKUP = sa.select(
    _scalar(
        sa.select(entries.c.receipt).where(entries.c.ballot_hash == sa.bindparam("ballot_hash")),
        "receipt",
    ),
    _scalar(sa.select(log_state.c.closed_at).where(log_state.c.id == 1), "closed_at"),
    _scalar(
        sa.select(challenges.c.expires).where(challenges.c.challenge == sa.bindparam("challenge")),
        "expires",
    ),
    _scalar(
        sa.select(challenges.c.ballot_hash).where(
            challenges.c.challenge == sa.bindparam("challenge")
        ),
        "used_by",
    ),
)


@dataclass(frozen=True)
class _ChallengeRow:
    expires: int
    ballot_hash: bytes | None


# (domain, payload) -> the signed document; the collector's key lives behind it.
Sign = Callable[[str, dict[str, Any]], dict[str, Any]]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def ciphertext_digest(value: str) -> bytes:
    """Identity of a ciphertext for the copy check (its canonical hex, hashed)."""
    return hashlib.sha256(value.encode("ascii")).digest()


@dataclass(frozen=True)
class Candidate:
    """A ballot that passed every check but the ones made at append time."""

    ballot_hash: bytes
    ballot: bytes  # canonical signed ballot
    voter: str
    district: str
    challenge: bytes
    ciphertext_digests: tuple[bytes, ...]
    # The receive times at which the time-dependent checks the collector made still hold
    # (voting period, certificate validity, revocation): [valid_from, valid_until) in ms,
    # with the refusal code for a time past the end. The receipt signs `received`, and the
    # tally checks the ballot at that time, so `received` must fall inside.
    valid_from: int = 0
    valid_until: int = 2**63 - 1
    late_code: str = "election_over"


@dataclass(frozen=True)
class CheckAnswer:
    """One ballot of a vote check: canonical bytes of the signed ballot, its receipt, the
    signed latest-ballot statement, and (ballot, receipt) of the voter's newer ballot."""

    ballot_hash: bytes
    ballot: bytes
    receipt: bytes
    latest: bytes
    newer: tuple[bytes, bytes] | None


@dataclass(frozen=True)
class Appended:
    receipt: bytes  # canonical signed receipt
    log_index: int
    repeated: bool  # the same signed ballot had been accepted before: the same receipt again


def _frontier(row: Any) -> merkle.Frontier:
    blob = bytes(row.frontier)
    nodes = tuple(blob[i : i + 32] for i in range(0, len(blob), 32))
    return merkle.Frontier(int(row.size), nodes)


class BallotLog:
    def __init__(
        self,
        database: Database,
        election_id: str,
        sign: Sign,
        casts_per_voter: Rate = UNLIMITED,
    ) -> None:
        self.db = database
        self.election_id = election_id
        self.sign = sign
        # at most this many ballots of one voter in the log with `received` in any such span
        self.casts_per_voter = casts_per_voter
        self._leaves: list[bytes] = []  # committed leaf hashes, a prefix of the log
        # complete subtrees of the growing leaf list, cached for inclusion/consistency proofs
        self._subtree = merkle.cached_subtree_root(self._leaves, _CACHE_MIN)
        self._cache_lock = threading.Lock()

    # --- challenges --------------------------------------------------------------------------
    def issue_challenge(self, ttl_ms: int) -> tuple[bytes, int]:
        challenge = secrets.token_bytes(CHALLENGE_BYTES)
        now = now_ms()
        expires = now + ttl_ms
        with self.db.writer.begin() as conn:
            self._check_open(conn)
            # Unused challenges long expired are of no use to anyone: keep the table small.
            conn.execute(
                sa.delete(challenges).where(
                    challenges.c.expires < now - ttl_ms, challenges.c.ballot_hash.is_(None)
                )
            )
            conn.execute(sa.insert(challenges).values(challenge=challenge, expires=expires))
        return challenge, expires

    def check_challenge(self, challenge: bytes, ballot_hash: bytes, at: int) -> None:
        """Refuse unless the challenge was issued, is unexpired at `at` and unused by another
        ballot (read-only: the append makes the same check again under the log lock)."""
        with self.db.reader.connect() as conn:
            row = conn.execute(
                sa.select(challenges.c.expires, challenges.c.ballot_hash).where(
                    challenges.c.challenge == challenge
                )
            ).first()
        self._challenge_refusal(row, ballot_hash, at)

    def lookup(self, ballot_hash: bytes, challenge: bytes) -> tuple[bytes | None, bool, Any]:
        """One read for a cast: the stored receipt of this ballot (a resend), whether the log
        is closed, and the challenge's row for `challenge_refusal` (None when never issued).
        A single statement, so one snapshot, whichever database."""
        with self.db.reader.connect() as conn:
            row = conn.execute(_LOOKUP, {"ballot_hash": ballot_hash, "challenge": challenge}).one()
        if row.receipt is not None:
            return bytes(row.receipt), False, None
        issued = None if row.expires is None else _ChallengeRow(row.expires, row.used_by)
        return None, row.closed_at is not None, issued

    @staticmethod
    def challenge_refusal(row: Any, ballot_hash: bytes, at: int) -> None:
        BallotLog._challenge_refusal(row, ballot_hash, at)

    @staticmethod
    def _challenge_refusal(row: Any, ballot_hash: bytes, at: int) -> None:
        if row is None:
            raise Refusal("challenge_unknown")
        if row.ballot_hash is not None and bytes(row.ballot_hash) != ballot_hash:
            raise Refusal("challenge_used")
        if row.expires < at:
            raise Refusal("challenge_expired")

    def challenge_row(self, challenge: bytes) -> Any:
        """The challenge's row (expires, ballot_hash), None when never issued."""
        with self.db.reader.connect() as conn:
            return conn.execute(
                sa.select(challenges.c.expires, challenges.c.ballot_hash).where(
                    challenges.c.challenge == challenge
                )
            ).first()

    def use_for_eligibility(
        self, challenge: bytes, request_hash: bytes, voter: str, at: int
    ) -> tuple[bool, bool]:
        """Use the challenge for the eligibility request whose hash is `request_hash` (one use:
        no ballot and no other request can use it after; the same request sent again may),
        in one transaction with the reads of the answer: (closed, the voter has a ballot in
        the log)."""
        with self.db.writer.begin() as conn:
            used = conn.execute(
                sa.update(challenges)
                .where(
                    challenges.c.challenge == challenge,
                    challenges.c.expires >= at,
                    sa.or_(
                        challenges.c.ballot_hash.is_(None),
                        challenges.c.ballot_hash == request_hash,
                    ),
                )
                .values(ballot_hash=request_hash)
            ).rowcount
            if not used:
                row = conn.execute(
                    sa.select(challenges.c.expires, challenges.c.ballot_hash).where(
                        challenges.c.challenge == challenge
                    )
                ).first()
                self._challenge_refusal(row, request_hash, at)
                raise Refusal("challenge_used")  # not reached: the row explains the miss
            closed = conn.execute(
                sa.select(log_state.c.closed_at).where(log_state.c.id == 1)
            ).scalar()
            has_ballot = conn.execute(
                sa.select(latest.c.log_index).where(latest.c.voter == voter)
            ).first()
        return closed is not None, has_ballot is not None

    # --- reads -------------------------------------------------------------------------------
    def receipt_for(self, ballot_hash: bytes) -> bytes | None:
        with self.db.reader.connect() as conn:
            value = conn.execute(
                sa.select(entries.c.receipt).where(entries.c.ballot_hash == ballot_hash)
            ).scalar()
        return None if value is None else bytes(value)

    def state(self) -> tuple[int, int | None]:
        """(size, closed_at)."""
        with self.db.reader.connect() as conn:
            row = conn.execute(sa.select(log_state).where(log_state.c.id == 1)).one()
        return int(row.size), row.closed_at

    def head(self, size: int | None = None) -> bytes | None:
        """The signed head of `size` leaves, or the newest (the final head once closed); None
        when none was signed."""
        if size is None:
            final = self.final_head()
            if final is not None:
                return final
        query = sa.select(heads.c.document)
        query = (
            query.order_by(heads.c.size.desc()).limit(1)
            if size is None
            else query.where(heads.c.size == size)
        )
        with self.db.reader.connect() as conn:
            value = conn.execute(query).scalar()
        return None if value is None else bytes(value)

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        self._sync_leaves(end)
        return self._leaves[start:end]

    def _sync_leaves(self, size: int) -> None:
        """Extend the in-memory copy of committed leaf hashes to at least `size`."""
        with self._cache_lock:
            have = len(self._leaves)
            if have >= size:
                return
            with self.db.reader.connect() as conn:
                rows = conn.execute(
                    sa.select(entries.c.log_index, entries.c.leaf_hash)
                    .where(entries.c.log_index >= have, entries.c.log_index < size)
                    .order_by(entries.c.log_index)
                ).all()
            for expected, row in enumerate(rows, start=have):
                if row.log_index != expected:
                    raise RuntimeError(f"ballot log has a gap at index {expected}")
                self._leaves.append(bytes(row.leaf_hash))
            if len(self._leaves) < size:
                raise Refusal("bad_request", f"the log has fewer than {size} leaves")

    def _check_size(self, size: int) -> None:
        current, _ = self.state()
        if not 0 <= size <= current:
            raise Refusal("bad_request", f"size {size} is not between 0 and {current}")

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        self._check_size(size)
        if not 0 <= index < size:
            raise Refusal("bad_request", f"index {index} is not below size {size}")
        self._sync_leaves(size)
        return merkle.inclusion_proof(self._leaves, index, size, subtree=self._subtree)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise Refusal("bad_request", f"old size {old_size} is not between 0 and {new_size}")
        self._sync_leaves(new_size)
        return merkle.consistency_proof(self._leaves, old_size, new_size, subtree=self._subtree)

    def index_of(self, ballot_hash: bytes) -> int | None:
        with self.db.reader.connect() as conn:
            return conn.execute(
                sa.select(entries.c.log_index).where(entries.c.ballot_hash == ballot_hash)
            ).scalar()

    def fetch_for_check(
        self, prefix: bytes, window_ms: int, limit: int
    ) -> list[CheckAnswer]:
        """The stored ballots whose hash begins with `prefix` (at most MAX_CHECK_MATCHES, in
        hash order) for the voter's check, each fetch counted, each with the collector's
        signed statement of its voter's latest ballot and, when that is a newer ballot, the
        newer ballot and its receipt. A ballot past `window_ms` from reception or with `limit`
        fetches is left out; when every match is, the first one's refusal is the answer."""
        now = now_ms()
        low = prefix + b"\x00" * (32 - len(prefix))
        high = prefix + b"\xff" * (32 - len(prefix))
        with self.db.writer.begin() as conn:
            # One statement, one snapshot: the matches, their voters' latest and the log size
            # (a latest index is then always below that size).
            rows = conn.execute(
                sa.select(
                    entries.c.log_index,
                    entries.c.ballot_hash,
                    entries.c.received,
                    entries.c.fetches,
                    latest.c.log_index.label("latest_index"),
                    _scalar(sa.select(log_state.c.size).where(log_state.c.id == 1), "log_size"),
                )
                .join(latest, latest.c.voter == entries.c.voter)
                .where(entries.c.ballot_hash >= low, entries.c.ballot_hash <= high)
                .order_by(entries.c.ballot_hash)
                .limit(MAX_CHECK_MATCHES)
            ).all()
            if not rows:
                raise Refusal("not_found", "no ballot has a hash with this prefix")
            refusals: list[Refusal] = []
            counted = []
            for row in rows:
                if now > row.received + window_ms:
                    refusals.append(Refusal("check_window_over"))
                    continue
                # One conditional update: concurrent fetches cannot exceed the limit.
                if not conn.execute(
                    sa.update(entries)
                    .where(entries.c.ballot_hash == row.ballot_hash, entries.c.fetches < limit)
                    .values(fetches=entries.c.fetches + 1)
                ).rowcount:
                    refusals.append(Refusal("check_limit_reached"))
                    continue
                counted.append(row)
            if not counted:
                raise refusals[0]
            wanted = {int(r.log_index) for r in counted} | {int(r.latest_index) for r in counted}
            stored = {
                int(r.log_index): (bytes(r.ballot), bytes(r.receipt))
                for r in conn.execute(
                    sa.select(entries.c.log_index, entries.c.ballot, entries.c.receipt).where(
                        entries.c.log_index.in_(wanted)
                    )
                )
            }
        answers = []
        for row in counted:
            index, latest_index = int(row.log_index), int(row.latest_index)
            statement = LatestStatement(
                self.election_id,
                bytes(row.ballot_hash),
                index,
                latest_index,
                int(row.log_size),
                now,
            )
            signed = canonical_bytes(self.sign(DOMAINS["latest_ballot"], statement.to_dict()))
            ballot, receipt = stored[index]
            newer = None if latest_index == index else stored[latest_index]
            answers.append(CheckAnswer(bytes(row.ballot_hash), ballot, receipt, signed, newer))
        return answers

    def rows(self) -> Iterator[Any]:
        """Every entry in log order (for the export), read in pages."""
        start = 0
        while True:
            with self.db.reader.connect() as conn:
                page = conn.execute(
                    sa.select(entries)
                    .where(entries.c.log_index >= start)
                    .order_by(entries.c.log_index)
                    .limit(1000)
                ).all()
            if not page:
                return
            yield from page
            start = page[-1].log_index + 1

    def latest_per_voter(self) -> dict[str, int]:
        with self.db.reader.connect() as conn:
            return {r.voter: int(r.log_index) for r in conn.execute(sa.select(latest))}

    # --- writes ------------------------------------------------------------------------------
    def _lock(self, conn: Connection) -> Any:
        """Serialise with every other append (SQLite already holds the write lock)."""
        query = sa.select(log_state).where(log_state.c.id == 1)
        if not self.db.sqlite:
            query = query.with_for_update()
        return conn.execute(query).one()

    def _check_open(self, conn: Connection) -> None:
        if conn.execute(sa.select(log_state.c.closed_at).where(log_state.c.id == 1)).scalar():
            raise Refusal("election_closed")

    def _signed_head(self, size: int, root: bytes, timestamp: int) -> tuple[LogHead, bytes]:
        head = LogHead(self.election_id, size, root, timestamp)
        return head, canonical_bytes(self.sign(DOMAINS["log_head"], head.to_dict()))

    def append(self, batch: Sequence[Candidate]) -> list[Appended | Refusal]:
        """Append the batch in order in one transaction; one outcome per candidate. A ballot
        already in the log gets its receipt again; challenge and copy checks are made here,
        under the lock, so that racing requests cannot both pass them. A handful of
        set-based statements per batch, whatever its size."""
        outcomes: list[Appended | Refusal | None] = [None] * len(batch)
        with self.db.writer.begin() as conn:
            state = self._lock(conn)
            if state.closed_at is not None:
                return [Refusal("election_closed") for _ in batch]
            frontier = _frontier(state)
            now = max(now_ms(), int(state.last_received))
            stored = {
                bytes(r.ballot_hash): r
                for r in conn.execute(
                    sa.select(entries.c.ballot_hash, entries.c.receipt, entries.c.log_index).where(
                        entries.c.ballot_hash.in_({b.ballot_hash for b in batch})
                    )
                )
            }
            issued = {
                bytes(r.challenge): r
                for r in conn.execute(
                    sa.select(challenges).where(
                        challenges.c.challenge.in_({b.challenge for b in batch})
                    )
                )
            }
            owners = {
                bytes(r.digest): r.voter
                for r in conn.execute(
                    sa.select(ciphertexts).where(
                        ciphertexts.c.digest.in_({d for b in batch for d in b.ciphertext_digests})
                    )
                )
            }
            recent = self._recent_casts(conn, {b.voter for b in batch}, now)
            new: list[tuple[int, Candidate, int, bytes]] = []  # (position, ballot, index, leaf)
            first: dict[bytes, int] = {}  # ballot hash -> position of its first copy
            used: dict[bytes, bytes] = {}  # challenge -> ballot hash, claimed in this batch
            fresh: dict[bytes, str] = {}  # ciphertext digest -> voter, new in this batch
            for position, ballot in enumerate(batch):
                if ballot.ballot_hash in first:
                    continue
                if ballot.ballot_hash in stored:
                    row = stored[ballot.ballot_hash]
                    outcomes[position] = Appended(bytes(row.receipt), row.log_index, True)
                    continue
                try:
                    if now < ballot.valid_from:
                        raise Refusal("election_not_open", "received before the checks hold")
                    if now >= ballot.valid_until:
                        raise Refusal(ballot.late_code, "by the time it was received")
                    row = issued.get(ballot.challenge)
                    claimed = used.get(ballot.challenge)
                    if claimed is not None and claimed != ballot.ballot_hash:
                        raise Refusal("challenge_used")
                    self._challenge_refusal(row, ballot.ballot_hash, now)
                    for digest in ballot.ciphertext_digests:
                        owner = owners.get(digest, fresh.get(digest))
                        if owner is not None and owner != ballot.voter:
                            raise Refusal("ballot_copied")
                    self._check_voter_rate(recent, ballot.voter, now)
                except Refusal as refusal:
                    outcomes[position] = refusal
                    continue
                used[ballot.challenge] = ballot.ballot_hash
                if ballot.voter in recent:
                    recent[ballot.voter].append(now)
                for digest in ballot.ciphertext_digests:
                    if digest not in owners:
                        fresh[digest] = ballot.voter
                first[ballot.ballot_hash] = position
                leaf = entry_leaf_hash(ballot.ballot_hash, now)
                new.append((position, ballot, frontier.size, leaf))
                frontier = frontier.append(leaf)
            if new:
                self._write(conn, new, frontier, now, used, fresh, outcomes)
        for position, ballot in enumerate(batch):
            if outcomes[position] is None:  # a second copy of a ballot new in this batch
                outcomes[position] = outcomes[first[ballot.ballot_hash]]
        return [o for o in outcomes if o is not None]

    def _recent_casts(self, conn: Connection, voters: set[str], now: int) -> dict[str, list[int]]:
        """The `received` times of each voter's ballots in the last casts_per_voter span (when
        that limit is on)."""
        rate = self.casts_per_voter
        if not rate.count:
            return {}
        since = now - rate.seconds * 1000
        recent: dict[str, list[int]] = {voter: [] for voter in voters}
        for row in conn.execute(
            sa.select(entries.c.voter, entries.c.received).where(
                entries.c.voter.in_(voters), entries.c.received > since
            )
        ):
            recent[row.voter].append(int(row.received))
        return recent

    def _check_voter_rate(self, recent: dict[str, list[int]], voter: str, now: int) -> None:
        rate = self.casts_per_voter
        times = recent.get(voter)
        if times is None or len(times) < rate.count:
            return
        # the time at which the oldest ballot leaves the span (and one more may be cast)
        frees_at = min(times) + rate.seconds * 1000
        wait = max(1, -(-(frees_at - now) // 1000))
        raise Refusal(
            "rate_limited",
            f"at most {rate.count} ballots of one voter in {rate.seconds} s",
            {"Retry-After": str(wait)},
        )

    def _write(
        self,
        conn: Connection,
        new: list[tuple[int, Candidate, int, bytes]],
        frontier: merkle.Frontier,
        now: int,
        used: dict[bytes, bytes],
        fresh: dict[bytes, str],
        outcomes: list[Appended | Refusal | None],
    ) -> None:
        head, head_document = self._signed_head(frontier.size, frontier.root(), now)
        conn.execute(
            sa.insert(heads).values(
                size=head.size,
                root_hash=head.root_hash,
                timestamp=head.timestamp,
                document=head_document,
            )
        )
        head_dict = parse_canonical(head_document)
        rows = []
        for position, ballot, index, leaf in new:
            receipt = Receipt(self.election_id, ballot.ballot_hash, index, now, head_dict, head)
            receipt_bytes = canonical_bytes(self.sign(DOMAINS["receipt"], receipt.to_dict()))
            rows.append(
                {
                    "log_index": index,
                    "ballot_hash": ballot.ballot_hash,
                    "leaf_hash": leaf,
                    "voter": ballot.voter,
                    "district": ballot.district,
                    "received": now,
                    "ballot": ballot.ballot,
                    "receipt": receipt_bytes,
                }
            )
            outcomes[position] = Appended(receipt_bytes, index, False)
        conn.execute(sa.insert(entries), rows)
        conn.execute(
            sa.update(challenges)
            .where(challenges.c.challenge == sa.bindparam("c"))
            .values(ballot_hash=sa.bindparam("h")),
            [{"c": c, "h": h} for c, h in used.items()],
        )
        if fresh:
            conn.execute(
                sa.insert(ciphertexts), [{"digest": d, "voter": v} for d, v in fresh.items()]
            )
        # Later ballots of the same voter in this batch win: they come later in the log.
        newest: dict[str, int] = {}
        for _, ballot, index, _ in new:
            newest[ballot.voter] = index
        present = set(
            conn.execute(sa.select(latest.c.voter).where(latest.c.voter.in_(newest))).scalars()
        )
        if present:
            conn.execute(
                sa.update(latest)
                .where(latest.c.voter == sa.bindparam("v"))
                .values(log_index=sa.bindparam("i")),
                [{"v": v, "i": i} for v, i in newest.items() if v in present],
            )
        missing = [{"voter": v, "log_index": i} for v, i in newest.items() if v not in present]
        if missing:
            conn.execute(sa.insert(latest), missing)
        conn.execute(
            sa.update(log_state)
            .where(log_state.c.id == 1)
            .values(size=frontier.size, frontier=b"".join(frontier.nodes), last_received=now)
        )

    def ensure_head(self) -> None:
        """Sign the head of the log as it stands if no head was signed yet (a new log)."""
        with self.db.writer.begin() as conn:
            state = self._lock(conn)
            if conn.execute(sa.select(sa.func.count()).select_from(heads)).scalar():
                return
            frontier = _frontier(state)
            now = max(now_ms(), int(state.last_received))
            head, document = self._signed_head(frontier.size, frontier.root(), now)
            conn.execute(
                sa.insert(heads).values(
                    size=head.size, root_hash=head.root_hash, timestamp=now, document=document
                )
            )

    def close(self) -> bytes:
        """Close the log (no more ballots) and sign its final head; idempotent."""
        with self.db.writer.begin() as conn:
            state = self._lock(conn)
            if state.final_head is not None:
                return bytes(state.final_head)
            frontier = _frontier(state)
            now = max(now_ms(), int(state.last_received))
            _, document = self._signed_head(frontier.size, frontier.root(), now)
            conn.execute(
                sa.update(log_state)
                .where(log_state.c.id == 1)
                .values(closed_at=now, final_head=document)
            )
        return document

    def final_head(self) -> bytes | None:
        with self.db.reader.connect() as conn:
            value = conn.execute(
                sa.select(log_state.c.final_head).where(log_state.c.id == 1)
            ).scalar()
        return None if value is None else bytes(value)
