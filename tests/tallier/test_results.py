"""The results for people: `ivote verify` ends with the verified results and a verdict, and
`ivote results` prints them as a table, CSV, JSON or an HTML file, only of a record that
verifies. Every number is checked against what the session's voters chose last
(tally_helpers.build_finished), which the record's counts must equal."""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import re
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from tally_helpers import Finished

from canonical.encoding import canonical_bytes
from ivote.cli import main

CSV_COLUMNS = [
    "election_id", "district", "district_name", "contest", "contest_name", "option",
    "option_name", "party", "votes", "share_percent", "counted_ballots",
]  # fmt: skip


def invoke(*args: str, columns: int = 80) -> Any:
    return CliRunner().invoke(main, list(args), env={"COLUMNS": str(columns)})


def expected_rows(finished: Finished) -> list[dict[str, Any]]:
    """One row per candidate, computed here from the record's manifest and the voters' final
    choices (never from the code under test)."""
    record = finished.record_doc()
    manifest = record["manifest"]["payload"]
    counted = {d: c["counted"] for d, c in record["report"]["districts"].items()}
    rows = []
    for district in manifest["districts"]:
        for contest in district["contests"]:
            counts = finished.expected[(district["id"], contest["id"])]
            assert sum(counts) == counted[district["id"]]
            for candidate, votes in zip(contest["candidates"], counts, strict=True):
                share = (Decimal(votes * 100) / counted[district["id"]]).quantize(
                    Decimal("0.01"), ROUND_HALF_UP
                )
                rows.append(
                    {
                        "district": district["id"],
                        "district_name": district["name"],
                        "contest": contest["id"],
                        "contest_name": contest["name"],
                        "number": candidate["number"],
                        "name": candidate["name"],
                        "party": candidate["party"],
                        "votes": votes,
                        "share": share,
                        "counted": counted[district["id"]],
                    }
                )
    return rows


def test_the_records_counts_are_the_voters_choices(finished: Finished) -> None:
    recorded = {
        (r["district"], r["contest"]): r["counts"]
        for r in finished.record_doc()["decryption"]["results"]
    }
    assert recorded == finished.expected


def test_verify_ends_with_the_results_the_fingerprints_and_a_verdict(finished: Finished) -> None:
    result = invoke("verify", "--allow-test-key", str(finished.record), "--workers", "1")
    assert result.exit_code == 0, result.output
    out = result.stdout
    # at 80 columns nothing is cut: every hash is there in full, nothing ellipsized
    assert "…" not in out and "..." not in out.split("Fingerprints")[1]
    joined = "".join(out.split())
    record = finished.record_doc()
    fingerprint = hashlib.sha256(canonical_bytes(record["manifest"]["payload"])).hexdigest()
    assert fingerprint in joined
    record_hash = hashlib.sha256((finished.record / "record.json").read_bytes()[:-1]).hexdigest()
    assert record_hash in joined
    assert max(len(line) for line in out.splitlines()) <= 80
    for row in expected_rows(finished):
        cells = [str(row["number"]), row["name"], row["party"], str(row["votes"]),
                 f"{row['share']} %"]  # fmt: skip
        pattern = r"│\s*" + r"\s*│\s*".join(re.escape(cell) for cell in cells) + r"\s*│"
        assert re.search(pattern, out), row
    last = out.strip().splitlines()[-2:]
    assert " ".join(last).startswith("Verified: the results are the decryption of the counted")
    # national-results passes too: the election has no national contests, nor the record totals
    assert "18 of 18 checks passed" in " ".join(last)


def test_verify_json_includes_the_results(finished: Finished) -> None:
    result = invoke("verify", "--allow-test-key", str(finished.record), "--json")
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    assert verdict["verified_results"] is True
    assert verdict["verdict"].startswith("Verified:")
    payload = finished.record_doc()["manifest"]["payload"]
    assert verdict["fingerprints"]["manifest"] == hashlib.sha256(
        canonical_bytes(payload)
    ).hexdigest()
    assert set(verdict["fingerprints"]) == {
        "manifest", "organiser_certificate", "log_root", "tally", "observers_bundle", "record",
    }  # fmt: skip
    check_results_json(verdict["results"], finished)


def check_results_json(results: dict[str, Any], finished: Finished) -> None:
    payload = finished.record_doc()["manifest"]["payload"]
    assert results["election_id"] == payload["election_id"]
    assert results["name"] == payload["name"]
    assert results["period"] == payload["period"]
    found = [
        {
            "district": c["district"],
            "district_name": c["district_name"],
            "contest": c["contest"],
            "contest_name": c["contest_name"],
            "number": o["number"],
            "name": o["name"],
            "party": o["party"],
            "votes": o["votes"],
            "share": Decimal(str(o["share"])),
            "counted": c["counted_ballots"],
        }
        for c in results["contests"]
        for o in c["options"]
    ]
    assert found == expected_rows(finished)
    for contest in results["contests"]:
        assert contest["votes"] == sum(o["votes"] for o in contest["options"])


def test_results_json_is_verify_jsons_results(finished: Finished) -> None:
    result = invoke("results", "--allow-test-key", str(finished.record), "--format", "json")
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)
    check_results_json(results, finished)
    verified = json.loads(invoke("verify", "--allow-test-key", str(finished.record), "--json")
                          .stdout)  # fmt: skip
    assert results == verified["results"]


