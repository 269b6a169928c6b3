"""collector.log on SQLite and PostgreSQL: the append-only log, latest per voter, challenges,
signed heads, proofs, copy detection, vote-check fetch limits, closing."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import secrets
import threading
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from canonical.encoding import b64url, parse_b64url, parse_canonical
from collector import db as dbmod
from collector.db import Database
from collector.errors import Refusal
from collector.log import BallotLog, Candidate, now_ms
from crypto import merkle
from formats.receipt import LatestStatement, LogHead, entry_leaf_hash


def fake_sign(domain: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A stand-in for the collector's signature: the storage layer only stores documents."""
    return {"version": 1, "domain": domain, "payload": payload, "signature": b64url(b"sig")}


@pytest.fixture
def log(db_url: str) -> BallotLog:
    database = Database(db_url)
    database.migrate()
    yield BallotLog(database, "election-1", fake_sign)
    database.dispose()


def candidate(log: BallotLog, voter: str, ttl: int = 60_000, ciphertexts: int = 1) -> Candidate:
    challenge, _ = log.issue_challenge(ttl)
    body = secrets.token_bytes(16)
    return Candidate(
        ballot_hash=hashlib.sha256(body).digest(),
        ballot=body,
        voter=voter,
        district="d1",
        challenge=challenge,
        ciphertext_digests=tuple(secrets.token_bytes(32) for _ in range(ciphertexts)),
    )


def head_of(document: bytes) -> LogHead:
    return LogHead.from_dict(parse_canonical(document)["payload"])


def test_migrations_match_the_tables_and_rerun(db_url: str) -> None:
    database = Database(db_url)
    database.migrate()
    database.migrate()  # a second process starting on the same database
    with database.writer.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), dbmod.metadata)
        tables = set(sa.inspect(connection).get_table_names())
    database.dispose()
    assert diff == []
    assert {"entries", "latest", "heads", "challenges", "ciphertexts", "log_state"} <= tables


def test_appends_receipts_heads_and_proofs(log: BallotLog) -> None:
    log.ensure_head()
    assert head_of(log.head()).size == 0
    ballots = [candidate(log, f"voter{i % 4}") for i in range(11)]
    outcomes = log.append(ballots[:5]) + log.append(ballots[5:6]) + log.append(ballots[6:])
    assert [o.log_index for o in outcomes] == list(range(11))
    heads_seen = []
    for ballot, outcome in zip(ballots, outcomes, strict=True):
        receipt = parse_canonical(outcome.receipt)
        assert receipt["domain"] == "ivote/v1/receipt"
        payload = receipt["payload"]
        assert parse_b64url(payload["ballot_hash"], "h") == ballot.ballot_hash
        head = LogHead.from_dict(payload["log_head"]["payload"])
        assert head.size > outcome.log_index
        leaf = entry_leaf_hash(ballot.ballot_hash, payload["received"])
        proof = log.inclusion_proof(outcome.log_index, head.size)
        merkle.verify_inclusion(leaf, outcome.log_index, head.size, proof, head.root_hash)
        heads_seen.append(head)
    leaves = log.leaf_hashes(0, 11)
    final = head_of(log.head())
    assert final.size == 11 and final.root_hash == merkle.root_hash(leaves)
    for head in heads_seen:
        assert head_of(log.head(head.size)) == head
        proof = log.consistency_proof(head.size, final.size)
        merkle.verify_consistency(head.size, final.size, head.root_hash, final.root_hash, proof)
    assert log.latest_per_voter() == {"voter0": 8, "voter1": 9, "voter2": 10, "voter3": 7}
    with pytest.raises(Refusal, match="bad_request"):
        log.inclusion_proof(3, 12)
    with pytest.raises(Refusal, match="bad_request"):
        log.consistency_proof(5, 4)


def test_resend_gives_same_receipt_and_no_new_entry(log: BallotLog) -> None:
    ballot = candidate(log, "v")
    first = log.append([ballot])[0]
    again = log.append([ballot])[0]
    both = log.append([ballot, ballot])
    assert again.receipt == first.receipt and again.repeated and not first.repeated
    assert [b.receipt for b in both] == [first.receipt, first.receipt]
    assert log.state()[0] == 1
    # a fresh ballot in the same batch twice is appended once
    other = candidate(log, "w")
    twice = log.append([other, other])
    assert twice[0].receipt == twice[1].receipt and log.state()[0] == 2


