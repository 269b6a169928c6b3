"""`ivote vote cast|check|verify-audit|receipts` as real processes against a real collector."""

from __future__ import annotations

import json
import re
from pathlib import Path

import png
from voter_helpers import CollectorProcess, FakeCollector, VoterElection, run_vote

from voter_app.code import CheckCode
from voter_app.qr import qr_matrix


def cast_args(
    collector: CollectorProcess, election: VoterElection, voter: str, pin_file: Path, data: Path
) -> list[str]:
    return [
        "cast", "--collector", collector.url, "--eid", str(election.eid_files[voter]),
        "--pin-file", str(pin_file), "--fingerprint", election.fingerprint,
        "--data-dir", str(data), "--yes",
    ]  # fmt: skip


def check_args(url: str, election: VoterElection, code: str) -> list[str]:
    return ["check", "--collector", url, "--fingerprint", election.fingerprint, "--code", code]


def shown_hash_of(output: str) -> str:
    """The encrypted ballot's hash the app showed before the voter decided (groups of four)."""
    match = re.search(r"encrypted ballot's hash:\n  ((?:[0-9a-f]{4} ){15}[0-9a-f]{4})", output)
    assert match, output
    return match.group(1)


def check_code_of(output: str) -> str:
    match = re.search(r"--code ([A-Z2-7]+)", output)
    assert match, output
    return match.group(1)


