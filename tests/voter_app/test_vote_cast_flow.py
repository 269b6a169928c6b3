"""`ivote vote cast` as a voter meets it, real processes against a real collector of its own:
the district from the collector (only its contests shown), voters who cannot vote told before
any choice, the Cast / Audit / Quit prompt on a real terminal (a pty), --yes, no terminal,
the audit file, `vote receipts` (wrong PIN, refused, the ballot that counts) and Thai."""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.collector_process import IVOTE, run_ivote
from test_vote_cli import check_code_of, shown_hash_of
from voter_helpers import (
    PIN,
    REVOKED,
    CollectorProcess,
    FakeCollector,
    VoterElection,
    run_vote,
    voter_env,
)

from canonical.encoding import DOMAINS, canonical_bytes, parse_canonical
from crypto.eid import pkcs12_bytes
from formats.signed import sign_object
from formats.voters import Voter

STRANGER = "39999999999"


@pytest.fixture(scope="module")
def own_collector(
    election: VoterElection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CollectorProcess]:
    """A collector of this module's own: which voters have a ballot is this module's doing."""
    running = CollectorProcess(
        election.directory, tmp_path_factory.mktemp("cast-flow-db") / "ballots.sqlite"
    ).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def stranger_eid(election: VoterElection, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid e-ID of the election's CA for someone not on the voter list."""
    signer = election.pki.issue_eid(Voter(STRANGER, "Not", "Listed", "north"))
    path = tmp_path_factory.mktemp("stranger") / "stranger.p12"
    path.write_bytes(pkcs12_bytes(signer, PIN, 1000, "e-ID"))
    return path


def args_for(url: str, election: VoterElection, eid: Path, pin_file: Path, data: Path) -> list[str]:
    return [
        "cast", "--collector", url, "--eid", str(eid), "--pin-file", str(pin_file),
        "--fingerprint", election.fingerprint, "--data-dir", str(data),
    ]  # fmt: skip


def on_terminal(
    args: list[str], data: Path, answers: str, timeout: float = 120, lang: str = "en"
) -> subprocess.CompletedProcess[str]:
    """`ivote --lang LANG vote ARGS` with a real terminal (a pty) as its stdin, typing
    `answers`; its stdout and stderr captured."""
    if args[0] == "cast":
        args = ["cast", "--allow-test-key", *args[1:]]
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [IVOTE, "--lang", lang, "vote", *args],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=voter_env(data),
            text=True,
        )
        os.close(terminal)
        terminal = -1
        os.write(controller, answers.encode())
        out, err = process.communicate(timeout=timeout)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)