def test_challenge_refusals(log: BallotLog) -> None:
    ballot = candidate(log, "v")
    unknown = Candidate(**{**ballot.__dict__, "challenge": secrets.token_bytes(32)})
    with pytest.raises(Refusal, match="challenge_unknown"):
        log.check_challenge(unknown.challenge, unknown.ballot_hash, 0)
    assert log.append([unknown])[0].code == "challenge_unknown"
    assert not isinstance(log.append([ballot])[0], Refusal)
    # the same challenge in another ballot (another voter or the same one) is refused
    reuse = Candidate(**{**candidate(log, "w").__dict__, "challenge": ballot.challenge})
    with pytest.raises(Refusal, match="challenge_used"):
        log.check_challenge(reuse.challenge, reuse.ballot_hash, 0)
    assert log.append([reuse])[0].code == "challenge_used"
    log.check_challenge(ballot.challenge, ballot.ballot_hash, 0)  # its own ballot: fine
    expired = candidate(log, "x", ttl=-1)
    with pytest.raises(Refusal, match="challenge_expired"):
        log.check_challenge(expired.challenge, expired.ballot_hash, now_ms())
    assert log.append([expired])[0].code == "challenge_expired"
    assert log.state()[0] == 1  # nothing refused was stored


def test_copied_ciphertext_refused_for_another_voter_only(log: BallotLog) -> None:
    original = candidate(log, "alice", ciphertexts=2)
    assert not isinstance(log.append([original])[0], Refusal)
    copy = Candidate(
        **{**candidate(log, "mallory").__dict__, "ciphertext_digests": original.ciphertext_digests}
    )
    refused = log.append([copy])[0]
    assert isinstance(refused, Refusal) and refused.code == "ballot_copied"
    # the copier's challenge stays unused: he may still cast a real ballot with it
    log.check_challenge(copy.challenge, b"\x00" * 32, 0)
    resent = Candidate(
        **{**candidate(log, "alice").__dict__, "ciphertext_digests": original.ciphertext_digests}
    )
    assert not isinstance(log.append([resent])[0], Refusal)
    assert log.latest_per_voter() == {"alice": 1}


