"""A national choose-several contest (on every district's ballot: mark up to 2 of 3, or none)
through the real commands: its national totals add up the districts' marks and blank ballots,
`national-results` checks them, and the results show them; a changed national blank count is
named by `national-results`."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.election import ElectionSpec, build_election, list_voters, make_pki, utc_now
from tally_election import TallyElection, write_box
from tally_helpers import tally_and_combine

from ivote.cli import main
from verifier.record import verify_record

NATIONAL = """\
[[national_contests]]
id = "senate"
name = "Senate"
choose = { at_most = 2 }
candidates = [
  { number = 1, name = "Senator One" },
  { number = 2, name = "Senator Two" },
  { number = 3, name = "Senator Three" },
]
"""
SPEC = ElectionSpec(
    "senate-2099",
    "National choose-several (test)",
    {"d1": {"mayor": [1, 2]}, "d2": {"mayor": [1, 2]}},
    national_toml=NATIONAL,
    national_choices={"senate": frozenset({1})},  # type: ignore[dict-item]
)
VOTERS = {"a1": "d1", "a2": "d1", "a3": "d1", "b1": "d2", "b2": "d2"}
SENATE: dict[str, frozenset[int]] = {
    "a1": frozenset({1, 2}),
    "a2": frozenset(),
    "a3": frozenset({3}),
    "b1": frozenset({1}),
    "b2": frozenset(),
}


@pytest.fixture(scope="module")
def national(tmp_path_factory: pytest.TempPathFactory, safe_primes: dict) -> Path:
    root = tmp_path_factory.mktemp("senate")
    now = utc_now()
    codes: dict[str, list[str]] = {"d1": [], "d2": []}
    for voter, district in VOTERS.items():
        codes[district].append(voter)
    pki = make_pki(list_voters(codes), now)
    start = now - dt.timedelta(days=1)
    small = build_election(root, SPEC, pki, safe_primes[512], start, start + dt.timedelta(days=6))
    election = TallyElection(**vars(small))
    for minutes, (voter, marked) in enumerate(SENATE.items(), 10):
        election.cast(voter, {"mayor": 1, "senate": marked}, minutes)  # type: ignore[dict-item]
    box = write_box(election, root / "ballotbox.zip")
    paper = election.write_paper_voters([], root / "paper-voters.signed.json")
    _tally, _shares, record, _output = tally_and_combine(election, root, box, paper, (1,))
    return record


def expected_counts(district: str | None) -> list[int]:
    chosen = [m for v, m in SENATE.items() if district is None or VOTERS[v] == district]
    return [*(sum(n in m for m in chosen) for n in (1, 2, 3)), sum(not m for m in chosen)]


def test_national_totals_add_up_marks_and_blank_ballots(national: Path) -> None:
    record = json.loads((national / "record.json").read_text())
    by_label = {(r["district"], r["contest"]): r["counts"] for r in record["decryption"]["results"]}
    assert by_label[("d1", "senate")] == expected_counts("d1") == [1, 1, 1, 1]
    assert by_label[("d2", "senate")] == expected_counts("d2") == [1, 0, 0, 1]
    [total] = record["decryption"]["national_results"]
    assert total["contest"] == "senate"
    assert total["counts"] == expected_counts(None) == [2, 1, 1, 2]
    assert total["counted_ballots"] == 5

    result = CliRunner().invoke(main, ["verify", "--allow-test-key", str(national), "--json"])
    verdict = json.loads(result.stdout)
    assert result.exit_code == 0, [c for c in verdict["checks"] if c["status"] != "pass"]
    statuses = {c["id"]: c["status"] for c in verdict["checks"]}
    assert statuses["national-results"] == statuses["results-report"] == "pass"
    [senate] = verdict["results"]["national"]
    assert senate["choose"] == {"min": 0, "max": 2}
    assert senate["blank_ballots"] == {"ballots": 2, "share": 40.0}
    assert [o["votes"] for o in senate["options"]] == [2, 1, 1]


def test_the_csv_has_the_national_blank_row(national: Path) -> None:
    import csv
    import io

    result = CliRunner().invoke(
        main, ["results", "--allow-test-key", str(national), "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    rows = [
        r for r in csv.DictReader(io.StringIO(result.stdout, newline=""))
        if r["contest"] == "senate" and r["district"] == ""
    ]  # fmt: skip
    assert [(r["option"], r["option_name"], r["votes"]) for r in rows] == [
        ("1", "Senator One", "2"), ("2", "Senator Two", "1"), ("3", "Senator Three", "1"),
        ("", "Blank ballots", "2"),
    ]  # fmt: skip
    assert {r["district_name"] for r in rows} == {"National total"}


@pytest.mark.parametrize("position", [0, 3])  # a candidate's marks, and the blank ballots
def test_a_changed_national_count_is_named(national: Path, position: int) -> None:
    record: dict[str, Any] = json.loads((national / "record.json").read_text())
    bundle = json.loads((national / "observers-bundle.json").read_text())
    changed = copy.deepcopy(record)
    changed["decryption"]["national_results"][0]["counts"][position] += 1
    verdict = verify_record(changed, bundle, workers=1, allow_test_key=True)
    check = verdict.check("national-results")
    assert check.status == "fail", check
    option = "1 (Senator One)" if position == 0 else "- (blank ballots)"
    summed = expected_counts(None)[position]
    assert (
        f"national total of senate, option {option}: {summed + 1}, the districts' results add "
        f"up to {summed}"
    ) in check.problems, check.problems
