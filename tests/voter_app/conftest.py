"""Session fixtures of the voter app's tests: one election open now, one collector process;
the Thai general election in small and its collector; the council election (a choose-several
contest) and its collector."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.election import build_council_election, build_thai_election
from voter_helpers import (
    COLLECTOR_PASSPHRASE,
    PIN,
    CollectorProcess,
    VoterElection,
    build_election,
)


@pytest.fixture(scope="session")
def election(safe_primes: dict, tmp_path_factory: pytest.TempPathFactory) -> VoterElection:
    return build_election(tmp_path_factory.mktemp("voter-election"), safe_primes[512])


@pytest.fixture(scope="session")
def collector(
    election: VoterElection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CollectorProcess]:
    """One collector for the whole session (tests cast with different voters)."""
    running = CollectorProcess(
        election.directory, tmp_path_factory.mktemp("collector-db") / "ballots.sqlite"
    ).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def pin_file(tmp_path: Path) -> Path:
    path = tmp_path / "pin"
    path.write_text(PIN + "\n")
    return path


@pytest.fixture(scope="session")
def thai_election(safe_primes: dict, tmp_path_factory: pytest.TempPathFactory) -> VoterElection:
    """A Thai general election in small (tests/support/election.py): two constituencies with
    a "vote no" box, the national party list with one, a national referendum; names in
    English and Thai; the voters' e-IDs as PKCS#12 files under PIN."""
    built = build_thai_election(tmp_path_factory.mktemp("thai-election"), safe_primes[512])
    built.write_collector_key(COLLECTOR_PASSPHRASE)
    built.write_eid_files(PIN)
    return built


@pytest.fixture(scope="session")
def thai_collector(
    thai_election: VoterElection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CollectorProcess]:
    running = CollectorProcess(
        thai_election.directory, tmp_path_factory.mktemp("thai-db") / "ballots.sqlite"
    ).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def council_election(
    safe_primes: dict, tmp_path_factory: pytest.TempPathFactory
) -> VoterElection:
    """A municipal election: per ward a mayor (1 of 3) and a council where a voter marks up
    to 3 candidates or none (tests/support/election.py, COUNCIL_SPEC); e-IDs under PIN."""
    built = build_council_election(tmp_path_factory.mktemp("council-election"), safe_primes[512])
    built.write_collector_key(COLLECTOR_PASSPHRASE)
    built.write_eid_files(PIN)
    return built


@pytest.fixture(scope="session")
def council_collector(
    council_election: VoterElection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CollectorProcess]:
    running = CollectorProcess(
        council_election.directory, tmp_path_factory.mktemp("council-db") / "ballots.sqlite"
    ).start()
    try:
        yield running
    finally:
        running.stop()
