"""Real processes for end-to-end tests: `ivote ...` commands, and `ivote collector serve` in a
subprocess on a free loopback port, waited for until it answers /v1/health."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from collector.cli import PASSPHRASE_ENV

IVOTE = str(Path(sys.executable).parent / "ivote")
# Most tests cast many ballots from one loopback address, some revote often: the rate limits
# are tested on their own (tests/collector/test_collector_limits.py).
NO_RATE_LIMITS = (
    "--challenges-per-address", "off", "--casts-per-address", "off", "--casts-per-voter", "off",
)  # fmt: skip


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def loopback_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def collector_env(passphrase: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Our environment with the collector key's passphrase (and `extra`) set."""
    return {**os.environ, **(extra or {}), PASSPHRASE_ENV: passphrase}


def run_ivote(
    *args: str, env: Mapping[str, str], input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`ivote ARGS...` as a user runs it: a real process, its output captured as text."""
    return subprocess.run(
        [IVOTE, *args], env=dict(env), capture_output=True, text=True, input=input, timeout=timeout
    )


class CollectorProcess:
    """`ivote collector serve` in a subprocess (its own session, so that it and its workers can
    be killed together) on a free loopback port, the key's `passphrase` in its environment
    (with `env` on top of ours). Without a fixed `port`, every start takes a
    new one. Its output goes to collector-PORT.log beside the election directory."""

    def __init__(
        self,
        election: Path,
        db_url: str,
        passphrase: str,
        workers: int = 1,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        options: Sequence[str] = NO_RATE_LIMITS,
    ) -> None:
        self.election = election
        self.options = tuple(options)  # more `collector serve` options
        self.db_url = db_url
        self.env = collector_env(passphrase, env)
        self.workers = workers
        self.fixed_port = port
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return loopback_url(self.port)

    @property
    def log(self) -> Path:
        return self.election.parent / f"collector-{self.port}.log"

    def start(self, wait: bool = True) -> CollectorProcess:
        if self.process is not None:  # a restart: the old port may not be free yet
            self.port = self.fixed_port or free_port()
        command = [
            IVOTE, "collector", "serve", "--election", str(self.election), "--db", self.db_url,
            "--port", str(self.port), "--workers", str(self.workers), "--log-level", "warning",
            "--allow-test-key",  # the suite's elections are on the small fixture keys
            *self.options,
        ]  # fmt: skip
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        """Until /v1/health answers 200; the log in the error if it exits or never does."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
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

    def kill(self) -> None:
        """kill -9 the server, as a crash would; returns once its workers are gone too."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        # the workers die with their parent (PR_SET_PDEATHSIG); wait for the port to free
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/v1/health", timeout=0.5)
            except httpx.TransportError:
                return
            time.sleep(0.1)
        raise RuntimeError("collector workers outlived their parent")

    def stop(self) -> None:
        """SIGTERM, as an operator stops it; SIGKILL to the whole group if it hangs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
