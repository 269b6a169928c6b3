"""Session fixtures of the voter app's tests: one election open now, one collector process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from voter_helpers import PIN, CollectorProcess, VoterElection, build_election


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
