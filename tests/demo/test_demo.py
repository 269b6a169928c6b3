"""`ivote demo` end to end: a small election (512-bit key from the fixture primes, 10 voters
in 2 districts, revotes, a paper voter, vote checks) through every real command, with the
collector as a real subprocess on loopback, on SQLite and on PostgreSQL; the Thai scenario in
small (three contests on every ballot, "vote no", output in Thai); and a Ctrl-C in the
middle of voting, which must leave no collector behind."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from formats import personal_codes
from formats.manifest import VOTE_NO, ElectionDirectory
from formats.record import ElectionRecord
from i18n import format_datetime
from ivote.demo.report import EXPECTED_FILE, Expected, compare
from ivote.demo.scenario import ASSEMBLY_ID, CONTEST_ID

FIXTURE_PRIMES = Path(__file__).parents[1] / "fixtures" / "safe_primes.json"
IVOTE = str(Path(sys.executable).parent / "ivote")
SMALL = [
    "--voters", "10", "--districts", "2", "--candidates", "3",
    "--revote-rate", "0.3", "--paper-rate", "0.1", "--check-rate", "0.2",
    "--trustees", "3", "--threshold", "2",
    "--key-bits", "512", "--test-primes", str(FIXTURE_PRIMES), "--scrypt-cost", "1024",
    "--voter-processes", "2",
]  # fmt: skip
COLLECTOR_URL = re.compile(r"http://127\.0\.0\.1:\d+")
# a wide terminal so rich does not wrap the lines the tests look for
ENV = {**os.environ, "COLUMNS": "200"}


def run_demo(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [IVOTE, "demo", *SMALL, "--out", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=600,
        env=ENV,
    )


def collector_gone(url: str) -> bool:
    try:
        httpx.get(f"{url}/v1/health", timeout=2)
    except httpx.TransportError:
        return True
    return False


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention `text` (the demo's out directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in command:
            found.append(command)
    return found


def test_demo_end_to_end(db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = run_demo(out, "--db", db_url)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "OK the results match" in result.stdout, output
    assert "OK `ivote verify` passes on the election record" in result.stdout, output
    url = COLLECTOR_URL.search(result.stdout)
    assert url is not None and collector_gone(url.group(0))
    assert not processes_mentioning(str(out))
    # every trustee made their parameters before the key ceremony, which proved against them
    assert "Trustees: each of 3 makes and proves their parameters" in result.stdout
    assert sorted(p.name for p in (out / "election" / "trustee-parameters").iterdir()) == [
        "trustee-1.json", "trustee-2.json", "trustee-3.json"
    ]
    proofs = json.loads((out / "election" / "key-proofs.json").read_text())
    assert [entry["trustee"] for entry in proofs["trustees"]] == [1, 2, 3]

    # An observer's own run of the verifier on the record the demo wrote.
    verify = subprocess.run(
        [IVOTE, "verify", "--allow-test-key", str(out / "record"), "--json"],
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    verdict = json.loads(verify.stdout.strip().splitlines()[-1])
    statuses = {check["id"]: check["status"] for check in verdict["checks"]}
    assert "fail" not in statuses.values(), statuses

    # The record's decrypted results are the simulated voters' choices the demo wrote down,
    # and its report shows the revotes and the paper voter.
    expected = Expected.from_dict(json.loads((out / EXPECTED_FILE).read_text()))
    record = ElectionRecord.from_dict(json.loads((out / "record" / "record.json").read_text()))
    results = {(r.district, r.contest): list(r.counts) for r in record.decryption.results}
    assert results == {
        (district, contest): counts
        for district, contests in expected.results.items()
        for contest, counts in contests.items()
    }
    report = record.tally.report["total"]
    assert report["received"] == 13  # 10 voters + 3 revotes
    assert report["superseded"] == 3
    assert report["cancelled_by_paper"] == 1
    assert report["invalid"] == 0
    assert report["counted"] == 9
    # one vote per counted ballot in each council; the first district's assembly (mark up to
    # 3, or none) counts the ballots marking each candidate, then the blank ones
    councils = [counts for (_, contest), counts in results.items() if contest == CONTEST_ID]
    assert sum(sum(counts) for counts in councils) == 9
    [first] = [district for district, contest in results if contest == ASSEMBLY_ID]
    counted = record.tally.report["districts"][first]["counted"]
    *marks, blank = results[(first, ASSEMBLY_ID)]
    assert blank <= counted and max(marks) <= counted - blank
    assert counted - blank <= sum(marks) <= 3 * (counted - blank)
    # up to 3 of the district's 3 candidates: any number of them
    assert "Mark any number of the candidates, or none" in result.stdout
    assert "Blank ballots (no candidate marked)" in result.stdout
    # t of N: exactly the threshold's number of trustees decrypted
    assert len(record.decryption.trustees) == 2
    assert len(list((out / "shares").glob("shares-*.json"))) == 2
    # the demo's auditor: the cleansing re-done from the signed box matches the record
    audit = subprocess.run(
        [
            IVOTE, "verify", "--allow-test-key", str(out / "record"), "--json",
            "--ballot-box", str(out / "ballotbox.zip"),
            "--paper-voters", str(out / "paper-voters.signed.json"),
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert audit.returncode == 0, audit.stdout + audit.stderr
    audited = json.loads(audit.stdout.strip().splitlines()[-1])
    made = {c["id"]: c["status"] for c in audited["checks"]}
    assert made.pop("manifest-anchor") == "not made"
    assert made.pop("receipts") == "not made"  # given below
    assert set(made.values()) == {"pass"}, made
    # the voters who checked their vote kept their receipts; each is in the final log
    receipts = sorted((out / "receipts").glob("*.json"))
    assert len(receipts) == 2  # 20% of 10 voters
    assert "who checked their vote find their receipt in the published record" in (result.stdout)
    checked = subprocess.run(
        [
            IVOTE,
            "verify",
            "--allow-test-key",
            str(out / "record"),
            "--json",
            "--receipts",
            str(out / "receipts"),
        ],
        capture_output=True,
        text=True,
    )
    receipts_check = next(
        c
        for c in json.loads(checked.stdout.strip().splitlines()[-1])["checks"]
        if c["id"] == "receipts"
    )
    assert receipts_check["status"] == "pass", receipts_check
    assert receipts_check["detail"] == "2 of 2 receipts are in the final log"
    paper = [
        line
        for line in (out / "paper-voters.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert len(paper) == 1

    # The demo's comparison is a real one: a record whose results differ is caught.
    tampered = tmp_path / "tampered"
    shutil.copytree(out / "record", tampered)
    document = json.loads((tampered / "record.json").read_text())
    counts = document["decryption"]["results"][0]["counts"]
    counts[0] += 1
    (tampered / "record.json").write_text(json.dumps(document))
    assert compare(expected, out / "record").matches
    problems = compare(expected, tampered).problems
    assert problems and "the voters chose" in problems[0]


THAI_SMALL = [
    "--scenario", "thailand", "--voters", "8", "--districts", "2",
    "--revote-rate", "0.25", "--paper-rate", "0.125", "--check-rate", "0.25",
    "--vote-no-rate", "0.25", "--trustees", "3", "--threshold", "2",
    "--key-bits", "512", "--test-primes", str(FIXTURE_PRIMES), "--scrypt-cost", "1024",
    "--voter-processes", "2",
]  # fmt: skip


def test_thai_demo_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = subprocess.run(
        [IVOTE, "demo", *THAI_SMALL, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**ENV, "LANG": "C.UTF-8"},  # Thai without --lang, whatever the environment says
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output

    manifest = ElectionDirectory(out / "election").read_manifest()
    assert manifest.personal_code_scheme == personal_codes.THAI_CITIZEN_ID
    with (out / "definition" / "voters.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            personal_codes.check(personal_codes.THAI_CITIZEN_ID, row["personal_code"])
    contests = {(district.id, contest.id) for district, contest in manifest.contests()}
    assert len(contests) == 2 * 3  # a constituency, the party list and the referendum each
    trustees = manifest.trustees
    made = sorted((out / "election" / "trustee-parameters").glob("trustee-*.json"))
    assert len(made) == trustees  # the trustees' parameters step ran for every trustee

    # The demo speaks Thai: its own texts, the names, the dates in the Buddhist Era.
    stdout = result.stdout
    assert "OK ผลตรงกัน" in stdout, output  # the results match
    assert "OK บันทึกผลการเลือกตั้งผ่านการตรวจสอบด้วย `ivote verify`" in stdout, output
    assert "เชียงใหม่ เขตเลือกตั้งที่ 2 — ส.ส. แบบแบ่งเขตเลือกตั้ง" in stdout
    assert "ส.ส. แบบบัญชีรายชื่อ รวม 2 เขตเลือกตั้ง" in stdout
    assert "ไม่ประสงค์ลงคะแนน" in stdout and "ไม่แสดงความคิดเห็น" in stdout
    assert format_datetime(manifest.period.start, "th") in stdout
    assert str(manifest.period.start.year + 543) in stdout
    assert "เทียบผลแล้ว 6 รายการ" in stdout  # every contest of every district compared
    assert "the results match" not in stdout and "Officials:" not in stdout

    # Every contest of every district is compared, and each equals the record's result.
    expected = Expected.from_dict(json.loads((out / EXPECTED_FILE).read_text()))
    record = ElectionRecord.from_dict(json.loads((out / "record" / "record.json").read_text()))
    results = {(r.district, r.contest): list(r.counts) for r in record.decryption.results}
    assert set(expected.result_keys()) == set(results) == contests
    for (district, contest), counts in results.items():
        assert counts == expected.results[district][contest]
        assert len(counts) == len(manifest.contest(district, contest).options)
    # 8 voters, 2 revotes, 1 paper voter: 7 counted in every contest
    assert record.tally.report["total"]["counted"] == 7
    for contest in ("mp", "party-list", "referendum"):
        assert sum(sum(results[(d.id, contest)]) for d in manifest.districts) == 7
    # the two who vote no (neither revoting nor on paper) are counted as such
    for contest in ("mp", "party-list"):
        index = manifest.contest("chiang-mai-1", contest).index_of(VOTE_NO)
        assert index == len(manifest.contest("chiang-mai-1", contest).options) - 1
        assert sum(results[(d.id, contest)][-1] for d in manifest.districts) == 2

    verify = subprocess.run(
        [IVOTE, "verify", "--allow-test-key", str(out / "record"), "--json"],
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    verdict = json.loads(verify.stdout.strip().splitlines()[-1])
    assert "fail" not in {check["status"] for check in verdict["checks"]}, verdict

    # A changed "vote no" count of the party list is caught.
    comparison = compare(expected, out / "record")
    assert comparison.matches and set(comparison.compared) == contests
    tampered = tmp_path / "tampered"
    shutil.copytree(out / "record", tampered)
    document = json.loads((tampered / "record.json").read_text())
    changed = next(
        r for r in document["decryption"]["results"] if r["contest"] == "party-list"
    )
    changed["counts"][-1] += 1
    (tampered / "record.json").write_text(json.dumps(document))
    problems = compare(expected, tampered).problems
    assert len(problems) == 1 and f"{changed['district']}/party-list" in problems[0]


def test_the_thai_demo_follows_lang(tmp_path: Path) -> None:
    """Thai unless --lang says otherwise (a used --out directory stops it at once)."""
    (tmp_path / "used").write_text("x")
    thai = subprocess.run(
        [IVOTE, "demo", "--scenario", "thailand", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**ENV, "LANG": "en_US.UTF-8"},
    )
    english = subprocess.run(
        [IVOTE, "--lang", "en", "demo", "--scenario", "thailand", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert thai.returncode == english.returncode == 1
    assert "is not empty" not in thai.stdout and "การสาธิตล้มเหลว" in thai.stdout
    assert "The demo failed:" in english.stdout and "is not empty" in english.stdout


def test_demo_refuses_a_used_out_directory(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "something").write_text("x")
    result = run_demo(tmp_path / "demo")
    assert result.returncode == 1
    assert "is not empty" in result.stdout


def test_ctrl_c_while_voting_stops_the_collector(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    process = subprocess.Popen(
        [IVOTE, "demo", *SMALL, "--voters", "40", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
        start_new_session=True,  # its own group, as a terminal's foreground job is
    )
    assert process.stdout is not None
    seen: list[str] = []
    url = None
    deadline = time.monotonic() + 300
    for line in process.stdout:
        seen.append(line)
        match = COLLECTOR_URL.search(line)
        if match:
            url = match.group(0)
        if url and "Voters:" in line:
            break
        assert time.monotonic() < deadline, "".join(seen)
    assert url is not None, "".join(seen)
    assert not collector_gone(url)
    time.sleep(0.5)  # some ballots on their way
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    rest, _ = process.communicate(timeout=60)
    output = "".join(seen) + rest
    assert process.returncode == 130, output
    assert "Interrupted" in output
    assert collector_gone(url)
    assert not processes_mentioning(str(out)), output
