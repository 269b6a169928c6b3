"""Choose-several contests on the tally side: the council election's record counts, per
candidate, the ballots that marked it and, last, the blank ballots; the record verifies."""

from __future__ import annotations

import json

from click.testing import CliRunner
from council_record import CouncilRecord

from ivote.cli import main

DISTRICTS = ("ward-1", "ward-2")


def test_marks_and_blanks_are_counted(council_record: CouncilRecord) -> None:
    results = council_record.record_doc()["decryption"]["results"]
    assert [(r["district"], r["contest"]) for r in results] == [
        (district, contest) for district in DISTRICTS for contest in ("mayor", "council")
    ]
    for result in results:
        assert result["counts"] == council_record.expected(result["district"], result["contest"])
    by_label = {(r["district"], r["contest"]): r["counts"] for r in results}
    # ward-1: v1's last ballot marks 12 and 13, v2 is blank, v3 marks 13 and 15
    assert by_label[("ward-1", "council")] == [0, 1, 2, 0, 1, 1]
    assert by_label[("ward-2", "council")] == [0, 0, 0, 1, 1]


def test_the_record_verifies(council_record: CouncilRecord) -> None:
    result = CliRunner().invoke(
        main, ["verify", "--allow-test-key", str(council_record.record), "--json"]
    )
    verdict = json.loads(result.stdout)
    failed = [c for c in verdict["checks"] if c["status"] == "fail"]
    assert result.exit_code == 0 and not failed, failed
    assert verdict["verified_results"] is True
    passed = {c["id"] for c in verdict["checks"] if c["status"] == "pass"}
    assert {"ballot-proofs", "totals-products", "plaintexts", "results", "results-report"} <= passed
