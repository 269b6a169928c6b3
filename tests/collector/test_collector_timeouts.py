"""The collector's deadlines and connection cap (collector.transport), attacked over raw sockets
on loopback against a real `ivote collector serve`: idle connections are closed, trickled
headers and stalled bodies are answered 408 (the JSON refusal) and closed, while an honest
voter casts; a complete request is answered however long the app takes; connections over the
cap are refused; stopping does not wait for bodies still arriving.

The timeouts are short (TIMEOUT); nothing asserts how fast anything is. A server that never
closes a connection fails each test after TIMEOUT + MARGIN, generous on purpose."""

from __future__ import annotations

import selectors
import socket
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from collector_helpers import NORTH, PASSPHRASE, Client, CollectorElection
from support.collector_process import NO_RATE_LIMITS, CollectorProcess

from canonical.encoding import canonical_bytes, parse_canonical
from collector import transport
from collector.connections import ConnectionLimits

TIMEOUT = 1.5  # header, body and idle timeouts of the server under attack, in seconds
MARGIN = 8.0
TIMEOUTS = ("--header-timeout", "1.5", "--body-timeout", "1.5", "--idle-timeout", "1.5")


class LoggedServer(CollectorProcess):
    """A collector logging at info, its log read from where it began (the log file is per
    port, and a port may be reused by the session)."""

    def __init__(self, election: CollectorElection, db: Path, *options: str) -> None:
        super().__init__(
            election.directory,
            f"sqlite:///{db}",
            PASSPHRASE,
            workers=1,  # every attacker on the event loop that also serves the voter
            options=(*NO_RATE_LIMITS, *options, "--log-level", "info"),
        )
        self.log_start = self.log.stat().st_size if self.log.exists() else 0
        self.db = db

    def log_text(self, since: int = 0) -> str:
        """The log from where this server began, or from `since` (a log_mark) on."""
        with self.log.open("rb") as log:
            log.seek(self.log_start + since)
            return log.read().decode("utf-8", "replace")

    def log_mark(self) -> int:
        return self.log.stat().st_size - self.log_start

    def notes_since(self, mark: int) -> list[str]:
        """The lines logged since `mark`, but for the access log's line per request."""
        lines = self.log_text(mark).splitlines()
        return [line for line in lines if " ivote.collector.access " not in line]

    def assert_no_errors(self) -> None:
        text = self.log_text()
        assert "Traceback" not in text and " ERROR " not in text, text


@pytest.fixture(scope="module")
def server(
    election: CollectorElection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LoggedServer]:
    db = tmp_path_factory.mktemp("timeouts") / "collector.sqlite"
    running = LoggedServer(election, db, *TIMEOUTS).start()
    try:
        yield running
    finally:
        running.stop()


def stalled_post(length: int, start: bytes = b"{") -> bytes:
    """A ballot's POST whose body stops after `start`, of the `length` it announces."""
    return (
        b"POST /v1/ballots HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (length, start)
    )


@dataclass
class Peer:
    """One raw connection to the server: what it sent us, and whether it closed it."""

    sock: socket.socket
    received: bytearray = field(default_factory=bytearray)
    closed: bool = False


def connect(server: CollectorProcess) -> Peer:
    return Peer(socket.create_connection(("127.0.0.1", server.port), timeout=10))


def watch(peers: list[Peer], until: float, closed: int | None = None) -> None:
    """Read whatever the server sends each peer (one thread, select) until it has closed them
    all, or `closed` of them, or the monotonic clock reaches `until`."""
    wanted = len(peers) if closed is None else closed
    with selectors.DefaultSelector() as selector:
        for peer in peers:
            if not peer.closed:
                selector.register(peer.sock, selectors.EVENT_READ, peer)
        while sum(p.closed for p in peers) < wanted and (left := until - time.monotonic()) > 0:
            for key, _ in selector.select(left):
                peer = key.data
                try:
                    chunk = peer.sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    peer.received += chunk
                else:
                    peer.closed = True
                    selector.unregister(peer.sock)


def response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of one whole HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(":", 1) for line in lines)
    headers = {name.lower(): value.strip() for name, value in headers.items()}
    assert len(body) == int(headers["content-length"]), raw  # one response, nothing after it
    return int(status_line.split()[1]), headers, body


def refusal(raw: bytes, status: int, code: str, closing: bool = True) -> dict[str, Any]:
    """The collector's JSON refusal in `raw`, with Connection: close if `closing`."""
    answer_status, headers, body = response(raw)
    assert answer_status == status, raw
    assert headers["content-type"] == "application/json"
    assert headers.get("connection") == ("close" if closing else None)
    document = parse_canonical(body)
    assert canonical_bytes(document) == body  # canonical JSON, as all the collector's answers
    assert document["detail"]["code"] == code
    return document["detail"]


