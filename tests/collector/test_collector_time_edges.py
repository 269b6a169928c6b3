"""Receipts only for ballots the tally will count by time (docs/spec.md, "Collector API"): the
receipt signs `received`, fixed when the ballot is appended, and the tally checks the period,
the certificate and its revocation at that time. A ballot checked just before the end (or
before a listed revocation) whose append comes after it is refused, never receipted; on
SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from collector_helpers import NORTH, PASSPHRASE, Pki, make_election
from cryptography.hazmat.primitives.serialization import Encoding
from support.election import utc_now

from canonical.encoding import canonical_bytes, parse_canonical
from ceremonies.pki import Revocation, make_crl
from collector.db import Database
from collector.errors import Refusal
from collector.log import Appended, BallotLog
from collector.service import Checked, Election, Settings, precheck


def _settings(election_dir: Path, db_url: str, crls: tuple[Path, ...] = ()) -> Settings:
    return Settings(
        election_dir,
        db_url,
        election_dir / "collector.p12",
        PASSPHRASE,
        crl_paths=crls,
        allow_test_key=True,  # the fixture keys
    )


@pytest.fixture
def closing(
    pki: Pki, safe_primes: dict, tmp_path: Path, db_url: str
) -> Iterator[tuple[object, Election, BallotLog]]:
    """An election whose voting period ends 3 seconds from now."""
    end = (utc_now() + dt.timedelta(seconds=3)).replace(microsecond=0)
    small = make_election(
        tmp_path, pki, safe_primes[512], "collector-closing", end - dt.timedelta(days=1), end
    )
    election = Election(_settings(small.directory, db_url))
    database = Database(db_url)
    database.migrate()
    ballot_log = BallotLog(database, election.manifest.election_id, election.sign)
    ballot_log.ensure_head()
    yield small, election, ballot_log
    database.dispose()


def _prechecked(small: object, election: Election, ballot_log: BallotLog, voter: str) -> Checked:
    challenge, _ = ballot_log.issue_challenge(60_000)
    signed, _ = small.ballot(voter, challenge)  # type: ignore[attr-defined]
    checked = precheck(election, ballot_log, canonical_bytes(signed))
    assert isinstance(checked, Checked)
    return checked


def test_a_ballot_checked_before_the_end_and_appended_after_it_gets_no_receipt(
    closing: tuple[object, Election, BallotLog],
) -> None:
    small, election, ballot_log = closing
    end = election.manifest.period.end
    on_time = _prechecked(small, election, ballot_log, NORTH[0])
    late = _prechecked(small, election, ballot_log, NORTH[1])
    [appended] = ballot_log.append([on_time.candidate])
    assert isinstance(appended, Appended)
    receipt = parse_canonical(appended.receipt)["payload"]
    assert receipt["received"] < int(end.timestamp() * 1000)  # the tally counts it
    time.sleep(max(0.0, (end - utc_now()).total_seconds()) + 0.05)
    [refused] = ballot_log.append([late.candidate])
    assert isinstance(refused, Refusal) and refused.code == "election_over"
    assert ballot_log.state()[0] == 1  # nothing stored, no receipt


def test_the_window_ends_at_a_revocation_the_crls_list_for_later(
    pki: Pki, safe_primes: dict, tmp_path: Path, db_url: str
) -> None:
    now = utc_now()
    small = make_election(
        tmp_path, pki, safe_primes[512], "collector-revoking", now - dt.timedelta(days=1),
        now + dt.timedelta(days=1),
    )  # fmt: skip
    voter = NORTH[2]
    revoked_at = (now + dt.timedelta(seconds=2)).replace(microsecond=0)
    crl = make_crl(
        pki.issuing,
        [Revocation(pki.eids[voter].certificate.serial_number, revoked_at)],
        number=7,
        this_update=now - dt.timedelta(hours=1),
        next_update=now + dt.timedelta(days=2),
    )
    path = tmp_path / "future.crl"
    path.write_bytes(crl.public_bytes(Encoding.PEM))
    election = Election(_settings(small.directory, db_url, (path,)))
    database = Database(db_url)
    database.migrate()
    try:
        ballot_log = BallotLog(database, election.manifest.election_id, election.sign)
        ballot_log.ensure_head()
        checked = _prechecked(small, election, ballot_log, voter)
        assert checked.candidate.valid_until == int(revoked_at.timestamp() * 1000)
        assert checked.candidate.late_code == "certificate_revoked"
        time.sleep(max(0.0, (revoked_at - utc_now()).total_seconds()) + 0.05)
        [refused] = ballot_log.append([checked.candidate])
        assert isinstance(refused, Refusal) and refused.code == "certificate_revoked"
        assert ballot_log.state()[0] == 0
        # a new cast is refused at once, although the certificate's good outcome is cached
        challenge, _ = ballot_log.issue_challenge(60_000)
        signed, _ = small.ballot(voter, challenge)
        with pytest.raises(Refusal) as again:
            precheck(election, ballot_log, canonical_bytes(signed))
        assert again.value.code == "certificate_revoked"
    finally:
        database.dispose()


def test_the_window_is_the_period_and_the_certificate(
    closing: tuple[object, Election, BallotLog],
) -> None:
    small, election, ballot_log = closing
    checked = _prechecked(small, election, ballot_log, NORTH[3])
    period = election.manifest.period
    certificate = small.eids[NORTH[3]].certificate  # type: ignore[attr-defined]
    assert checked.candidate.valid_from == max(
        int(period.start.timestamp() * 1000),
        int(certificate.not_valid_before_utc.timestamp() * 1000),
    )
    assert checked.candidate.valid_until == int(period.end.timestamp() * 1000)
    assert checked.candidate.late_code == "election_over"
    # and a receipt's time is always inside it
    [appended] = ballot_log.append([checked.candidate])
    received = parse_canonical(appended.receipt)["payload"]["received"]
    assert checked.candidate.valid_from <= received < checked.candidate.valid_until