def assert_told_before_choosing(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    # nothing to choose was shown, nothing encrypted
    assert "Candidate" not in result.stdout and "Your choices" not in result.stdout


def test_only_the_voters_own_district_is_shown(
    own_collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    before = own_collector.log_size()
    eid = election.eid_files["48001010005"]
    result = on_terminal(
        args_for(own_collector.url, election, eid, pin_file, tmp_path), tmp_path, "Kati\nc\n"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Voter: Kati Karu (48001010005)" in out
    assert "Your district: South" in out
    # south's candidates, and none of north's
    assert "Kati Karu" in out and "Peeter Puu" in out
    assert "Mari Maasikas" not in out and "North" not in out
    assert "Your choices:\n  City council: 201 Kati Karu (Green)" in out
    # one hash: shown before the decision, named again with the receipt
    shown = shown_hash_of(out)
    assert f"encrypted ballot: {shown}" in out
    assert out.index("Cast this ballot (c)") < out.index("Your ballot was received")
    assert own_collector.log_size() == before + 1
    # the collector now knows this voter has a ballot: a revote says it replaces it
    again = run_vote(
        *args_for(own_collector.url, election, eid, pin_file, tmp_path), "--yes",
        "--choice", "202", data_dir=tmp_path,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "a new ballot replaces the earlier one" in again.stdout


def test_audit_then_a_new_ballot_then_cast(
    own_collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    before = own_collector.log_size()
    eid = election.eid_files["38001010001"]
    args = args_for(own_collector.url, election, eid, pin_file, tmp_path)
    result = on_terminal([*args, "--choice", "102"], tmp_path, "a\ny\nc\n")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    hashes = re.findall(r"encrypted ballot's hash:\n  ([0-9a-f ]{79})", out)
    assert len(hashes) == 2 and hashes[0] != hashes[1]  # the audited one, then a new one
    assert "NOT cast" in out and "encodes 102 Jaan Tamm" in out
    saved = tmp_path / "audits" / f"{hashes[0].replace(' ', '')}.json"
    assert f"Audit data written to {saved}" in out and saved.exists()
    assert f"encrypted ballot: {hashes[1]}" in out  # the receipt names the cast one
    assert own_collector.log_size() == before + 1  # the audited ballot was never sent
    verified = run_vote(
        "verify-audit", str(saved), "--collector", own_collector.url, data_dir=tmp_path
    )
    assert verified.returncode == 0, verified.stderr
    assert hashes[0] in verified.stdout and "102 Jaan Tamm" in verified.stdout
    # the audited ballot's challenge was never used: the audit holds no signature
    assert "signature" not in json.loads(saved.read_text())


def test_quit_casts_nothing(
    own_collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    before = own_collector.log_size()
    args = args_for(own_collector.url, election, election.eid_files["38001010002"], pin_file,
                    tmp_path)  # fmt: skip
    result = on_terminal([*args, "--choice", "101"], tmp_path, "x\nq\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Nothing was cast" in result.stdout
    assert own_collector.log_size() == before
    assert not list(tmp_path.glob("ballots/*.sealed"))


def test_without_a_terminal_yes_is_needed(
    own_collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    args = args_for(own_collector.url, election, election.eid_files["38001010002"], pin_file,
                    tmp_path)  # fmt: skip
    result = run_vote(*args, "--choice", "101", data_dir=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "pass --yes to cast without asking" in result.stderr
    both = run_vote(*args, "--choice", "101", "--yes", "--audit", data_dir=tmp_path)
    assert both.returncode == 1 and "not both" in both.stderr


def test_who_cannot_vote_is_told_before_choosing(
    own_collector: CollectorProcess,
    election: VoterElection,
    stranger_eid: Path,
    pin_file: Path,
    tmp_path: Path,
) -> None:
    before = own_collector.log_size()
    for eid, message in (
        (stranger_eid, "You are not on the voter list of this election"),
        (election.eid_files[REVOKED], "Your e-ID certificate is revoked"),
    ):
        args = args_for(own_collector.url, election, eid, pin_file, tmp_path)
        # on a terminal and without --choice: it would ask, but says why not first
        assert_told_before_choosing(on_terminal(args, tmp_path, "101\nc\n"), message)
    assert own_collector.log_size() == before


def test_a_closed_election_is_told_at_once(
    election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    server = CollectorProcess(election.directory, tmp_path / "closed.sqlite").start()
    try:
        closed = run_ivote(
            "collector", "close", "--election", str(election.directory), "--db", server.db_url,
            "--allow-test-key", env=voter_env(),
        )  # fmt: skip
        assert closed.returncode == 0, closed.stderr
        args = args_for(server.url, election, election.eid_files["38001010004"], pin_file,
                        tmp_path)  # fmt: skip
        result = run_vote(*args, "--yes", data_dir=tmp_path)
        assert_told_before_choosing(result, "This election is closed")
    finally:
        server.stop()


def test_not_open_by_the_collectors_word(
    own_collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    """The collector's clock says voting has not started (this computer's says it has): the
    voter is told when it opens, before choosing."""
    start = int(election.manifest.period.start.timestamp() * 1000)

    def not_yet(method: str, path: str, status: int, body: bytes) -> tuple[int, bytes] | None:
        if path != "/v1/eligibility" or status != 200:
            return None
        payload = {**parse_canonical(body)["payload"], "status": "not_open", "at": start - 1}
        signed = sign_object(election.collector, DOMAINS["eligibility"], payload)
        return 200, canonical_bytes(signed)

    with FakeCollector(own_collector.url, not_yet) as fake:
        args = args_for(fake.url, election, election.eid_files["38001010004"], pin_file, tmp_path)
        result = run_vote(*args, "--yes", data_dir=tmp_path)
    opens = election.manifest.period.start.astimezone(dt.UTC).strftime("%Y")
    assert_told_before_choosing(result, "has not started yet: it opens", opens)


def test_receipts_wrong_pin_refused_ballots_and_the_one_that_counts(
    own_collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    eid = election.eid_files["38001010004"]
    args = [*args_for(own_collector.url, election, eid, pin_file, tmp_path), "--yes"]
    first = run_vote(*args, "--choice", "101", data_dir=tmp_path)
    second = run_vote(*args, "--choice", "103", data_dir=tmp_path)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    over = {"detail": {"code": "election_over", "message": "the voting period is over"}}

    def refuse(method: str, path: str, status: int, body: bytes) -> tuple[int, bytes] | None:
        return (403, json.dumps(over).encode()) if path == "/v1/ballots" else None

    with FakeCollector(own_collector.url, refuse) as fake:
        fake_args = [*args_for(fake.url, election, eid, pin_file, tmp_path), "--yes"]
        refused = run_vote(*fake_args, "--choice", "102", data_dir=tmp_path)
    assert refused.returncode == 1 and "the voting period is over" in refused.stderr

    listed = run_vote(
        "receipts", "--data-dir", str(tmp_path), "--pin-file", str(pin_file), data_dir=tmp_path
    )
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    received = [line for line in lines if ", log index" in line]
    assert len(received) == 2, listed.stdout
    assert "COUNTS NOW" in received[1] and "COUNTS NOW" not in received[0]
    refusals = [line for line in lines if "REFUSED" in line]
    assert len(refusals) == 1 and "(election_over)" in refusals[0], listed.stdout
    assert "sent, no answer" not in listed.stdout
    # the ballot that counts is the second one: its check code is listed under its line
    code = check_code_of(second.stdout)
    assert lines[lines.index(received[1]) + 1].strip() == f"check code: {code}"

    wrong = tmp_path / "wrong-pin"
    wrong.write_text("00000\n")
    refused_pin = run_vote(
        "receipts", "--data-dir", str(tmp_path), "--pin-file", str(wrong), data_dir=tmp_path
    )
    assert refused_pin.returncode == 1 and "Traceback" not in refused_pin.stderr
    assert "wrong PIN: none of the 3 ballots" in refused_pin.stderr


def test_in_thai(
    own_collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    args = args_for(own_collector.url, election, election.eid_files["38001010003"], pin_file,
                    tmp_path)  # fmt: skip
    result = run_ivote(
        "--lang", "th", "vote", "cast", "--allow-test-key", *args[1:], "--yes", "--choice", "102",
        env=voter_env(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "เขตเลือกตั้งของท่าน: North" in result.stdout
    assert "ค่าแฮชของบัตรเลือกตั้งที่เข้ารหัส" in result.stdout
    assert "ระบบนับเฉพาะบัตรเลือกตั้งใบล่าสุดของท่าน" in result.stdout
    stranger = run_ivote(
        "--lang", "th", "vote", "receipts", "--data-dir", str(tmp_path / "empty"),
        env=voter_env(tmp_path),
    )  # fmt: skip
    assert "ไม่มีบัตรเลือกตั้งที่บันทึกไว้" in stranger.stdout


def test_an_audit_that_cannot_be_written_is_a_clear_error(
    own_collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    before = own_collector.log_size()
    args = args_for(own_collector.url, election, election.eid_files["38001010002"], pin_file,
                    tmp_path)  # fmt: skip
    (tmp_path / "a-file").write_text("not a directory")
    nowhere = tmp_path / "a-file" / "audit.json"
    result = run_vote(
        *args, "--choice", "101", "--audit", "--audit-out", str(nowhere), data_dir=tmp_path
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "cannot write the audit there" in result.stderr
    assert own_collector.log_size() == before and not nowhere.exists()


def test_the_help_speaks_the_chosen_language(tmp_path: Path) -> None:
    thai = run_ivote("--lang", "th", "vote", "cast", "--help", env=voter_env(tmp_path))
    assert thai.returncode == 0, thai.stderr
    assert "URL ของระบบรับบัตรเลือกตั้ง" in thai.stdout and "--yes" in thai.stdout
    english = run_ivote("--lang", "en", "vote", "receipts", "-h", env=voter_env(tmp_path))
    assert "which one counts now" in " ".join(english.stdout.split())