def close_all(peers: list[Peer]) -> None:
    for peer in peers:
        peer.sock.close()


def test_idle_and_stalled_connections_are_closed_while_a_voter_casts(
    election: CollectorElection, server: LoggedServer
) -> None:
    with closing(Client(server.url)) as client:
        signed = election.ballot(NORTH[0], client.challenge())[0]
    body = canonical_bytes(signed)
    stalled_request = stalled_post(1000, body[:20])
    assert len(body) > 1000  # so 1000 is within the size limit: the collector waits for it
    mark = server.log_mark()
    idle = [connect(server) for _ in range(200)]
    stalled = [connect(server) for _ in range(200)]
    try:
        for peer in stalled:
            peer.sock.sendall(stalled_request)
        watch(idle + stalled, until=time.monotonic())
        assert not any(p.closed for p in idle + stalled)  # all 400 held when the voter comes

        with closing(Client(server.url)) as voter:  # a connection of its own
            cast = voter.cast(signed)
        assert cast.status_code == 200, cast.text
        election.open_receipt(cast.json())

        watch(idle + stalled, until=time.monotonic() + TIMEOUT + MARGIN)
        assert all(p.closed for p in idle), sum(not p.closed for p in idle)
        assert all(p.closed for p in stalled), sum(not p.closed for p in stalled)
    finally:
        close_all(idle + stalled)
    assert all(p.received == b"" for p in idle)  # nothing was asked: closed without a word
    for peer in stalled:
        assert "body" in refusal(peer.received, 408, "timeout")["message"]
    # at most one line for each (the app's, which hears the body timed out), no traceback
    notes = server.notes_since(mark)
    assert len(notes) <= 200
    assert all("did not arrive within" in line for line in notes), notes[:3]
    server.assert_no_errors()


