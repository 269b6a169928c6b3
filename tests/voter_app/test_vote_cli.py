"""`ivote vote cast|check|verify-audit|receipts` as real processes against a real collector."""

from __future__ import annotations

import re
from pathlib import Path

import png
from voter_helpers import CollectorProcess, VoterElection, run_vote

from voter_app.code import CheckCode
from voter_app.qr import qr_matrix


def cast_args(
    collector: CollectorProcess, election: VoterElection, voter: str, pin_file: Path, data: Path
) -> list[str]:
    return [
        "cast", "--collector", collector.url, "--eid", str(election.eid_files[voter]),
        "--pin-file", str(pin_file), "--fingerprint", election.fingerprint,
        "--district", "north", "--data-dir", str(data),
    ]  # fmt: skip


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
    checked = run_vote("check", "--collector", collector.url, "--code", code, data_dir=second)
    assert checked.returncode == 0, checked.stderr
    assert "Your ballot in City council: 102 Jaan Tamm (Blue)" in checked.stdout
    assert "Mari Maasikas (38001010001)" in checked.stdout
    verification = re.search(r"verification code: (\S+)", result.stdout).group(1)
    assert verification in checked.stdout
    parsed = CheckCode.parse(code)
    assert parsed.manifest_hash == election.manifest.hash
