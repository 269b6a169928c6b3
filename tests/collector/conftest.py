"""Session fixtures of the collector's tests: one PKI, and elections open now, not yet open
and already over (all on the 512-bit fixture primes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from collector_helpers import Client, CollectorElection, Pki, Server, make_election, make_pki


@pytest.fixture(scope="session")
def pki() -> Pki:
    return make_pki(dt.datetime.now(dt.UTC).replace(microsecond=0))


@pytest.fixture(scope="session")
def election(
    pki: Pki, safe_primes: dict, tmp_path_factory: pytest.TempPathFactory
) -> CollectorElection:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return make_election(
        tmp_path_factory.mktemp("open"),
        pki,
        safe_primes[512],
        "collector-test",
        now - dt.timedelta(days=1),
        now + dt.timedelta(days=5),
    )


@pytest.fixture(scope="session")
def future_election(
    pki: Pki, safe_primes: dict, tmp_path_factory: pytest.TempPathFactory
) -> CollectorElection:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return make_election(
        tmp_path_factory.mktemp("future"),
        pki,
        safe_primes[512],
        "collector-future",
        now + dt.timedelta(days=1),
        now + dt.timedelta(days=5),
    )


@pytest.fixture(scope="session")
def past_election(
    pki: Pki, safe_primes: dict, tmp_path_factory: pytest.TempPathFactory
) -> CollectorElection:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return make_election(
        tmp_path_factory.mktemp("past"),
        pki,
        safe_primes[512],
        "collector-past",
        now - dt.timedelta(days=5),
        now - dt.timedelta(days=1),
    )


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
