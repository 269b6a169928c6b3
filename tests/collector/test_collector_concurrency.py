"""Many simultaneous casts (one voter revoting from several connections), and kill -9 of the
server while clients cast: no lost ballots, exactly one latest per voter, the log rebuilds to
its signed heads, and the service goes on after a restart (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import sqlalchemy as sa
from collector_helpers import NORTH, SOUTH, Client, CollectorElection, Server

from canonical.encoding import DOMAINS, canonical_bytes, parse_b64url
from crypto import merkle
from formats.ballot import ballot_hash
from formats.receipt import LogHead, entry_leaf_hash
from formats.signed import open_signed

REVOTER = NORTH[10]


def open_head(election: CollectorElection, document: dict[str, Any]) -> LogHead:
    payload, _, _ = open_signed(
        document, DOMAINS["log_head"], expected_cert=election.pki.collector.certificate
    )
    return LogHead.from_dict(payload)


def check_log(election: CollectorElection, client: Client, receipts: dict[bytes, dict]) -> LogHead:
    """The log rebuilds to its newest signed head; every receipt's ballot is at its index and
    every receipt's head is a prefix of the newest."""
    head = open_head(election, client.json("/v1/log/head"))
    leaves = [
        parse_b64url(x, "leaf")
        for x in client.json("/v1/log/leaves", start=0, end=head.size)["leaf_hashes"]
    ]
    assert merkle.root_hash(leaves) == head.root_hash
    for digest, receipt in receipts.items():
        assert leaves[receipt["log_index"]] == entry_leaf_hash(digest, receipt["received"])
        old = open_head(election, receipt["log_head"])
        assert merkle.root_hash(leaves[: old.size]) == old.root_hash
    return head


def prebuild(election: CollectorElection, client: Client, voters: list[str]) -> list[dict]:
    return [election.ballot(voter, client.challenge())[0] for voter in voters]


def test_simultaneous_casts_and_revotes(
    election: CollectorElection, server: Server, client: Client, db_url: str
) -> None:
    voters = NORTH[11:31] + SOUTH[2:8] + [REVOTER] * 12
    ballots = prebuild(election, client, voters)
    local = threading.local()

    def cast(signed: dict) -> tuple[dict, httpx.Response]:
        if not hasattr(local, "http"):  # one connection per thread: many connections at once
            local.http = httpx.Client(base_url=server.url, timeout=60)
        body = canonical_bytes(signed)
        return signed, local.http.post(
            "/v1/ballots", content=body, headers={"content-type": "application/json"}
        )

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(cast, ballots))
    receipts: dict[bytes, dict] = {}
    for signed, response in results:
        assert response.status_code == 200, response.text
        receipts[ballot_hash(signed)] = election.open_receipt(response.json())
    indices = sorted(r["log_index"] for r in receipts.values())
    assert indices == list(range(len(ballots)))  # no lost ballot, no duplicate index
    head = check_log(election, client, receipts)
    assert head.size == len(ballots)

    engine = sa.create_engine(db_url)
    with engine.connect() as connection:
        latest = connection.execute(
            sa.text("SELECT voter, log_index FROM latest ORDER BY voter")
        ).all()
    engine.dispose()
    by_voter = dict(latest)
    assert len(latest) == len(set(voters))  # exactly one latest per voter
    revotes = [
        receipts[ballot_hash(signed)]["log_index"]
        for signed, voter in zip(ballots, voters, strict=True)
        if voter == REVOTER
    ]
    assert by_voter[REVOTER] == max(revotes)


def test_kill_9_while_casting(
    election: CollectorElection, server: Server, client: Client, db_url: str
) -> None:
    voters = NORTH[11:35] + SOUTH[:10]
    ballots = prebuild(election, client, voters * 2)
    receipts: dict[bytes, dict] = {}
    lock = threading.Lock()
    killed = threading.Event()
    enough = threading.Event()

    def cast_all(chunk: list[dict]) -> None:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            for signed in chunk:
                try:
                    response = http.post(
                        "/v1/ballots",
                        content=canonical_bytes(signed),
                        headers={"content-type": "application/json"},
                    )
                except httpx.TransportError:
                    continue  # the server died under us: this ballot has no receipt
                if response.status_code == 200:
                    with lock:
                        receipts[ballot_hash(signed)] = election.open_receipt(response.json())
                        if len(receipts) >= 15:
                            enough.set()
                if killed.is_set():
                    return

    threads = [threading.Thread(target=cast_all, args=(ballots[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    assert enough.wait(60)
    server.kill()
    killed.set()
    for t in threads:
        t.join(30)
    got = dict(receipts)
    assert len(got) >= 15

    server.start()  # same database, new process
    after = Client(server.url)
    try:
        head = check_log(election, after, got)
        assert head.size >= len(got)
        # resending every prepared ballot: those with receipts get the same receipt back, the
        # others are taken now (or were taken before the crash and get their receipt)
        final: dict[bytes, dict] = {}
        for signed in ballots:
            response = after.cast(signed)
            assert response.status_code == 200, response.text
            receipt = election.open_receipt(response.json())
            digest = ballot_hash(signed)
            if digest in got:
                assert receipt == got[digest]
            final[digest] = receipt
        assert sorted(r["log_index"] for r in final.values()) == list(range(len(ballots)))
        check_log(election, after, final)
    finally:
        after.close()
