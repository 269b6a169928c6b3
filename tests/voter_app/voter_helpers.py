"""Helpers of the voter app's tests: a small real election made with the ceremonies' public
code (test PKI, election init, key ceremony on the 512-bit fixture primes), voters' e-IDs as
PKCS#12 files under a PIN (one revoked by a CRL, one expired), and `ivote collector serve`
subprocesses."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.serialization import Encoding

from ceremonies.election import init_election
from ceremonies.keygen import run_keygen
from ceremonies.pki import (
    Revocation,
    make_crl,
    make_eid,
    make_intermediate_ca,
    make_official,
    make_root_ca,
)
from crypto.eid import KeySigner, pkcs12_bytes
from formats.manifest import Manifest
from formats.voters import Voter

IVOTE = str(Path(sys.executable).parent / "ivote")
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


def definition_toml(election_id: str, start: dt.datetime, end: dt.datetime) -> str:
    lines = [
        "[election]",
        f'id = "{election_id}"',
        'name = "Voter app test election"',
        f"start = {start.isoformat(timespec='seconds')}",
        f"end = {end.isoformat(timespec='seconds')}",
        "max_voters = 1000",
        "key_bits = 512",
        "trustees = 2",
        "threshold = 1",
        "",
        "[trust]",
        'eid_ca_certificates = ["root.pem", "issuing.pem"]',
        'collector_certificates = ["collector.pem"]',
        "",
        "[policy]",
        "vote_check_window_minutes = 30",
        "max_checks = 2",
        "",
    ]
    for district, candidates in CANDIDATES.items():
        lines += ["[[districts]]", f'id = "{district}"', f'name = "{district.title()}"', ""]
        lines += ["[[districts.contests]]", 'id = "council"', 'name = "City council"']
        for number, name, party in candidates:
            lines += ["[[districts.contests.candidates]]", f"number = {number}", f'name = "{name}"']
            if party:
                lines.append(f'party = "{party}"')
        lines.append("")
    return "\n".join(lines)


@dataclass
class VoterElection:
    directory: Path
    manifest: Manifest
    organiser: KeySigner
    collector: KeySigner
    eid_files: dict[str, Path]

    @property
    def fingerprint(self) -> str:
        return self.manifest.fingerprint


def build_election(root: Path, primes: tuple[int, int], election_id: str) -> VoterElection:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    before = now - dt.timedelta(days=10)
    ca = make_root_ca(now=before)
    issuing = make_intermediate_ca(ca, now=before)
    organiser = make_official(ca, "organiser", now=before)
    collector = make_official(ca, "collector", now=before)
    root.mkdir(parents=True, exist_ok=True)
    for name, signer in (("root", ca), ("issuing", issuing), ("collector", collector)):
        (root / f"{name}.pem").write_bytes(signer.certificate.public_bytes(Encoding.PEM))
    start, end = now - dt.timedelta(days=1), now + dt.timedelta(days=5)
    (root / "election.toml").write_text(definition_toml(election_id, start, end))
    rows = ["personal_code,given_name,surname,district"]
    rows += [f"{code},{g},{s},{d}" for code, (g, s, d) in VOTERS.items()]
    (root / "voters.csv").write_text("\n".join(rows) + "\n")
    directory = root / "election"
    init_election(root / "election.toml", root / "voters.csv", directory, now=before)
    manifest = run_keygen(
        directory,
        ["trustee one passphrase", "trustee two passphrase"],
        organiser,
        test_primes=primes,
        scrypt_cost=1024,
    )
    (directory / "collector.p12").write_bytes(
        pkcs12_bytes(collector, COLLECTOR_PASSPHRASE, 1000, "collector")
    )
    eids: dict[str, KeySigner] = {}
    for code, (given, surname, district) in VOTERS.items():
        voter = Voter(code, given, surname, district)
        if code == EXPIRED:
            eids[code] = make_eid(
                issuing,
                voter,
                not_before=now - dt.timedelta(days=30),
                not_after=now - dt.timedelta(days=1),
            )
        else:
            eids[code] = make_eid(issuing, voter, not_before=now - dt.timedelta(days=5))
    crl = make_crl(
        issuing,
        [Revocation(eids[REVOKED].certificate.serial_number, now - dt.timedelta(hours=1))],
        number=1,
        this_update=now - dt.timedelta(days=1),
        next_update=now + dt.timedelta(days=30),
    )
    (directory / "crls").mkdir()
    (directory / "crls" / "issuing.crl").write_bytes(crl.public_bytes(Encoding.PEM))
    eid_dir = root / "eids"
    eid_dir.mkdir()
    files = {}
    for code, signer in eids.items():
        files[code] = eid_dir / f"{code}.p12"
        files[code].write_bytes(pkcs12_bytes(signer, PIN, 1000, "e-ID"))
    return VoterElection(directory, manifest, organiser, collector, files)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def voter_env(data_dir: Path | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "IVOTE_COLLECTOR_PASSPHRASE": COLLECTOR_PASSPHRASE,
        "IVOTE_SEAL_COST": "1024",  # sealing receipts at the default cost takes ~0.5 s
    }
    if data_dir is not None:
        env["XDG_DATA_HOME"] = str(data_dir)
    return env


class CollectorProcess:
    """`ivote collector serve` in a subprocess on a free loopback port, its own database."""

    def __init__(self, election: Path, db_path: Path, port: int | None = None) -> None:
        self.election = election
        self.db_url = f"sqlite:///{db_path}"
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = db_path.with_suffix(".log")

    def start(self, wait: bool = True) -> CollectorProcess:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    IVOTE,
                    "collector",
                    "serve",
                    "--election",
                    str(self.election),
                    "--db",
                    self.db_url,
                    "--port",
                    str(self.port),
                    "--workers",
                    "1",
                    "--log-level",
                    "warning",
                ],
                env=voter_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"collector exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"collector did not start: {self.log.read_text()}")

    def log_size(self) -> int:
        return httpx.get(f"{self.url}/v1/health", timeout=5).json()["size"]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def run_vote(
    *args: str, data_dir: Path, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`ivote vote ...` as a voter runs it: a real process."""
    return subprocess.run(
        [IVOTE, "vote", *args],
        env=voter_env(data_dir),
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
    )


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
