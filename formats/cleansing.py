"""The cleansing of the ballot box: which ballots count (docs/spec.md, "Tally", steps 1 to 4).

One home for the rule, used by the tallier (`ivote tally process`, which then shuffles the
counted ballots and multiplies them) and by the verifier (auditors and trustees re-do it from
the signed ballot box and paper-voter list, and compare with the record). In order:
1. the ballot box: the export's signature and its log rebuilding to the signed head
   (formats.ballotbox's reader; its entries are checked in the pool of step 2, the box read
   once as a stream);
2. every ballot, in a process pool: envelope and signature, structure against the manifest,
   received inside the voting period, the certificate valid and not revoked at the time the
   collector received the ballot, the signer on the voter list, the ballot for the voter's
   district; and, in the same pass, the proofs of every ballot that passes these checks,
   batched per task (their verdicts are used in step 4);
3. in log order: a ciphertext another voter cast earlier is refused (ballot copying); the
   latest valid ballot of each voter is the one that counts, the earlier ones are superseded;
   the counted ballot of a voter on the paper list is cancelled by the paper vote;
4. the proofs of the ballots that would count; a voter whose latest ballot fails falls back to
   their previous valid one (checked in turn).

Every ballot of the box is accounted for: counted, superseded, cancelled by paper, or invalid
with its reason.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from canonical.encoding import DOMAINS, FormatError
from crypto import eid
from crypto.errors import InvalidInput
from crypto.membership import BATCH_CHUNK, batch_verify, contest_totals
from crypto.primitives.modular import mpz
from formats import personal_codes
from formats.ballot import Ballot, BallotError, ballot_statements, parse_ballot
from formats.ballotbox import BallotBoxReader, EntryTimes, check_entry_line
from formats.manifest import Manifest
from formats.receipt import LogHead
from formats.record import (
    UNASSIGNED,
    Counts,
    EncodedBallot,
    EncryptedTotal,
    InvalidBallot,
    LogSnapshot,
    TallyReport,
)
from formats.signed import open_signed
from formats.voters import VoterList
from i18n import _

# factory(description, total) -> advance(n): how long passes report their progress (the
# command line draws bars)
ProgressFactory = Callable[[str, int], Callable[[int], None]]
# Ballots per task: each task's proofs are one batch, and the batch's multi-exponentiations
# cost less per ballot the more ballots they hold (crypto.membership.BATCH_CHUNK at most);
# tasks are made smaller when there are few ballots, so that every worker gets some.
MAX_BALLOTS_PER_TASK = BATCH_CHUNK
MIN_BALLOTS_PER_TASK = 16


@dataclass(frozen=True)
class CastBallot:
    """One ballot of the box: its log position, the signed ballot and when it was received."""

    index: int
    signed_ballot: dict[str, Any]
    received: int  # ms since the epoch, from the collector's log entry


@dataclass(frozen=True)
class Checked:
    """The outcome of the per-ballot checks (step 2)."""

    index: int
    district: str  # the district the ballot names (UNASSIGNED when none of the manifest's)
    voter: str | None = None  # personal code, when the ballot is valid
    reason: str | None = None  # set when invalid
    detail: str = ""
    # when valid: the ballot without its voter, encoded here in the worker (the tallier's
    # bundle is hashed and written from these bytes, the auditors compare them with the
    # bundle's), and its ciphertexts as (contest, part, value)
    ballot: EncodedBallot | None = None
    ciphertexts: tuple[tuple[str, int, int], ...] = ()
    challenge: bytes = b""  # the collector's challenge the voter signed

    @property
    def valid(self) -> bool:
        return self.reason is None


def no_progress(description: str, total: int) -> Callable[[int], None]:
    return lambda advance: None


# ------------------------------------------------------------------ step 2, in workers

_STATE: dict[str, Any] = {}


def _init_worker(
    manifest_doc: dict[str, Any],
    voter_list_doc: dict[str, Any],
    crls: list[bytes],
    collector_der: bytes | None = None,
) -> None:
    manifest = Manifest.from_dict(manifest_doc)
    _STATE["manifest"] = manifest
    _STATE["voters"] = VoterList.from_dict(
        voter_list_doc, scheme=manifest.personal_code_scheme
    )
    _STATE["trust"] = manifest.trust.eid_trust_store(crls)
    if collector_der is not None:
        _STATE["collector"] = eid.parse_certificate(collector_der, "collector", der_only=True)
        _STATE["heads"] = {}


def _named_district(manifest: Manifest, document: Any) -> str:
    payload = document.get("payload") if isinstance(document, Mapping) else None
    district = payload.get("district") if isinstance(payload, Mapping) else None
    known = {d.id for d in manifest.districts}
    return district if isinstance(district, str) and district in known else UNASSIGNED


_CERTIFICATE_REASONS: tuple[tuple[type[eid.EidError], str], ...] = (
    (eid.CertificateRevoked, "certificate-revoked"),
    (eid.CertificateExpired, "certificate-expired"),
    (eid.CertificateNotYetValid, "certificate-expired"),
    (eid.UntrustedIssuer, "certificate-untrusted"),
)


def _check_entry(
    manifest: Manifest, voters: VoterList, trust: eid.TrustStore, entry: CastBallot
) -> tuple[Checked, Ballot | None]:
    """Step 2 for one ballot, with the parsed ballot when it is valid (for its proofs)."""
    district = _named_district(manifest, entry.signed_ballot)

    def invalid(reason: str, detail: str) -> tuple[Checked, None]:
        return Checked(entry.index, district, reason=reason, detail=detail), None

    try:
        payload, certificate, _ = open_signed(
            entry.signed_ballot, DOMAINS["ballot"], where="ballot"
        )
    except eid.EidError as exc:
        return invalid("signature", str(exc))
    except FormatError as exc:
        return invalid("malformed", str(exc))
    try:
        ballot = parse_ballot(manifest, payload)
    except BallotError as exc:
        wrong = exc.field in {"ballot.election_id", "ballot.manifest_hash"}
        return invalid("wrong-election" if wrong else "malformed", str(exc))
    at = dt.datetime.fromtimestamp(entry.received / 1000, dt.UTC)
    if not manifest.period.contains(at):
        return invalid(
            "outside-voting-period",
            f"received {at.isoformat()}, voting was open {manifest.period.start.isoformat()} "
            f"to {manifest.period.end.isoformat()}",
        )
    try:
        identity = eid.check_certificate(certificate, trust, at, field="certificate")
    except eid.EidError as exc:
        # The record is public: say what was wrong, never whose certificate (serial, name).
        reason = next((r for kind, r in _CERTIFICATE_REASONS if isinstance(exc, kind)), None)
        return invalid(
            reason or "certificate",
            f"{type(exc).__name__} at {at.isoformat()}" if reason else type(exc).__name__,
        )
    if personal_codes.problem(manifest.personal_code_scheme, identity.personal_code):
        # It cannot be on the list (every list is checked against the scheme); said apart.
        return invalid(
            "not-eligible",
            "the signer's personal code does not fit the election's personal-code scheme "
            f"({manifest.personal_code_scheme})",
        )
    home = voters.district_of(identity.personal_code)
    if home is None:
        return invalid("not-eligible", "the signer is not on the voter list")
    if home != ballot.district:
        return invalid(
            "wrong-district",
            f"the ballot is for district {ballot.district}, the voter's district is {home}",
        )
    checked = Checked(
        entry.index,
        ballot.district,
        voter=identity.personal_code,
        ballot=EncodedBallot.of(ballot.district, payload["contests"]),
        ciphertexts=tuple(
            (contest_id, part, value)
            for contest_id, contest in ballot.contests.items()
            for part, value in enumerate(contest.ciphertexts)
        ),
        challenge=ballot.challenge,
    )
    return checked, ballot


def _bad_proofs(manifest: Manifest, ballots: Sequence[tuple[int, Ballot]]) -> list[int]:
    """Log indices of the (index, parsed ballot) whose proofs fail: one batch for all."""
    statements = []
    owners: list[int] = []
    bad: set[int] = set()
    for index, ballot in ballots:
        try:
            for statement in ballot_statements(manifest, ballot):
                statements.append(statement)
                owners.append(index)
        except (BallotError, InvalidInput):
            bad.add(index)
    bad.update(owners[position] for position in batch_verify(statements))
    return sorted(bad)


@dataclass(frozen=True)
class _Step2:
    """What a task of step 2 returns: each ballot's outcome and the valid ones whose proofs
    fail; from the box's lines also each entry's leaf hash, receive time and receipt head,
    and the first fault of the box as (error class, field, problem), after which the task
    stopped (the box will be refused)."""

    checked: list[Checked]
    bad_proofs: list[int]
    log: list[tuple[bytes, int, LogHead]] = field(default_factory=list)
    failure: tuple[type[Exception], str, str] | None = None


def _check_lines(task: tuple[int, list[bytes]]) -> _Step2:
    """Step 2 on raw lines of the box's entries.jsonl: each line's box checks
    (formats.ballotbox.check_entry_line), then the ballot's."""
    start, lines = task
    manifest, voters, trust = _STATE["manifest"], _STATE["voters"], _STATE["trust"]
    checked: list[Checked] = []
    ballots: list[tuple[int, Ballot]] = []
    log: list[tuple[bytes, int, LogHead]] = []
    failure = None
    for position, line in enumerate(lines, start):
        try:
            box_entry, head = check_entry_line(
                line, position, _STATE["collector"], manifest, _STATE["heads"]
            )
        except (FormatError, eid.EidError) as exc:
            # exceptions with (field, problem) arguments do not pickle: send their parts
            failure = (type(exc), exc.field, exc.problem)
            break
        received = box_entry.receipt.received
        log.append((box_entry.receipt.leaf_hash, received, head))
        outcome, ballot = _check_entry(
            manifest, voters, trust, CastBallot(position, box_entry.ballot, received)
        )
        checked.append(outcome)
        if ballot is not None:
            ballots.append((position, ballot))
    return _Step2(checked, _bad_proofs(manifest, ballots), log, failure)