def test_cast_then_check_on_a_second_device(
    collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    before = collector.log_size()
    qr = tmp_path / "qr.png"
    args = cast_args(collector, election, "38001010001", pin_file, data)
    result = run_vote(*args, "--choice", "Jaan Tamm", "--qr-png", str(qr), data_dir=data)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "102 Jaan Tamm (Blue)" in result.stdout
    assert "Only your latest ballot counts" in result.stdout
    assert collector.log_size() == before + 1
    code = check_code_of(result.stdout)
    # the PNG holds the same QR modules as the check code
    width, _, rows, _ = png.Reader(filename=str(qr)).read()
    pixels = [list(row) for row in rows]
    matrix = qr_matrix(code)
    scale = width // len(matrix)
    assert [
        [pixels[y * scale][x * scale] == 0 for x in range(len(matrix))] for y in range(len(matrix))
    ] == matrix
    # a sealed record under the PIN
    assert len(list((data / "ballots").glob("*.sealed"))) == 1

    second = tmp_path / "phone"
    checked = run_vote(*check_args(collector.url, election, code), data_dir=second)
    assert checked.returncode == 0, checked.stderr
    assert "Your ballot in City council: 102 Jaan Tamm (Blue)" in checked.stdout
    assert "Mari Maasikas (38001010001)" in checked.stdout
    verification = re.search(r"verification code: (\S+)", result.stdout).group(1)
    assert verification in checked.stdout
    assert "This is your latest ballot" in checked.stdout
    parsed = CheckCode.parse(code)
    # the code names the ballot the record keeps (DATA/ballots/<ballot hash>.sealed); the
    # cast shows the encrypted ballot's hash and the verification code, not this hash
    (record,) = (data / "ballots").glob("*.sealed")
    assert len(code) == 42 and parsed.matches(bytes.fromhex(record.name.split(".")[0]))
    # the fingerprint is now pinned on the second device; a third device without it (given
    # or pinned) trusts nothing and fetches no ballot
    third = tmp_path / "third"
    unpinned = run_vote("check", "--collector", collector.url, "--code", code, data_dir=third)
    assert unpinned.returncode == 1 and "fingerprint" in unpinned.stderr
    pinned = run_vote("check", "--collector", collector.url, "--code", code, data_dir=second)
    assert pinned.returncode == 0 and "102 Jaan Tamm" in pinned.stdout


def test_revote_appends_and_both_records_are_kept(
    collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    before = collector.log_size()
    args = cast_args(collector, election, "38001010003", pin_file, data)
    first = run_vote(*args, "--choice", "101", data_dir=data)
    second = run_vote(*args, "--choice", "Kai", data_dir=data)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "103 Kai Kask" in second.stdout
    assert "Only your latest ballot counts" in second.stdout
    assert collector.log_size() == before + 2
    listed = run_vote(
        "receipts", "--data-dir", str(data), "--pin-file", str(pin_file), data_dir=data
    )
    assert listed.returncode == 0, listed.stderr
    received = [line for line in listed.stdout.splitlines() if ", log index" in line]
    assert len(received) == 2, listed.stdout
    # the later ballot is the one that counts now, and only it is marked
    assert "COUNTS NOW" in received[1] and "COUNTS NOW" not in received[0]
    # the first ballot is still there, but it is not the one that counts
    first_code = check_code_of(first.stdout)
    checked = run_vote(*check_args(collector.url, election, first_code), data_dir=data)
    assert checked.returncode == 0, checked.stderr
    assert "101 Mari Maasikas" in checked.stdout
    assert "This is NOT your latest ballot" in checked.stdout


def test_audit_reveals_and_never_casts(
    collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    before = collector.log_size()
    audit_file = tmp_path / "audit.json"
    args = cast_args(collector, election, "38001010002", pin_file, data)
    args.remove("--yes")
    result = run_vote(
        *args, "--choice", "101", "--audit", "--audit-out", str(audit_file), data_dir=data
    )
    assert result.returncode == 0, result.stderr
    assert "NOT cast" in result.stdout
    assert "encodes 101 Mari Maasikas" in result.stdout
    shown_hash = shown_hash_of(result.stdout)
    assert collector.log_size() == before  # an audited ballot is never sent
    verified = run_vote(
        "verify-audit", str(audit_file), "--collector", collector.url, data_dir=tmp_path / "other"
    )
    assert verified.returncode == 0, verified.stderr
    assert shown_hash in verified.stdout
    assert "101 Mari Maasikas" in verified.stdout
    # an app that claims another choice than it encrypted is caught
    document = json.loads(audit_file.read_text())
    document["choices"]["council"] = 102
    audit_file.write_text(json.dumps(document))
    caught = run_vote(
        "verify-audit", str(audit_file), "--collector", collector.url, data_dir=tmp_path / "other"
    )
    assert caught.returncode == 1
    assert "did not encrypt honestly" in caught.stderr
    assert "Traceback" not in caught.stderr


def test_check_is_refused_politely_after_the_fetch_limit(
    collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    args = cast_args(collector, election, "38001010004", pin_file, data)
    result = run_vote(*args, "--choice", "101", data_dir=data)
    assert result.returncode == 0, result.stderr
    code = check_code_of(result.stdout)
    for _ in range(election.manifest.policy.max_checks):
        ok = run_vote(*check_args(collector.url, election, code), data_dir=data)
        assert ok.returncode == 0, ok.stderr
        assert "101 Mari Maasikas" in ok.stdout
    refused = run_vote(*check_args(collector.url, election, code), data_dir=data)
    assert refused.returncode == 1
    assert "checked as many times as the collector allows" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_check_refused_after_the_window(
    collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    args = cast_args(collector, election, "38001010002", pin_file, data)
    result = run_vote(*args, "--choice", "101", data_dir=data)
    assert result.returncode == 0, result.stderr
    code = check_code_of(result.stdout)
    over = {"detail": {"code": "check_window_over", "message": "the time to check is over"}}

    def window_over(method: str, path: str, status: int, body: bytes) -> tuple[int, bytes] | None:
        return (403, json.dumps(over).encode()) if path.startswith("/v1/ballots/") else None

    with FakeCollector(collector.url, window_over) as fake:
        refused = run_vote(*check_args(fake.url, election, code), data_dir=data)
    assert refused.returncode == 1
    assert "The time to check this vote is over" in refused.stderr


def test_mistyped_check_code_is_refused_before_fetching(tmp_path: Path) -> None:
    # port 9 (discard) answers nothing: a code that got that far would fail otherwise
    code = CheckCode(bytes(16), bytes(7)).text
    typo = code[:5] + ("B" if code[5] == "A" else "A") + code[6:]
    for wrong, words in ((typo, "typing mistake"), ("ABCDEFGHIJ" * 12, "too long")):
        result = run_vote(
            "check", "--collector", "http://127.0.0.1:9", "--fingerprint", "00" * 32,
            "--code", wrong, data_dir=tmp_path,
        )  # fmt: skip
        assert result.returncode == 1
        assert words in result.stderr and "Traceback" not in result.stderr
        assert "collector" not in result.stderr
