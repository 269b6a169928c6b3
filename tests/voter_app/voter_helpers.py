"""The voter app tests' election (tests/support/election.py): two districts of one contest,
voters' e-IDs as PKCS#12 files under a PIN (one revoked by the CRL, one expired);
`ivote collector serve` (tests/support/collector_process.py) and `ivote vote` processes, and a
fake collector in front of a real one."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from support.collector_process import CollectorProcess as SharedCollectorProcess
from support.collector_process import collector_env, run_ivote
from support.election import ElectionSpec, SmallElection, make_pki
from support.election import build_election as build_shared_election

from formats.voters import Voter

COLLECTOR_PASSPHRASE = "voter-app test collector passphrase"
PIN = "12345"
# Candidates per district (one contest "council"); north has two voters casting in tests.
CANDIDATES = {
    "north": [(101, "Mari Maasikas", "Green"), (102, "Jaan Tamm", "Blue"), (103, "Kai Kask", "")],
    "south": [(201, "Kati Karu", "Green"), (202, "Peeter Puu", "")],
}
VOTERS = {
    "38001010001": ("Mari", "Maasikas", "north"),
    "38001010002": ("Jaan", "Tamm", "north"),
    "38001010003": ("Juhan", "Liiv", "north"),
    "38001010004": ("Anu", "Saar", "north"),
    "48001010005": ("Kati", "Karu", "south"),
    "38001010098": ("Rein", "Revoked", "north"),
    "38001010099": ("Eve", "Expired", "north"),
}
REVOKED = "38001010098"
EXPIRED = "38001010099"
SEAL_COST = {"IVOTE_SEAL_COST": "1024"}  # sealing receipts at the default cost takes ~0.5 s

SPEC = ElectionSpec(
    "voter-app-test",
    "Voter app test election",
    {
        district: {"council": [number for number, _, _ in rows]}
        for district, rows in CANDIDATES.items()
    },
    policy={"vote_check_window_minutes": 30, "max_checks": 2},
    contest_names={"council": "City council"},
    candidates={
        number: (name, party) for rows in CANDIDATES.values() for number, name, party in rows
    },
)

# The name the voter app's tests know the shared election's type by.
VoterElection = SmallElection


def build_election(root: Path, primes: tuple[int, int]) -> SmallElection:
    """The election open from yesterday for five days, REVOKED's e-ID revoked an hour ago,
    EXPIRED's expired, the collector's key, and every e-ID as a PKCS#12 file under PIN."""
    voters = [
        Voter(code, given, surname, district) for code, (given, surname, district) in VOTERS.items()
    ]
    pki = make_pki(voters, expired=[EXPIRED])
    start, end = pki.issued - dt.timedelta(days=1), pki.issued + dt.timedelta(days=5)
    revoked = {REVOKED: pki.issued - dt.timedelta(hours=1)}
    election = build_shared_election(root, SPEC, pki, primes, start, end, revoked)
    election.write_collector_key(COLLECTOR_PASSPHRASE)
    election.write_eid_files(PIN)
    return election


def voter_env(data_dir: Path | None = None) -> dict[str, str]:
    env = collector_env(COLLECTOR_PASSPHRASE, SEAL_COST)
    if data_dir is not None:
        env["XDG_DATA_HOME"] = str(data_dir)
    return env


class CollectorProcess(SharedCollectorProcess):
    """`ivote collector serve` of the test election, its own SQLite database at `db_path`."""

    def __init__(self, election: Path, db_path: Path, port: int | None = None) -> None:
        super().__init__(
            election, f"sqlite:///{db_path}", COLLECTOR_PASSPHRASE, port=port, env=SEAL_COST
        )


def run_vote(
    *args: str, data_dir: Path, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`ivote vote ...` as a voter runs it: a real process. The suite's elections are test
    elections (the small fixture keys): the commands that open one say so."""
    if args and args[0] in TEST_KEY_COMMANDS:
        args = (args[0], "--allow-test-key", *args[1:])
    return run_ivote("vote", *args, env=voter_env(data_dir), input=input, timeout=timeout)


# the `ivote vote` commands that refuse a test election without --allow-test-key
TEST_KEY_COMMANDS = frozenset({"cast", "check", "verify-audit", "verify-receipt", "app"})


Tamper = Callable[[str, str, int, bytes], tuple[int, bytes] | None]


class FakeCollector:
    """A tiny HTTP server on loopback in front of a real collector: forwards every request and
    lets a test rewrite answers (`tamper(method, path, status, body)` returns a new (status,
    body) or None to pass it through) or drop the connection (`drop` for a path prefix)."""

    def __init__(self, upstream: str, tamper: Tamper | None = None) -> None:
        self.upstream = upstream
        self.tamper = tamper
        self.drops: dict[str, int] = {}  # path prefix -> how many more answers to drop
        self.requests: list[tuple[str, str, bytes]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _forward(self, method: str) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.requests.append((method, self.path, body))
                response = httpx.request(
                    method,
                    fake.upstream + self.path,
                    content=body or None,
                    headers={"content-type": "application/json"} if body else {},
                    timeout=60,
                )
                for prefix, count in fake.drops.items():
                    if count and self.path.startswith(prefix):
                        fake.drops[prefix] = count - 1
                        # the collector took the request; the answer is lost on the way
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                status, content = response.status_code, response.content
                if fake.tamper is not None:
                    changed = fake.tamper(method, self.path, status, content)
                    if changed is not None:
                        status, content = changed
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeCollector:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
