"""`ivote demo`, step by step: every real part of an election, each as the process it is in real
life, on this machine.

Officials' ceremonies, the tally, each trustee and the verifier run as `ivote ...`
subprocesses (their own progress bars on stderr, their other output in OUT/logs/); the
collector is `ivote collector serve` on a loopback port; the voters run the voter app's library
in a pool of processes and talk to the collector over HTTP. The demo only orchestrates: every
format and check is the roles' own.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from canonical.files import write_canonical_json
from crypto.paillier import PRODUCTION_KEY_BITS
from i18n import _, current_language, format_datetime, ngettext
from ivote.demo.scenario import (
    ESTONIA,
    Choices,
    Plan,
    SimVoter,
    definition_toml,
    make_plan,
    voters_csv,
)
from ivote.demo.voters import (
    CastJob,
    CastOutcome,
    CheckOutcome,
    cast,
    check_job,
    die_with_parent,
    init_worker,
)

IVOTE = (sys.executable, "-m", "ivote")
COLLECTOR_START_TIMEOUT_S = 90


class DemoFailed(Exception):
    """A step failed or a result did not check; the message says which and where to look."""


@dataclass(frozen=True)
class Options:
    voters: int = 300
    districts: int = 3
    candidates: int | None = None  # per district; None: the scenario's own number
    revote_rate: float = 0.1
    paper_rate: float = 0.02
    check_rate: float = 0.05
    vote_no_rate: float = 0.05  # share of voters who vote no wherever the ballot has the box
    scenario: str = ESTONIA
    trustees: int = 5
    threshold: int = 3
    key_bits: int = 3072
    db: str | None = None
    out: Path | None = None
    test_primes: Path | None = None
    voter_processes: int = 0  # 0: two per core
    scrypt_cost: int | None = None  # tests: cheaper sealing of the trustees' shares

    @property
    def test_election(self) -> bool:
        """A key from the public test primes or under 3072 bits: every role is told so
        (--allow-test-key), and the demo says it."""
        return self.test_primes is not None or self.key_bits < PRODUCTION_KEY_BITS

    @property
    def test_flag(self) -> list[str]:
        return ["--allow-test-key"] if self.test_election else []


@dataclass(frozen=True)
class Layout:
    """Where each party's files go under OUT (a real election spreads them over machines)."""

    root: Path

    @property
    def secrets(self) -> Path:  # the passphrases typed at the ceremonies, kept for the demo
        return self.root / "secrets"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def officials(self) -> Path:
        return self.root / "officials"

    @property
    def eids(self) -> Path:
        return self.root / "eids"

    @property
    def definition(self) -> Path:
        return self.root / "definition"

    @property
    def election(self) -> Path:
        return self.root / "election"

    @property
    def paper_voters(self) -> Path:
        return self.root / "paper-voters.txt"

    @property
    def receipts(self) -> Path:  # the receipts of the voters who checked their vote
        return self.root / "receipts"

    @property
    def signed_paper_voters(self) -> Path:
        return self.root / "paper-voters.signed.json"

    @property
    def ballot_box(self) -> Path:
        return self.root / "ballotbox.zip"

    @property
    def tally(self) -> Path:
        return self.root / "tally"

    @property
    def shares(self) -> Path:
        return self.root / "shares"

    @property
    def record(self) -> Path:
        return self.root / "record"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def passphrase(self, name: str) -> Path:
        return self.secrets / f"{name}.pass"


def default_out() -> Path:
    return Path("demo-out") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_secret(path: Path, secret: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")


class Collector:
    """`ivote collector serve` as a subprocess on a free loopback port. It dies with the demo:
    stop() in a finally, and PR_SET_PDEATHSIG in case the demo is killed outright."""

    def __init__(self, arguments: list[str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.arguments = [*arguments, "--port", str(self.port), "--log-level", "warning"]
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*IVOTE, "collector", "serve", *self.arguments],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: Ctrl-C is the demo's to handle
                preexec_fn=die_with_parent,  # the demo has started no threads yet
            )
        deadline = time.monotonic() + COLLECTOR_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-3:]
                raise DemoFailed(
                    _("the collector exited at start (log: {log}):").format(log=self.log)
                    + "\n"
                    + "\n".join(tail)
                )
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise DemoFailed(
            _("the collector did not answer within {seconds} s").format(
                seconds=COLLECTOR_START_TIMEOUT_S
            )
        )

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        except ProcessLookupError:
            pass