def _task_size(total: int, workers: int) -> int:
    """Ballots per task: every worker busy, batches as large as allowed."""
    return max(MIN_BALLOTS_PER_TASK, min(MAX_BALLOTS_PER_TASK, -(-total // max(workers, 1))))


class _Pool:
    """The worker pool (or, with one worker, this process) with the election loaded."""

    def __init__(self, workers: int, initargs: tuple[Any, ...]) -> None:
        self.workers = workers
        self.initargs = initargs
        self.executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> _Pool:
        if self.workers > 1:
            self.executor = ProcessPoolExecutor(
                self.workers, initializer=_init_worker, initargs=self.initargs
            )
        else:
            _init_worker(*self.initargs)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.executor is not None:
            self.executor.shutdown(cancel_futures=True)

    def map(
        self,
        function: Callable[[Any], Any],
        tasks: Iterable[Any],
        advance: Callable[[int], None],
        size: Callable[[Any], int] = len,
    ) -> Iterator[Any]:
        """function(task) for each task, results in order; `tasks` may be a generator (read
        as the workers need more: a few tasks per worker are in flight at a time)."""
        if self.executor is None:
            for task in tasks:
                result = function(task)
                advance(size(task))
                yield result
            return
        pending: deque[tuple[Future[Any], int]] = deque()
        for task in tasks:
            pending.append((self.executor.submit(function, task), size(task)))
            if len(pending) > 2 * self.workers:
                future, weight = pending.popleft()
                result = future.result()
                advance(weight)
                yield result
        while pending:
            future, weight = pending.popleft()
            result = future.result()
            advance(weight)
            yield result


def _line_tasks(lines: Iterable[bytes], size: int) -> Iterator[tuple[int, list[bytes]]]:
    """(first log index, lines) in tasks of `size` lines."""
    batch: list[bytes] = []
    start = 0
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield start, batch
            start += size
            batch = []
    if batch:
        yield start, batch


# ------------------------------------------------------------------ steps 3 and 4


@dataclass(frozen=True)
class Decision:
    """Steps 3 and 4: the report (every ballot accounted for) and the counted ballots, one per
    voter, in log order."""

    report: TallyReport
    counted: tuple[Checked, ...]

    @property
    def counted_voters(self) -> tuple[str, ...]:
        return tuple(sorted(c.voter for c in self.counted if c.voter is not None))


def decide(
    manifest: Manifest,
    checked: list[Checked],
    bad_proofs: set[int],
    paper_voters: Iterable[str],
) -> Decision:
    """Steps 3 and 4, given step 2's outcome for every ballot and the log indices of the valid
    ballots whose proofs fail (step 2 verified the proofs of every valid ballot)."""
    paper = set(paper_voters)
    checked.sort(key=lambda c: c.index)
    invalid: dict[int, Checked] = {c.index: c for c in checked if not c.valid}
    valid = [c for c in checked if c.valid]
    # replays: a challenge signed in an earlier valid ballot (the collector refuses a reused
    # challenge, so only a replayed ballot carries one: counting it would let whoever holds a
    # voter's earlier ballot undo their revote); ballot copying: a ciphertext first cast by
    # another voter
    by_voter: dict[str, list[Checked]] = defaultdict(list)
    first_voter: dict[int, str] = {}
    challenges: set[bytes] = set()
    for c in valid:
        if c.challenge in challenges:
            invalid[c.index] = Checked(
                c.index,
                c.district,
                reason="replayed",
                detail="its challenge was signed in an earlier ballot",
            )
            continue
        challenges.add(c.challenge)
        copied = None
        for _contest, _part, ciphertext in c.ciphertexts:
            owner = first_voter.setdefault(ciphertext, c.voter or "")
            if owner != c.voter:
                copied = ciphertext
        if copied is not None:
            invalid[c.index] = Checked(
                c.index,
                c.district,
                reason="copied-ciphertext",
                detail="a ciphertext of this ballot was cast earlier by another voter",
            )
            continue
        assert c.voter is not None
        by_voter[c.voter].append(c)

    cancelled = {voter for voter in by_voter if voter in paper}
    # each remaining voter's candidates, latest first; proofs decide which one counts
    pending = {voter: list(reversed(ballots)) for voter, ballots in by_voter.items()}
    counted: dict[str, Checked] = {}
    to_check = {voter: ballots[0] for voter, ballots in pending.items() if voter not in paper}
    while to_check:
        next_round: dict[str, Checked] = {}
        for voter, candidate in to_check.items():
            if candidate.index not in bad_proofs:
                counted[voter] = candidate
                continue
            invalid[candidate.index] = Checked(
                candidate.index,
                candidate.district,
                reason="proof",
                detail="a validity proof does not verify",
            )
            pending[voter].pop(0)
            if pending[voter]:
                next_round[voter] = pending[voter][0]
        to_check = next_round

    # account for every ballot
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(Counts().to_dict(), 0))
    for c in checked:
        counts[c.district]["received"] += 1
    for c in invalid.values():
        counts[c.district]["invalid"] += 1
    counted_indices = {c.index for c in counted.values()}
    for voter, ballots in by_voter.items():
        for c in ballots:
            if c.index in invalid or c.index in counted_indices:
                continue
            if voter in cancelled and c is ballots[-1]:
                counts[c.district]["cancelled_by_paper"] += 1
            else:
                counts[c.district]["superseded"] += 1
    for c in counted.values():
        counts[c.district]["counted"] += 1
    for district in manifest.districts:
        counts[district.id]  # every district appears, even without ballots
    report = TallyReport(
        {name: Counts(**values) for name, values in counts.items()},
        tuple(
            InvalidBallot(c.index, c.district, c.reason or "", c.detail)
            for c in sorted(invalid.values(), key=lambda c: c.index)
        ),
    )
    return Decision(report, tuple(sorted(counted.values(), key=lambda c: c.index)))


def encrypted_totals(manifest: Manifest, counted: Iterable[Checked]) -> list[EncryptedTotal]:
    """The ciphertexts to decrypt per district, contest and part, in the manifest's order: the
    product of the counted ballots' ciphertexts, on raw integers (never re-randomised); for a
    choose-several contest, the products of its per-candidate ciphertexts packed into parts
    (crypto.membership.contest_totals)."""
    key = manifest.threshold_key.public_key
    n2 = mpz(key.n_squared)
    products: dict[tuple[str, str, int], Any] = {}
    for district, contest in manifest.contests():
        for index in range(manifest.contest_encoding(district.id, contest.id).ciphertexts):
            products[(district.id, contest.id, index)] = mpz(1)
    for ballot in counted:
        for contest_id, index, value in ballot.ciphertexts:
            label = (ballot.district, contest_id, index)
            products[label] = products[label] * value % n2
    totals = []
    for district, contest in manifest.contests():
        enc = manifest.contest_encoding(district.id, contest.id)
        contest_products = [
            products[(district.id, contest.id, index)] for index in range(enc.ciphertexts)
        ]
        for part, value in enumerate(contest_totals(key, enc, contest_products)):
            totals.append(EncryptedTotal(district.id, contest.id, part, int(value)))
    return totals


# ------------------------------------------------------------------ the whole cleansing


@dataclass(frozen=True)
class Cleansing:
    """What the cleansing of one ballot box found: the decision, the log (final signed head
    and every leaf hash), the newest voter list the box carries (the one used for eligibility)
    and the hash of the box's signed index, which names the whole box."""

    decision: Decision
    log: LogSnapshot
    voter_list: VoterList
    box_hash: bytes


def cleanse_ballot_box(
    manifest: Manifest,
    box_path: str | os.PathLike[str],
    paper_voters: Iterable[str] | Callable[[VoterList], Iterable[str]],
    crls: Sequence[bytes],
    *,
    workers: int | None = None,
    progress: ProgressFactory = no_progress,
) -> Cleansing:
    """Steps 1 to 4 over a ballot box: the box read once as a stream, its entries' checks and
    step 2 in the worker pool, then decide(). A bad box raises the error read_ballot_box
    gives (formats.ballotbox.BallotBoxError or an e-ID error). `paper_voters` is the paper
    voters' codes, or a function of the box's newest voter list that gives them (and may
    refuse the list) before the long part starts."""
    workers = workers or os.cpu_count() or 1
    with BallotBoxReader(box_path, manifest) as reader:
        voter_list = reader.voter_lists[-1]
        paper = set(paper_voters(voter_list) if callable(paper_voters) else paper_voters)
        collector_der = reader.certificate.public_bytes(Encoding.DER)
        initargs = (manifest.to_dict(), voter_list.to_dict(), list(crls), collector_der)
        with _Pool(workers, initargs) as pool:
            checked: list[Checked] = []
            bad_proofs: set[int] = set()
            leaves: list[bytes] = []
            heads: list[LogHead] = []
            times = EntryTimes()
            advance = progress(_("checking signatures, certificates and proofs"), reader.ballots)
            tasks = _line_tasks(reader.lines(), _task_size(reader.ballots, workers))
            for result in pool.map(_check_lines, tasks, advance, size=lambda t: len(t[1])):
                # the box's checks in log order: a task's results stop at its first fault
                for leaf, received, head in result.log:
                    times.check(len(leaves), received)
                    leaves.append(leaf)
                    heads.append(head)
                if result.failure is not None:
                    kind, where, problem = result.failure
                    reader.fail(kind(where, problem))
                checked.extend(result.checked)
                bad_proofs.update(result.bad_proofs)
            reader.finish(leaves, heads)
        log = LogSnapshot(reader.index["log_head"], tuple(leaves))
        box_hash = reader.index_hash
    decision = decide(manifest, checked, bad_proofs, paper)
    return Cleansing(decision, log, voter_list, box_hash)
