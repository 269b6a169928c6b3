"""Rate limits of `ivote collector serve` over real HTTP (SQLite and PostgreSQL): challenges and
casts per client address, casts per voter, 429 with Retry-After, counted across workers and
across collector processes sharing a database; a flooding client is slowed down while an
honest voter casting at the same time gets receipts."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from collector_helpers import NORTH, PASSPHRASE, Client, CollectorElection
from support.collector_process import CollectorProcess

from collector.limits import Rate, client_subject


def limited_server(election: CollectorElection, db_url: str, *options: str) -> CollectorProcess:
    return CollectorProcess(election.directory, db_url, PASSPHRASE, workers=2, options=options)


@contextmanager
def running(*servers: CollectorProcess) -> Iterator[None]:
    for server in servers:
        server.start()
    try:
        yield
    finally:
        for server in servers:
            server.stop()


def early_in_a_minute() -> None:
    """Wait, if need be, until a fixed one-minute window of the limits has time left for a
    test: a window that turns mid-test would reset the counts it checks."""
    while 60 - time.time() % 60 < 15:
        time.sleep(0.5)


def from_address(url: str, address: str) -> httpx.Client:
    """A client whose connections come from `address` (any of 127.0.0.0/8 is loopback)."""
    return httpx.Client(
        base_url=url, timeout=60, transport=httpx.HTTPTransport(local_address=address)
    )


def assert_rate_limited(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    assert response.json()["detail"]["code"] == "rate_limited"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 600
    return retry_after


def test_rates_and_addresses() -> None:
    assert Rate.parse("60/60") == Rate(60, 60) and str(Rate.parse("off")) == "off"
    for bad in ["60", "0/60", "-1/60", "5/0", "5/100000", "x/y", "5/"]:
        with pytest.raises(ValueError, match="N/SECONDS"):
            Rate.parse(bad)
    assert client_subject("192.0.2.7") == "192.0.2.7"
    # an IPv6 subscriber's /64 is one client; an IPv4-mapped address is its IPv4 address
    assert client_subject("2001:db8:1:2:aaaa::1") == client_subject("2001:db8:1:2:ffff::9")
    assert client_subject("2001:db8:1:3::1") != client_subject("2001:db8:1:2::1")
    assert client_subject("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_subject(None) == "unknown"


def test_challenges_per_address_across_collector_processes(
    election: CollectorElection, db_url: str
) -> None:
    # two collector processes of two workers each share the database, so the limit too
    options = ("--challenges-per-address", "6/60", "--casts-per-voter", "off")
    first, second = (limited_server(election, db_url, *options) for _ in range(2))
    with running(first, second):
        flooder = [from_address(s.url, "127.0.0.2") for s in (first, second)]
        early_in_a_minute()
        answers = [flooder[i % 2].post("/v1/challenges") for i in range(8)]
        statuses = [a.status_code for a in answers]
        assert statuses == [200] * 6 + [429] * 2, statuses
        for answer in answers[6:]:
            assert_rate_limited(answer)
        # another address is not limited by it
        with from_address(first.url, "127.0.0.3") as other:
            assert other.post("/v1/challenges").status_code == 200
        for client in flooder:
            client.close()


def test_casts_per_voter_and_per_address(election: CollectorElection, db_url: str) -> None:
    server = limited_server(
        election, db_url, "--casts-per-voter", "3/600", "--casts-per-address", "12/60"
    )
    with running(server):
        client = Client(server.url)
        voter, other = NORTH[5], NORTH[6]
        early_in_a_minute()
        accepted = []
        for _ in range(3):  # two revotes: fine
            signed, _ = election.ballot(voter, client.challenge())
            response = client.cast(signed)
            assert response.status_code == 200, response.text
            accepted.append(signed)
        signed, _ = election.ballot(voter, client.challenge())
        assert_rate_limited(client.cast(signed))
        # a resend of an accepted ballot still gets its receipt; another voter may cast
        assert client.cast(accepted[-1]).status_code == 200
        signed, _ = election.ballot(other, client.challenge())
        assert client.cast(signed).status_code == 200
        # per address, every cast counts, refused or not: 6 so far, 6 more, then 429
        for _ in range(6):
            assert client.cast(b"{}").status_code == 400
        assert_rate_limited(client.cast(b"{}"))
        assert client.json("/v1/health")["size"] == 4
        client.close()


def test_a_flood_is_limited_while_an_honest_voter_casts(
    election: CollectorElection, db_url: str
) -> None:
    server = limited_server(election, db_url, "--challenges-per-address", "20/60")
    with running(server):
        statuses: list[int] = []
        stop = threading.Event()

        async def flood() -> None:
            # unpaced, on 32 connections, from another address
            transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
            async with httpx.AsyncClient(
                base_url=server.url, timeout=60, transport=transport
            ) as http:

                async def one_connection() -> None:
                    while not stop.is_set():
                        statuses.append((await http.post("/v1/challenges")).status_code)

                await asyncio.gather(*(one_connection() for _ in range(32)))

        flooding = threading.Thread(target=asyncio.run, args=(flood(),))
        honest = Client(server.url)
        quiet = []
        for voter in NORTH[10:13]:  # before the flood
            start = time.perf_counter()
            signed, _ = election.ballot(voter, honest.challenge())
            assert honest.cast(signed).status_code == 200
            quiet.append(time.perf_counter() - start)
        early_in_a_minute()
        flooding.start()
        try:
            while len(statuses) < 500:
                time.sleep(0.05)
            loud = []
            for voter in NORTH[13:19]:
                start = time.perf_counter()
                signed, _ = election.ballot(voter, honest.challenge())
                response = honest.cast(signed)
                assert response.status_code == 200, response.text
                loud.append(time.perf_counter() - start)
        finally:
            stop.set()
            flooding.join(60)
        honest.close()
        assert statuses.count(200) <= 20 and statuses.count(429) >= len(statuses) - 20
        assert set(statuses) <= {200, 429}
        # the limit holds the flood to cheap refusals: the honest voter is served in about the
        # time it takes when all is quiet (a loose bound: this machine's speed varies)
        print(f"honest voter: quiet {statistics.median(quiet):.3f} s, flood {loud}")
        assert statistics.median(loud) < max(1.0, 10 * statistics.median(quiet))
        size = Client(server.url).json("/v1/health")["size"]
        assert size == 9