@dataclass
class Demo:
    options: Options
    console: Console
    layout: Layout = field(init=False)
    plan: Plan = field(init=False)
    timings: list[tuple[str, float]] = field(default_factory=list)
    step_number: int = 0
    collector: Collector | None = None

    def __post_init__(self) -> None:
        self.layout = Layout((self.options.out or default_out()).resolve())

    # ---------------------------------------------------------------- running commands

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.step_number += 1
        self.console.print(f"\n[bold cyan]{self.step_number:2d}. {title}[/]")
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        self.timings.append((title, seconds))
        self.console.print(
            "    " + _("[green]done[/] in {seconds:.1f} s").format(seconds=seconds)
        )

    def ivote(
        self, log_name: str, *arguments: str | Path, live: bool = False, show: bool = False
    ) -> str:
        """Run `ivote ARGUMENTS` to completion. Its stdout goes to OUT/logs/LOG_NAME.log (and
        to the screen with show); with live its stderr (progress bars, errors) is this
        terminal's, otherwise it joins the log. Fails the demo on a non-zero exit."""
        log = self.layout.logs / f"{log_name}.log"
        command = [*IVOTE, *map(str, arguments)]
        with log.open("ab") as out:
            out.write(("$ ivote " + " ".join(command[3:]) + "\n").encode())
            out.flush()
            result = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=None if live else subprocess.STDOUT,
                check=False,
                env={**os.environ, "LANGUAGE": current_language()},  # each command speaks ours
            )
            out.write(result.stdout)
        text = result.stdout.decode("utf-8", errors="replace")
        if show:
            self.console.out(text.rstrip("\n"), highlight=False)
        if result.returncode != 0:
            tail = "\n".join(text.splitlines()[-15:])
            raise DemoFailed(
                _("`ivote {command}` exited with status {status}; full output in {log}").format(
                    command=" ".join(command[3:5]), status=result.returncode, log=log
                )
                + (f"\n{tail}" if tail and not show else "")
            )
        return text

    def progress(self, with_bar: bool = True) -> Progress:
        columns: list[Any] = [SpinnerColumn(), TextColumn("    {task.description}")]
        if with_bar:
            columns += [BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
        columns.append(TimeElapsedColumn())
        return Progress(*columns, console=self.console, transient=False)

    # ---------------------------------------------------------------- the election

    def run(self) -> bool:
        """The whole election; True when the results match and the record verifies."""
        options = self.options
        self.prepare_out()
        self.plan = make_plan(
            options.voters,
            options.districts,
            options.candidates,
            options.revote_rate,
            options.paper_rate,
            options.check_rate,
            dt.datetime.now(),
            options.scenario,
            options.vote_no_rate,
        )
        self.console.print(
            f"[bold]ivote demo[/]: {escape(str(self.plan.name))}\n"
            + _(
                "{voters} voters in {districts} districts, {bits}-bit key, {threshold} of "
                "{trustees} trustees; {database} collector database."
            ).format(
                voters=options.voters,
                districts=options.districts,
                bits=options.key_bits,
                threshold=options.threshold,
                trustees=options.trustees,
                database="PostgreSQL"
                if options.db and options.db.startswith("postgres")
                else "SQLite",
            )
            + "\n"
            + _("On each ballot: {contests}.").format(contests=self._ballot_summary())
            + "\n"
            + _("Everything is written to {path}").format(path=self.layout.root)
        )
        if options.test_election:
            self.console.print(

                    _(
                        "[bold yellow]A TEST election[/]: its key is from the public test "
                        "primes; every command is told so with --allow-test-key."
                    )
                    if options.test_primes
                    else _(
                        "[bold yellow]A TEST election[/]: its key is under 3072 bits; every "
                        "command is told so with --allow-test-key."
                    )

            )
        self.pki_ceremony()
        self.election_ceremony()
        fingerprint = self.key_ceremony()
        self.collector = self.start_collector()
        try:
            self.voting(self.collector.url, fingerprint)
            self.close_collector()
        finally:
            self.collector.stop()
        self.export()
        self.sign_paper_voters()
        self.tally()
        trustees = self.decryption_ceremony(fingerprint)
        self.combine(trustees)
        verified = self.verify(fingerprint) and self.audit(fingerprint)
        verified = self.check_receipts(fingerprint) and verified
        return self.report(verified, fingerprint)

    def _ballot_summary(self) -> str:
        """Each contest of a ballot with its number of options (a range when districts
        differ), "vote no" included."""
        sizes: dict[str, list[int]] = {}
        names: dict[str, str] = {}
        for _district, contest in self.plan.contests():
            sizes.setdefault(contest.id, []).append(len(contest.contest.options))
            names[contest.id] = str(contest.name)
        parts = []
        for contest_id, counts in sizes.items():
            low, high = min(counts), max(counts)
            parts.append(
                ngettext("{name}: {count} option", "{name}: {count} options", high).format(
                    name=names[contest_id], count=str(low) if low == high else f"{low}-{high}"
                )
            )
        return "; ".join(parts)

    def prepare_out(self) -> None:
        root = self.layout.root
        if root.exists() and any(root.iterdir()):
            raise DemoFailed(
                _("{path} is not empty; give a new --out directory").format(path=root)
            )
        root.mkdir(parents=True, exist_ok=True)
        self.layout.logs.mkdir()
        self.layout.secrets.mkdir(mode=0o700)
        self.layout.definition.mkdir()
        self.layout.shares.mkdir()
        names = ["ca", "organiser", "collector"]
        names += [f"trustee-{i}" for i in range(1, self.options.trustees + 1)]
        for name in names:
            _write_secret(self.layout.passphrase(name), secrets.token_urlsafe(18))

    def pki_ceremony(self) -> None:
        layout = self.layout
        with self.step(_("Officials: test CA, organiser's and collector's signing keys")):
            self.ivote(
                "01-pki-init", "ceremony", "pki", "init", "--out", layout.pki,
                "--passphrase-file", layout.passphrase("ca"),
            )  # fmt: skip
            self.ivote(
                "02-pki-officials", "ceremony", "pki", "officials", "--ca", layout.pki,
                "--out", layout.officials, "--passphrase-file", layout.passphrase("ca"),
                "--organiser-passphrase-file", layout.passphrase("organiser"),
                "--collector-passphrase-file", layout.passphrase("collector"),
            )  # fmt: skip
        (layout.definition / "voters.csv").write_text(voters_csv(self.plan), encoding="utf-8")
        with self.step(
            _("Officials: e-IDs for {count} voters (PIN envelopes)").format(
                count=len(self.plan.voters)
            )
        ):
            self.ivote(
                "03-pki-issue", "ceremony", "pki", "issue", "--ca", layout.pki,
                "--voters", layout.definition / "voters.csv", "--out", layout.eids,
                "--passphrase-file", layout.passphrase("ca"), live=True,
            )  # fmt: skip

    def election_ceremony(self) -> None:
        from ceremonies.pki import ISSUING_CERT, ROOT_CERT

        layout, options = self.layout, self.options
        # in the country's time zone: the manifest's period carries its offset
        now = dt.datetime.now(self.plan.timezone).replace(microsecond=0)
        start = now - dt.timedelta(minutes=1)  # open at once (init warns: that is fine)
        end = now + dt.timedelta(days=1)  # the officials close the collector before that
        toml = definition_toml(
            self.plan,
            start=start,
            end=end,
            key_bits=options.key_bits,
            trustees=options.trustees,
            threshold=options.threshold,
            trust={
                "eid": [f"../pki/{ROOT_CERT}", f"../pki/{ISSUING_CERT}"],
                "collector": ["../officials/collector.pem"],
            },
        )
        (layout.definition / "election.toml").write_text(toml, encoding="utf-8")
        with self.step(
            _("Officials: election definition and voter list -> draft manifest; CRL")
        ):
            self.ivote(
                "04-init", "ceremony", "init", "--definition", layout.definition / "election.toml",
                "--voters", layout.definition / "voters.csv", "--out", layout.election,
            )  # fmt: skip
            (layout.election / "crls").mkdir()
            self.ivote(
                "05-crl", "ceremony", "pki", "crl", "--ca", layout.pki,
                "--out", layout.election / "crls" / "id-card-ca.crl",
                "--passphrase-file", layout.passphrase("ca"),
            )  # fmt: skip
            self.console.print(
                "    "
                + _("voting period: {start} to {end}").format(
                    start=format_datetime(start), end=format_datetime(end)
                )
            )

    def trustee_parameters(self) -> None:
        """Each trustee's step before the key ceremony (on their own machine in a real
        election): ring-Pedersen parameters and their proof, for the key proofs."""
        layout, options = self.layout, self.options
        with self.step(
            _(
                "Trustees: each of {trustees} makes and proves their parameters for the key "
                "proofs (on their own machine) and writes down its fingerprint"
            ).format(trustees=options.trustees)
        ):
            for index in range(1, options.trustees + 1):
                self.ivote(
                    "06-trustee-params", "ceremony", "trustee-params",
                    "--election", layout.election, "--trustee", str(index),
                )  # fmt: skip

    def key_ceremony(self) -> str:
        """The threshold key; returns the manifest fingerprint the officials publish."""
        from formats.manifest import ElectionDirectory

        self.trustee_parameters()
        layout, options = self.layout, self.options
        title = (
            _(
                "Key ceremony: {bits}-bit threshold key from fixed TEST primes, its proofs of "
                "being well formed, {trustees} sealed shares, signed manifest"
            )
            if options.test_primes
            else _(
                "Key ceremony: {bits}-bit threshold key from a fresh search for safe primes, "
                "its proofs of being well formed, {trustees} sealed shares, signed manifest"
            )
        ).format(bits=options.key_bits, trustees=options.trustees)
        arguments: list[str | Path] = [
            "ceremony", "keygen", "--election", layout.election,
            "--organiser-key", layout.officials,
            "--organiser-passphrase-file", layout.passphrase("organiser"),
        ]  # fmt: skip
        for index in range(1, options.trustees + 1):
            arguments += ["--passphrase-file", layout.passphrase(f"trustee-{index}")]
        if options.test_primes:
            arguments += ["--test-primes", options.test_primes]
        if options.scrypt_cost:
            arguments += ["--scrypt-cost", str(options.scrypt_cost)]
        with self.step(title):
            self.ivote("06-keygen", *arguments, live=True)
        manifest = ElectionDirectory(layout.election).read_manifest()
        self.console.print(
            "    "
            + _("manifest fingerprint: {fingerprint}").format(
                fingerprint=f"[bold]{manifest.fingerprint_groups}[/]"
            )
        )
        return manifest.fingerprint

    def _collector_arguments(self) -> list[str]:
        arguments = [
            "--election", str(self.layout.election),
            "--key", str(self.layout.officials / "collector.key"),
            "--passphrase-file", str(self.layout.passphrase("collector")),
        ]  # fmt: skip
        if self.options.db:
            arguments += ["--db", self.options.db]
        return arguments + self.options.test_flag

    def start_collector(self) -> Collector:
        from collector.db import default_url

        database = self.options.db or default_url(self.layout.election)
        # Every voter of the demo casts from this machine's one address: the per-address
        # limits, meant for a national election's many addresses, are lifted.
        per_address_off = ["--challenges-per-address", "off", "--casts-per-address", "off"]
        collector = Collector(
            [*self._collector_arguments(), *per_address_off], self.layout.logs / "collector.log"
        )
        with self.step(_("Collector: `ivote collector serve` on loopback")):
            try:
                collector.start()
            except BaseException:
                collector.stop()
                raise
            self.console.print(
                "    "
                + _("{url} (database {database})").format(
                    url=collector.url, database=_hide_password(database)
                )
            )
        return collector

    # ---------------------------------------------------------------- voting

    def voting(self, url: str, fingerprint: str) -> None:
        from ceremonies.pki import read_pin_file

        plan = self.plan
        pins = read_pin_file(self.layout.eids / "pins.csv")
        # Twice the cores: while one voter waits for the collector, another one encrypts.
        processes = self.options.voter_processes or 2 * (os.cpu_count() or 1)

        def job(voter: SimVoter, before: Choices | None = None) -> CastJob:
            return CastJob(
                voter.personal_code,
                voter.district,
                plan.choose(voter, before),
                str(self.layout.eids / f"{voter.personal_code}.p12"),
                pins[voter.personal_code],
            )

        first = [job(voter) for voter in plan.voters]
        # a revoter changes their mind: in each contest another choice than the first time
        revotes = [
            job(voter, cast.choices)
            for voter, cast in zip(plan.voters, first, strict=True)
            if voter.personal_code in plan.revoters
        ]
        last_cast: dict[str, CastOutcome] = {}
        context = multiprocessing.get_context("spawn")
        pool = context.Pool(
            processes, init_worker, (url, fingerprint, self.options.test_election)
        )
        try:
            with self.step(
                _(
                    "Voters: {count} cast through the voter app over HTTP ({processes} processes)"
                ).format(count=len(first), processes=processes)
            ):
                self._cast_all(pool, first, _("casting"), last_cast)
            with self.step(
                ngettext(
                    "Voters: {count} voter changes their mind and votes again",
                    "Voters: {count} voters change their minds and vote again",
                    len(revotes),
                ).format(count=len(revotes))
            ):
                self._cast_all(pool, revotes, _("revoting"), last_cast)
            checkers = sorted(plan.checkers)
            with self.step(
                ngettext(
                    "Voters: {count} voter checks their vote from a second device",
                    "Voters: {count} voters check their vote from a second device",
                    len(checkers),
                ).format(count=len(checkers))
            ):
                self._check_all(pool, [(c, last_cast[c].check_code) for c in checkers])
            # they keep their receipts, to check them against the published record
            for code in checkers:
                receipt = last_cast[code].receipt
                assert receipt is not None
                write_canonical_json(self.layout.receipts / f"{code}.json", receipt)
            pool.close()
        finally:
            pool.terminate()
            pool.join()
        paper = sorted(plan.paper_voters)
        self.layout.paper_voters.write_text(
            "# Voted on paper at a polling station: their i-votes are cancelled.\n"
            + "".join(f"{code}\n" for code in paper),
            encoding="utf-8",
        )
        self.console.print(
            "    "
            + ngettext(
                "{count} voter also voted on paper: {path}",
                "{count} voters also voted on paper: {path}",
                len(paper),
            ).format(count=len(paper), path=self.layout.paper_voters)
        )

    def _cast_all(
        self, pool: Any, jobs: list[CastJob], label: str, last_cast: dict[str, CastOutcome]
    ) -> None:
        errors: list[str] = []
        with self.progress() as progress:
            task = progress.add_task(label, total=len(jobs))
            for outcome in pool.imap_unordered(cast, jobs):
                progress.advance(task)
                if outcome.error:
                    errors.append(f"{outcome.job.personal_code}: {outcome.error}")
                    continue
                self.plan.casts.setdefault(outcome.job.personal_code, []).append(
                    outcome.job.choices
                )
                last_cast[outcome.job.personal_code] = outcome
        if errors:
            raise DemoFailed(
                _("{errors} of {count} ballots were not accepted:").format(
                    errors=len(errors), count=len(jobs)
                )
                + "\n  "
                + "\n  ".join(errors[:10])
            )

    def _check_all(self, pool: Any, jobs: list[tuple[str, str]]) -> None:
        problems: list[str] = []
        with self.progress() as progress:
            task = progress.add_task(_("checking"), total=len(jobs))
            outcome: CheckOutcome
            for outcome in pool.imap_unordered(check_job, jobs):
                progress.advance(task)
                expected = self.plan.casts[outcome.personal_code][-1]
                if outcome.error:
                    problems.append(f"{outcome.personal_code}: {outcome.error}")
                elif outcome.found != expected or outcome.signer != outcome.personal_code:
                    problems.append(
                        _(
                            "{voter}: the stored ballot holds {found} signed by {signer}, the "
                            "voter chose {expected}"
                        ).format(
                            voter=outcome.personal_code,
                            found=outcome.found,
                            signer=outcome.signer,
                            expected=expected,
                        )
                    )
        if problems:
            raise DemoFailed(_("vote checks failed:") + "\n  " + "\n  ".join(problems))
        self.console.print(
            "    "
            + ngettext(
                "{count} check: each shows the voter's own last choice and e-ID",
                "{count} checks: each shows the voter's own last choice and e-ID",
                len(jobs),
            ).format(count=len(jobs))
        )

    # ---------------------------------------------------------------- close, tally, decrypt

    def close_collector(self) -> None:
        with self.step(_("Officials: close the collector (final signed log head)")):
            output = self.ivote(
                "07-collector-close", "collector", "close", *self._collector_arguments()
            )
            # the summary's indented lines: ballots, voters and the final log head
            for line in output.splitlines():
                if line.startswith("  ") and "ivote " not in line:
                    self.console.print(f"  {line}", highlight=False)

    def export(self) -> None:
        with self.step(_("Officials: export the signed ballot box (to the air-gapped tallier)")):
            output = self.ivote(
                "08-collector-export", "collector", "export", *self._collector_arguments(),
                "--out", self.layout.ballot_box,
            )  # fmt: skip
            # without the command's last line, the next step it names (the demo's next step)
            self.console.print("    " + "\n    ".join(output.strip().splitlines()[:-1]))

    def sign_paper_voters(self) -> None:
        layout = self.layout
        with self.step(_("Officials: sign the list of voters who voted on paper")):
            output = self.ivote(
                "08-paper-voters", "ceremony", "paper-voters", "--election", layout.election,
                "--list", layout.paper_voters, "--organiser-key", layout.officials,
                "--organiser-passphrase-file", layout.passphrase("organiser"),
                "--out", layout.signed_paper_voters,
            )  # fmt: skip
            # without the command's last line, the next step it names (the demo's next step)
            self.console.print("    " + "\n    ".join(output.strip().splitlines()[:-1]))

    def tally(self) -> None:
        layout = self.layout
        with self.step(_("Tallier: check every ballot, cancel paper voters, shuffle, add up")):
            self.ivote(
                "09-tally-process", "tally", "process", "--election", layout.election,
                "--ballot-box", layout.ballot_box, "--paper-voters", layout.signed_paper_voters,
                "--out", layout.tally, live=True,
            )  # fmt: skip

    def decryption_ceremony(self, fingerprint: str) -> list[int]:
        options, layout = self.options, self.layout
        present = sorted(
            secrets.SystemRandom().sample(range(1, options.trustees + 1), options.threshold)
        )
        title = _(
            "Decryption ceremony: trustees {present} of {trustees} come; the tally is checked "
            "once against the signed ballot box and paper list, then each decrypts with a proof"
        ).format(present=", ".join(map(str, present)), trustees=options.trustees)
        session: list[str | Path] = []
        for index in present:
            session += [
                "--share", layout.election / "trustees" / f"trustee-{index}.share",
                "--passphrase-file", layout.passphrase(f"trustee-{index}"),
            ]  # fmt: skip
        with self.step(title):
            self.ivote(
                "10-decrypt-session", "ceremony", "decrypt", "--tally", layout.tally,
                "--ballot-box", layout.ballot_box, "--paper-voters", layout.signed_paper_voters,
                "--fingerprint", fingerprint, "--out-dir", layout.shares, *session,
                *self.options.test_flag, live=True,
            )  # fmt: skip
        return present

    def combine(self, trustees: Iterable[int]) -> None:
        arguments: list[str | Path] = ["tally", "combine", "--tally", self.layout.tally]
        for index in trustees:
            arguments += ["--shares", self.layout.shares / f"shares-{index}.json"]
        arguments += ["--out", self.layout.record]
        with self.step(
            _("Tallier: check the shares, combine, decode, write the election record")
        ):
            self.ivote("11-tally-combine", *arguments)

    def verify(self, fingerprint: str) -> bool:
        with self.step(_("Observer: `ivote verify` on the published record")):
            try:
                self.ivote(
                    "12-verify", "verify", self.layout.record, "--fingerprint", fingerprint,
                    *self.options.test_flag,
                    "--organiser-cert", self.layout.officials / "organiser.pem",
                    live=True, show=True,
                )  # fmt: skip
            except DemoFailed as exc:
                self.console.print(f"    [bold red]{exc}[/]")
                return False
        return True

    def audit(self, fingerprint: str) -> bool:
        layout = self.layout
        with self.step(_("Auditor: re-do the cleansing from the signed ballot box, compare")):
            try:
                self.ivote(
                    "13-audit", "verify", layout.record, "--fingerprint", fingerprint,
                    *self.options.test_flag,
                    "--ballot-box", layout.ballot_box,
                    "--paper-voters", layout.signed_paper_voters, live=True, show=True,
                )  # fmt: skip
            except DemoFailed as exc:
                self.console.print(f"    [bold red]{exc}[/]")
                return False
        return True

    def check_receipts(self, fingerprint: str) -> bool:
        layout = self.layout
        receipts = sorted(layout.receipts.glob("*.json"))
        if not receipts:  # nobody checked their vote (--check-rate 0)
            return True
        with self.step(
            ngettext(
                "Voters: {count} voter who checked their vote finds their receipt in the "
                "published record",
                "Voters: {count} voters who checked their vote find their receipt in the "
                "published record",
                len(receipts),
            ).format(count=len(receipts))
        ):
            arguments: list[str | Path] = [
                "vote", "verify-receipt", "--record", layout.record, "--fingerprint", fingerprint,
                *self.options.test_flag,
            ]  # fmt: skip
            for receipt in receipts:
                arguments += ["--receipt", receipt]
            try:
                self.ivote("14-verify-receipts", *arguments)
                self.ivote(
                    "14-verify-receipts", "verify", layout.record, "--fingerprint", fingerprint,
                    "--receipts", layout.receipts, *self.options.test_flag,
                )  # fmt: skip
            except DemoFailed as exc:
                self.console.print(f"    [bold red]{exc}[/]")
                return False
        return True

    # ---------------------------------------------------------------- the outcome

    def report(self, verified: bool, fingerprint: str) -> bool:
        from canonical.encoding import FormatError
        from canonical.files import write_atomic
        from ivote.demo.report import EXPECTED_FILE, compare, expected_from, print_outcome

        expected = expected_from(self.plan)
        write_atomic(
            self.layout.root / EXPECTED_FILE,
            (json.dumps(expected.to_dict(), indent=2, sort_keys=True) + "\n").encode(),
        )
        try:
            comparison = compare(expected, self.layout.record, self.plan)
        except (FormatError, OSError) as exc:
            raise DemoFailed(
                _("the election record cannot be read: {problem}").format(problem=exc)
            ) from exc
        print_outcome(
            self.console,
            self.plan,
            expected,
            comparison,
            verified,
            self.layout,
            self.timings,
            fingerprint,
            "".join(f" {flag}" for flag in self.options.test_flag),
        )
        return verified and comparison.matches


def _hide_password(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is the collector's to refuse
        return url


def run_demo(options: Options, console: Console, on_start: Callable[[Path], None]) -> bool:
    demo = Demo(options, console)
    on_start(demo.layout.root)
    return demo.run()