def test_headers_trickled_byte_by_byte_are_answered_408_in_time(server: LoggedServer) -> None:
    mark = server.log_mark()
    peer = connect(server)
    trickle = iter(b"POST /v1/ballots HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000)
    deadline = time.monotonic() + TIMEOUT + MARGIN
    try:
        while not peer.closed and time.monotonic() < deadline:
            try:
                peer.sock.send(bytes([next(trickle)]))  # one byte every 0.3 s, never idle
            except OSError:  # the server has closed: the answer is in what we read
                watch([peer], until=deadline)
                break
            watch([peer], until=time.monotonic() + 0.3)
    finally:
        peer.sock.close()
    assert peer.closed
    assert "headers" in refusal(peer.received, 408, "timeout")["message"]
    [line] = server.notes_since(mark)  # one line, and not an error
    assert " INFO " in line and "headers not complete" in line, line


def test_an_endless_head_is_answered_431(server: LoggedServer) -> None:
    """Headers that keep coming fast (within the header deadline) are cut at the head limit;
    a head under it, with headers of a few kilobytes, is served."""
    peer = connect(server)
    try:
        peer.sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for number in range(40):  # 40 KiB of headers, over the 16 KiB limit
            try:
                peer.sock.sendall(b"X-Pad-%d: %s\r\n" % (number, b"a" * 1024))
            except OSError:  # closed by the server: its answer is in what we read
                break
        watch([peer], until=time.monotonic() + MARGIN)
    finally:
        peer.sock.close()
    assert peer.closed
    assert "16384" in refusal(peer.received, 431, "headers_too_large")["message"]
    padded = {f"x-pad-{n}": "a" * 1024 for n in range(8)}
    assert httpx.get(f"{server.url}/v1/health", headers=padded).status_code == 200


def test_a_kept_alive_connection_is_closed_when_idle(server: LoggedServer) -> None:
    peer = connect(server)
    try:
        peer.sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        watch([peer], until=time.monotonic() + TIMEOUT + MARGIN)
    finally:
        peer.sock.close()
    assert peer.closed
    status, headers, body = response(peer.received)  # the answer, and no 408 after it
    assert status == 200, body
    assert "connection" not in headers  # kept alive: the idle timeout closed it
    assert parse_canonical(body)["closed"] is False


def test_an_early_answer_stands_and_the_connection_ends_with_the_body_timeout(
    election: CollectorElection, server: LoggedServer
) -> None:
    peer = connect(server)
    try:  # too large by its Content-Length: refused before the body, which never comes
        peer.sock.sendall(stalled_post(100_000_000))
        watch([peer], until=time.monotonic() + TIMEOUT + MARGIN)
    finally:
        peer.sock.close()
    assert peer.closed
    # kept alive by the app, ended by the body timeout, and no 408 written after the answer
    refusal(peer.received, 413, "too_large", closing=False)
    server.assert_no_errors()


def test_a_complete_request_is_answered_however_long_the_app_takes(
    election: CollectorElection, server: LoggedServer
) -> None:
    with closing(Client(server.url)) as client:
        signed = election.ballot(NORTH[1], client.challenge())[0]
    # The cast's append waits for the database's write lock, held here for longer than the
    # body timeout: the app works on a complete request past every deadline.
    lock = sqlite3.connect(server.db, isolation_level=None, timeout=60)
    try:
        lock.execute("BEGIN IMMEDIATE")
        with ThreadPoolExecutor(1) as pool, closing(Client(server.url)) as voter:
            answer = pool.submit(voter.cast, signed)
            time.sleep(2 * TIMEOUT)
            assert not answer.done()  # still waiting for the lock, past the body timeout
            lock.execute("ROLLBACK")
            cast = answer.result(timeout=60)
    finally:
        lock.close()
    assert cast.status_code == 200, cast.text
    election.open_receipt(cast.json())
    server.assert_no_errors()


def test_connections_over_the_cap_are_refused(election: CollectorElection, tmp_path: Path) -> None:
    capped = LoggedServer(
        election, tmp_path / "collector.sqlite", "--max-connections", "20", "--idle-timeout", "30"
    ).start()
    peers: list[Peer] = []
    try:
        peers = [connect(capped) for _ in range(30)]
        watch(peers, until=time.monotonic() + MARGIN, closed=10)
        watch(peers, until=time.monotonic() + 0.5)  # room for any more to close (none should)
        refused = [p for p in peers if p.closed]
        assert len(refused) == 10  # the other 20 stay open (for the idle timeout)
        for peer in refused:
            refusal(peer.received, 503, "unavailable")
        close_all(peers)
        # the connections closed, the collector takes new ones again
        deadline = time.monotonic() + MARGIN
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{capped.url}/v1/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("no connection taken after the capped ones closed")
        capped.assert_no_errors()
    finally:
        close_all(peers)
        capped.stop()


def test_stopping_answers_the_requests_still_arriving(
    election: CollectorElection, tmp_path: Path
) -> None:
    stopping = LoggedServer(election, tmp_path / "collector.sqlite").start()  # 30 s bodies
    peers: list[Peer] = []
    try:
        peers = [connect(stopping) for _ in range(20)]
        for peer in peers:
            peer.sock.sendall(stalled_post(1000))
        time.sleep(0.5)  # for the server to read them; a request it has not seen is closed too
        stopping.stop()
        watch(peers, until=time.monotonic() + MARGIN)
    finally:
        close_all(peers)
        stopping.stop()
    assert all(p.closed for p in peers)
    answered = [p for p in peers if p.received]
    assert answered  # the server did read them, and did not wait for their bodies
    for peer in answered:
        refusal(peer.received, 503, "unavailable")
    stopping.assert_no_errors()  # uvicorn did not have to cancel an app waiting for a body


class FakeLimits:
    """resource's open-files limit, as collector.transport sees it."""

    def __init__(self, soft: int, hard: int) -> None:
        self.soft, self.hard = soft, hard

    def getrlimit(self, _which: int) -> tuple[int, int]:
        return self.soft, self.hard

    def setrlimit(self, _which: int, limits: tuple[int, int]) -> None:
        self.soft, self.hard = limits


def test_the_open_files_limit_is_raised_for_the_cap_or_the_cap_lowered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wanted = ConnectionLimits(max_connections=4096)
    roomy = FakeLimits(1024, 1_048_576)
    monkeypatch.setattr(transport.resource, "getrlimit", roomy.getrlimit)
    monkeypatch.setattr(transport.resource, "setrlimit", roomy.setrlimit)
    assert transport.fit_open_files(wanted) == wanted
    assert roomy.soft == 4096 + transport.RESERVED_FILES
    assert roomy.hard == 1_048_576

    tight = FakeLimits(1024, 2048)  # accept() must not run out of descriptors before the cap
    monkeypatch.setattr(transport.resource, "getrlimit", tight.getrlimit)
    monkeypatch.setattr(transport.resource, "setrlimit", tight.setrlimit)
    fitted = transport.fit_open_files(wanted)
    assert tight.soft == 2048
    assert fitted.max_connections == 2048 - transport.RESERVED_FILES
    assert fitted.header_timeout_s == wanted.header_timeout_s
