"""`ivote vote cast` and `ivote vote check` on a choose-several contest (the council election:
per ward a mayor, 1 of 3, and a council where a voter marks up to 3 candidates or none), real
processes against a real collector: the table's rule, marks by number and name with
--choice, a blank ballot, the prompt on a real terminal (how many more may be marked, each
refusal one line and asked again), the summary, the receipt, the audit and the second
device's check naming the marks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_thai_ballot_cli import cast_in, check_in
from test_vote_cast_flow import on_terminal
from test_vote_cli import check_code_of
from voter_helpers import CollectorProcess, VoterElection


def test_marks_by_number_and_name_cast_and_checked(
    council_collector: CollectorProcess,
    council_election: VoterElection,
    pin_file: Path,
    tmp_path: Path,
) -> None:
    before = council_collector.log_size()
    result = cast_in(
        "en", council_collector, council_election, "v1", pin_file, tmp_path / "computer",
        "mayor=2", "council=13, candidate 11,", "council=  ",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    summary = "  Mayor: 2 Candidate 2\n  Municipal council: 11 Candidate 11, 13 Candidate 13\n"
    assert out.count(summary) == 2, out  # before casting, and with the receipt
    assert council_collector.log_size() == before + 1
    # the marks of one contest in several --choice options are taken together
    again = cast_in(
        "en", council_collector, council_election, "v1", pin_file, tmp_path / "computer",
        "mayor=1", "council=12", "council=Candidate 15",
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert "  Municipal council: 12 Candidate 12, 15 Candidate 15\n" in again.stdout
    checked = check_in("en", council_collector, council_election, check_code_of(out), tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Your ballot in Municipal council: 11 Candidate 11, 13 Candidate 13" in checked.stdout
    # the same ballot checked in Thai
    thai = check_in("th", council_collector, council_election, check_code_of(out), tmp_path / "t")
    assert thai.returncode == 0, thai.stdout + thai.stderr
    assert "Municipal council: 11 Candidate 11, 13 Candidate 13" in thai.stdout


def cast_args(
    collector: CollectorProcess, election: VoterElection, voter: str, pin_file: Path, data: Path
) -> list[str]:
    return [
        "cast", "--collector", collector.url, "--eid", str(election.eid_files[voter]),
        "--pin-file", str(pin_file), "--fingerprint", election.fingerprint,
        "--data-dir", str(data),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("lang", "blank", "shown"),
    [
        ("en", "council=", "Municipal council: blank (no candidate marked)"),
        ("en", "council=none", "Municipal council: blank (no candidate marked)"),
        ("th", "council=ไม่ทำเครื่องหมาย", "Municipal council: บัตรที่ไม่ทำเครื่องหมาย"),
    ],
)
def test_a_blank_council_ballot(
    council_collector: CollectorProcess,
    council_election: VoterElection,
    pin_file: Path,
    tmp_path: Path,
    lang: str,
    blank: str,
    shown: str,
) -> None:
    """No mark in the council (it takes up to 3, or none): the summary, the receipt and the
    check say blank."""
    result = cast_in(lang, council_collector, council_election, "v4", pin_file, tmp_path,
                     "mayor=1", blank)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(shown) == 2, result.stdout
    checked = check_in(lang, council_collector, council_election, check_code_of(result.stdout),
                       tmp_path / "phone")  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert shown in checked.stdout


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("11,12,13,14", "Municipal council: 4 marked, too many: mark at most 3."),
        ("11, 12, 11", "Municipal council: 11 Candidate 11 is given twice: mark each candidate "
                       "once."),
        ("11,19", "Municipal council has no candidate number 19"),
        ("11,nobody", "Municipal council has no candidate 'nobody'"),
        ("0", 'Municipal council has no "vote no" box'),
        ("21", "Municipal council has no candidate number 21"),  # ward-2's, not v2's ward
    ],
)
def test_a_marking_that_does_not_fit_is_refused_in_one_line(
    council_collector: CollectorProcess,
    council_election: VoterElection,
    pin_file: Path,
    tmp_path: Path,
    typed: str,
    message: str,
) -> None:
    before = council_collector.log_size()
    result = cast_in("en", council_collector, council_election, "v2", pin_file, tmp_path,
                     "mayor=1", f"council={typed}")  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Your choices" not in result.stdout  # nothing encrypted, nothing sent
    assert council_collector.log_size() == before


def test_the_too_many_refusal_in_thai(
    council_collector: CollectorProcess,
    council_election: VoterElection,
    pin_file: Path,
    tmp_path: Path,
) -> None:
    result = cast_in("th", council_collector, council_election, "v2", pin_file, tmp_path,
                     "mayor=1", "council=11,12,13,14")  # fmt: skip
    assert result.returncode == 1
    assert "Municipal council: ทำเครื่องหมาย 4 คน มากเกินไป: ทำเครื่องหมายได้ไม่เกิน 3 คน" in (
        result.stderr
    )


def test_the_prompt_says_how_many_more_and_asks_again_after_each_mistake(
    council_collector: CollectorProcess,
    council_election: VoterElection,
    pin_file: Path,
    tmp_path: Path,
) -> None:
    """On a real terminal: the table says the rule; each answer adds marks and the prompt says
    how many more may be marked; a mark too many, a candidate marked already, an unknown one
    and "none" (clears the marks) are each one line; Enter ends; then audit and a new ballot."""
    answers = [
        "1",  # the mayor
        "12, 14",  # two marks: 1 more may be marked
        "11, 13",  # too many: refused, the two marks kept
        "14",  # marked already
        "99",  # unknown
        "none",  # clears the marks
        "15,Candidate 11",  # by number and by name
        "",  # Enter: done
        "a",  # audit
        "n",  # no new ballot now
    ]
    args = cast_args(council_collector, council_election, "v3", pin_file, tmp_path)
    result = on_terminal(args, tmp_path, "\n".join(answers) + "\n")
    assert result.returncode == 0, result.stdout + result.stderr
    out, err = result.stdout, result.stderr
    assert "│     15 │ Candidate 15 │\n└────────┴──────────────┘\nMark up to 3 candidates, or " \
           "none\n" in out  # under the council's table
    prompt = "Municipal council: numbers or names, commas between them ({left} more may be " \
             "marked; Enter when done)"
    assert [out.count(prompt.format(left=n)) for n in (3, 1)] == [2, 5], out
    assert "Municipal council, marked: 12 Candidate 12, 14 Candidate 14" in out
    assert "Municipal council: no candidate marked." in out
    assert "Municipal council, marked: 11 Candidate 11, 15 Candidate 15" in out
    assert [line for line in err.splitlines() if "TEST election" not in line] == [
        "Municipal council: 4 marked, too many: mark at most 3.",
        "Municipal council: 14 Candidate 14 is marked already.",
        "Municipal council has no candidate number 99",
    ], err
    assert "Your choices:\n  Mayor: 1 Candidate 1\n  Municipal council: 11 Candidate 11, " \
           "15 Candidate 15\n" in out
    assert "  Municipal council: encodes 11 Candidate 11, 15 Candidate 15" in out
    # the audit file lists the marks; verify-audit finds them in the ciphertexts
    saved = next((tmp_path / "audits").glob("*.json"))
    assert json.loads(saved.read_text())["choices"]["council"] == [11, 15]
    verified = on_terminal(
        ["verify-audit", str(saved), "--collector", council_collector.url, "--allow-test-key"],
        tmp_path, "",
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "Municipal council: 11 Candidate 11, 15 Candidate 15" in verified.stdout