def test_results_csv(finished: Finished, tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    result = invoke(
        "results", "--allow-test-key", str(finished.record), "--format", "csv", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    data = out.read_bytes()
    assert data.endswith(b"\r\n")
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    assert reader.fieldnames == CSV_COLUMNS
    rows = list(reader)
    election_id = finished.record_doc()["manifest"]["payload"]["election_id"]
    assert [
        {
            "district": r["district"],
            "district_name": r["district_name"],
            "contest": r["contest"],
            "contest_name": r["contest_name"],
            "number": int(r["option"]),
            "name": r["option_name"],
            "party": r["party"],
            "votes": int(r["votes"]),
            "share": Decimal(r["share_percent"]),
            "counted": int(r["counted_ballots"]),
        }
        for r in rows
    ] == expected_rows(finished)
    assert {r["election_id"] for r in rows} == {election_id}
    # to the standard output, the same bytes
    printed = invoke("results", "--allow-test-key", str(finished.record), "--format", "csv")
    assert printed.stdout_bytes == data


def test_results_table_in_thai_with_buddhist_era_dates(finished: Finished) -> None:
    result = invoke(
        "--lang", "th", "results", "--allow-test-key", str(finished.record), columns=100
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    start = finished.record_doc()["manifest"]["payload"]["period"]["start"]
    assert str(int(start[:4]) + 543) in out
    assert re.search(r"[\u0E00-\u0E7F]{4}", out)  # Thai script
    assert "ยืนยันแล้ว" in out  # the verdict: verified
    for row in expected_rows(finished):
        assert re.search(rf"│\s*{row['number']}\s*│\s*{row['name']}\s*│", out)


def test_results_refuses_a_record_that_does_not_verify(
    finished: Finished, tmp_path: Path
) -> None:
    record = tmp_path / "record"
    shutil.copytree(finished.record, record)
    document = copy.deepcopy(finished.record_doc())
    counts = document["decryption"]["results"][0]["counts"]
    counts[0], counts[1] = counts[1], counts[0] + 1  # a different result, still adding up
    (record / "record.json").write_text(json.dumps(document))
    for output_format in ("table", "csv", "json", "html"):
        out = tmp_path / f"results.{output_format}"
        result = invoke(
            "results", "--allow-test-key", str(record), "--format", output_format,
            "--out", str(out),
        )  # fmt: skip
        assert result.exit_code == 1, result.output
        assert "check results (results decode from the plaintexts) failed" in result.output
        assert "Not verified" in result.output
        assert not out.exists()
    result = invoke("results", "--allow-test-key", str(record))
    assert result.exit_code == 1 and "Candidate" not in result.output
    # verify says so too, and shows no results as verified
    result = invoke("verify", "--allow-test-key", str(record), columns=120)
    assert result.exit_code == 1
    assert "Candidate" not in result.stdout
    assert "Not verified: 1 check failed (results); no results are shown" in result.stdout
    verdict = json.loads(invoke("verify", "--allow-test-key", str(record), "--json").stdout)
    assert verdict["results"] is None and verdict["verified_results"] is False


def test_results_of_a_tally_not_decrypted_yet(finished: Finished) -> None:
    result = invoke("results", "--allow-test-key", str(finished.tally))
    assert result.exit_code == 1
    assert "not decrypted yet" in result.output
    result = invoke("verify", "--allow-test-key", str(finished.tally), columns=120)
    assert result.exit_code == 0, result.output
    assert "not decrypted yet, so it has no results" in result.stdout


def test_out_in_a_missing_folder_is_a_clear_error(finished: Finished, tmp_path: Path) -> None:
    out = tmp_path / "missing" / "results.csv"
    result = invoke(
        "results", "--allow-test-key", str(finished.record), "--format", "csv", "--out", str(out)
    )
    assert result.exit_code == 2 or result.exit_code == 1
    assert f"the folder {out.parent} does not exist" in result.output
    assert "Traceback" not in result.output and not out.parent.exists()


def test_a_demo_folder_uses_its_record(finished: Finished, tmp_path: Path) -> None:
    demo = tmp_path / "demo-out" / "20261130-010203"
    demo.mkdir(parents=True)
    shutil.copytree(finished.record, demo / "record")
    shutil.copytree(finished.tally, demo / "tally")
    for command in ("verify", "results"):
        result = invoke(command, "--allow-test-key", str(demo), columns=120)
        assert result.exit_code == 0, result.output
        assert f"using the record inside it: {demo / 'record'}" in result.output
        assert "Verified:" in result.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke("verify", "--allow-test-key", str(empty))
    assert result.exit_code == 1
    assert "holds no record.json or tally.json" in result.output
    assert "record/" in result.output


def test_json_stays_english_and_the_table_can_be_written(
    finished: Finished, tmp_path: Path
) -> None:
    result = invoke("--lang", "th", "verify", "--allow-test-key", str(finished.record), "--json")
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    assert verdict["verdict"].startswith("Verified:")
    assert all(re.fullmatch(r"[ -~]*", c["detail"]) for c in verdict["checks"])  # no Thai
    out = tmp_path / "results.txt"
    result = invoke(
        "--lang", "th", "results", "--allow-test-key", str(finished.record), "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "ผู้สมัคร" in text and "\x1b[" not in text  # Thai, and no terminal colours
    assert invoke("results", "-h").exit_code == 0