def test_concurrent_revotes_leave_one_latest(log: BallotLog) -> None:
    ballots = [candidate(log, "same-voter" if i % 2 else f"voter{i}") for i in range(40)]
    results: list[Any] = []
    lock = threading.Lock()

    def cast(chunk: list[Candidate]) -> None:
        for ballot in chunk:
            outcome = log.append([ballot])[0]
            with lock:
                results.append((ballot, outcome))

    threads = [threading.Thread(target=cast, args=(ballots[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    indices = sorted(o.log_index for _, o in results)
    assert indices == list(range(40))
    same = [o.log_index for b, o in results if b.voter == "same-voter"]
    assert log.latest_per_voter()["same-voter"] == max(same)
    head = head_of(log.head())
    assert head.size == 40 and merkle.root_hash(log.leaf_hashes(0, 40)) == head.root_hash
    rows = list(log.rows())
    assert [r.log_index for r in rows] == list(range(40))
    assert [bytes(r.leaf_hash) for r in rows] == [
        entry_leaf_hash(bytes(r.ballot_hash), r.received) for r in rows
    ]
    assert all(a.received <= b.received for a, b in itertools.pairwise(rows))


def test_vote_check_window_and_limit(log: BallotLog) -> None:
    ballot = candidate(log, "v")
    log.append([ballot])
    for prefix in (ballot.ballot_hash, ballot.ballot_hash[:7], ballot.ballot_hash[:7]):
        [answer] = log.fetch_for_check(prefix, 60_000, 3)
        assert (answer.ballot_hash, answer.ballot, answer.newer) == (
            ballot.ballot_hash,
            ballot.ballot,
            None,
        )
    with pytest.raises(Refusal, match="check_limit_reached"):
        log.fetch_for_check(ballot.ballot_hash[:7], 60_000, 3)
    with pytest.raises(Refusal, match="check_window_over"):
        log.fetch_for_check(ballot.ballot_hash, -1, 10)
    with pytest.raises(Refusal, match="not_found"):
        log.fetch_for_check(b"\x01" * 32, 60_000, 3)


def with_hash(log: BallotLog, voter: str, digest: bytes) -> Candidate:
    return dataclasses.replace(candidate(log, voter), ballot_hash=digest)


def test_vote_check_by_prefix_answers_every_match_and_the_latest(log: BallotLog) -> None:
    prefix = b"\xff\x00\x7f\x80\xff\xff\x01"
    mine = with_hash(log, "anna", prefix + b"\xff" * 25)  # the range's upper end
    other = with_hash(log, "bert", prefix + b"\x00" * 25)  # its lower end
    outside = [
        with_hash(log, "carl", prefix[:-1] + b"\x02" + b"\x00" * 25),
        with_hash(log, "dora", prefix[:-1] + b"\x00" + b"\xff" * 25),
    ]
    newer = candidate(log, "anna")
    log.append([mine, other, *outside])
    [answer] = log.fetch_for_check(outside[0].ballot_hash[:7], 60_000, 3)
    assert answer.ballot_hash == outside[0].ballot_hash
    answers = log.fetch_for_check(prefix, 60_000, 3)
    assert [a.ballot_hash for a in answers] == [other.ballot_hash, mine.ballot_hash]
    for answer in answers:
        statement = LatestStatement.from_dict(parse_canonical(answer.latest)["payload"])
        assert parse_canonical(answer.latest)["domain"] == "ivote/v1/latest-ballot"
        assert statement.is_latest and statement.log_size == 4
        assert answer.newer is None
    # anna votes again: her first ballot is no longer the latest, and the newer one comes along
    log.append([newer])
    answers = {a.ballot_hash: a for a in log.fetch_for_check(prefix, 60_000, 3)}
    signed = parse_canonical(answers[mine.ballot_hash].latest)
    statement = LatestStatement.from_dict(signed["payload"])
    assert (statement.log_index, statement.latest_index, statement.log_size) == (0, 4, 5)
    assert answers[mine.ballot_hash].newer == (newer.ballot, log.receipt_for(newer.ballot_hash))
    assert answers[other.ballot_hash].newer is None
    # each match is counted: a third check reaches the limit of both; a fourth is refused
    assert len(log.fetch_for_check(prefix, 60_000, 3)) == 2
    with pytest.raises(Refusal, match="check_limit_reached"):
        log.fetch_for_check(prefix, 60_000, 3)


def test_vote_checks_racing_never_exceed_the_limit(log: BallotLog) -> None:
    ballot = candidate(log, "v")
    log.append([ballot])
    outcomes: list[str] = []

    def check() -> None:
        try:
            log.fetch_for_check(ballot.ballot_hash[:7], 60_000, 3)
            outcomes.append("ok")
        except Refusal as refusal:
            outcomes.append(refusal.code)

    threads = [threading.Thread(target=check) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["check_limit_reached"] * 5 + ["ok"] * 3


def test_close_is_final(log: BallotLog) -> None:
    log.append([candidate(log, "v")])
    pending = candidate(log, "w")
    final = log.close()
    assert log.close() == final and log.head() == final
    assert head_of(final).size == 1
    assert log.append([pending])[0].code == "election_closed"
    with pytest.raises(Refusal, match="election_closed"):
        log.issue_challenge(1000)


def test_a_receive_time_outside_the_checked_window_is_refused(log: BallotLog) -> None:
    """The append fixes `received`; a time before the window (a clock that went back past
    the opening) or at its end is refused with the window's code, and nothing is stored."""
    import dataclasses

    log.ensure_head()
    early = dataclasses.replace(candidate(log, "voter-a"), valid_from=now_ms() + 60_000)
    late = dataclasses.replace(
        candidate(log, "voter-b"), valid_until=now_ms() - 1, late_code="certificate_expired"
    )
    fine = candidate(log, "voter-c")
    outcomes = log.append([early, late, fine])
    assert [getattr(o, "code", None) for o in outcomes[:2]] == [
        "election_not_open",
        "certificate_expired",
    ]
    assert outcomes[2].log_index == 0
    assert log.state()[0] == 1
