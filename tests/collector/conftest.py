"""Session fixtures of the collector's tests: one PKI, and elections open now, not yet open
and already over (all on the 512-bit fixture primes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from collector_helpers import (
    Client,
    CollectorElection,
    Pki,
    Server,
    collector_pki,
    make_election,
)
from support.election import utc_now


@pytest.fixture(scope="session")
def pki() -> Pki:
    return collector_pki(utc_now())


def _election(
    factory: pytest.TempPathFactory, pki: Pki, primes: dict, kind: str, days: tuple[int, int]
) -> CollectorElection:
    """An election `kind` (also its id's suffix) from `days[0]` to `days[1]` days from now."""
    now = utc_now()
    start, end = (now + dt.timedelta(days=offset) for offset in days)
    return make_election(factory.mktemp(kind), pki, primes[512], f"collector-{kind}", start, end)


@pytest.fixture(scope="session")
def election(
    pki: Pki, safe_primes: dict, tmp_path_factory: pytest.TempPathFactory
) -> CollectorElection:
    return _election(tmp_path_factory, pki, safe_primes, "test", (-1, 5))


@pytest.fixture(scope="session")
def future_election(
    pki: Pki, safe_primes: dict, tmp_path_factory: pytest.TempPathFactory
) -> CollectorElection:
    return _election(tmp_path_factory, pki, safe_primes, "future", (1, 5))


@pytest.fixture(scope="session")
def past_election(
    pki: Pki, safe_primes: dict, tmp_path_factory: pytest.TempPathFactory
) -> CollectorElection:
    return _election(tmp_path_factory, pki, safe_primes, "past", (-5, -1))


@pytest.fixture
def server(election: CollectorElection, db_url: str) -> Iterator[Server]:
    running = Server(election.directory, db_url).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def client(server: Server) -> Iterator[Client]:
    c = Client(server.url)
    yield c
    c.close()
