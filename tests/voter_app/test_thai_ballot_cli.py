"""`ivote vote cast` and `ivote vote check` on a Thai general election in small (the
`thai_election` fixture: a constituency with a "vote no" box, the national party list with
one, a national referendum; names in English and Thai), real processes against a real
collector: the ballot's tables in ballot order, choices by number, by name in either language
and "vote no" as 0, no or its label; a "vote no" where a contest has no box is refused."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from support.collector_process import run_ivote
from support.election import THAI_VOTERS
from test_vote_cast_flow import on_terminal
from test_vote_cli import check_args, check_code_of
from voter_helpers import CollectorProcess, VoterElection, voter_env

# the voters of constituency 1 and 2 (tests/support/election.py)
KHET_1 = [code for code, district in THAI_VOTERS.items() if district == "khet-1"]
KHET_2 = [code for code, district in THAI_VOTERS.items() if district == "khet-2"]


def cast_in(
    lang: str,
    collector: CollectorProcess,
    election: VoterElection,
    voter: str,
    pin_file: Path,
    data: Path,
    *choices: str,
) -> subprocess.CompletedProcess[str]:
    """`ivote --lang LANG vote cast --yes --choice ...` as a voter runs it."""
    args = [
        "--lang", lang, "vote", "cast", "--allow-test-key", "--collector", collector.url,
        "--eid", str(election.eid_files[voter]), "--pin-file", str(pin_file),
        "--fingerprint", election.fingerprint, "--data-dir", str(data), "--yes",
    ]  # fmt: skip
    for choice in choices:
        args += ["--choice", choice]
    return run_ivote(*args, env=voter_env(data))


def check_in(lang: str, collector: CollectorProcess, election: VoterElection, code: str,
             data: Path) -> subprocess.CompletedProcess[str]:  # fmt: skip
    args = check_args(collector.url, election, code)
    return run_ivote(
        "--lang", lang, "vote", args[0], "--allow-test-key", *args[1:], env=voter_env(data)
    )


def test_thai_choices_by_number_vote_no_and_check(
    thai_collector: CollectorProcess, thai_election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    """In Thai: the constituency by number, the party list's "vote no" as 0, the referendum's
    answer by number; the summary, the receipt and the second device's check name them."""
    before = thai_collector.log_size()
    data = tmp_path / "computer"
    result = cast_in(
        "th", thai_collector, thai_election, KHET_1[0], pin_file, data,
        "mp=2", "party-list=0", "referendum=2",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    summary = "\n".join(
        [
            "  Constituency MP: 2 Malee Srisuk",
            "  แบบบัญชีรายชื่อ: ไม่ประสงค์ลงคะแนน",
            "  การออกเสียงประชามติ: 2 ไม่เห็นชอบ",
        ]
    )
    assert out.count(summary) == 2, out  # the choices before casting, and with the receipt
    assert thai_collector.log_size() == before + 1
    checked = check_in("th", thai_collector, thai_election, check_code_of(out), tmp_path / "phone")
    assert checked.returncode == 0, checked.stderr
    for line in ("2 Malee Srisuk", "แบบบัญชีรายชื่อ: ไม่ประสงค์ลงคะแนน", "2 ไม่เห็นชอบ"):
        assert line in checked.stdout, checked.stdout
    # the same ballot checked in English names the same choices in English
    english = check_in("en", thai_collector, thai_election, check_code_of(out), tmp_path / "p2")
    assert english.returncode == 0, english.stderr
    assert "Your ballot in Party list: Vote no" in english.stdout, english.stdout
    assert "Your ballot in Referendum: 2 Disagree" in english.stdout


def test_thai_choices_by_name_in_thai_and_vote_no_by_its_label(
    thai_collector: CollectorProcess, thai_election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    """Names typed in Thai (a unique prefix too), "vote no" by its Thai label, in an English
    run: a name is understood in either language whatever the voter's language."""
    result = cast_in(
        "en", thai_collector, thai_election, KHET_2[0], pin_file, tmp_path,
        "mp=ไม่ประสงค์ลงคะแนน", "party-list=พรรคแม่โขง", "referendum=ไม่แสดง",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "Your choices:\n  Constituency MP: Vote no\n  Party list: 3 Mekong Party\n"
        "  Referendum: 3 No opinion\n"
    ) in result.stdout
    # by name in English and "no" for vote no, in a Thai run
    again = cast_in(
        "th", thai_collector, thai_election, KHET_2[0], pin_file, tmp_path,
        "mp=no", "party-list=future thailand party", "referendum=Agree",
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert "  แบบบัญชีรายชื่อ: 2 พรรคอนาคตไทย\n  การออกเสียงประชามติ: 1 เห็นชอบ" in again.stdout
    assert "  Constituency MP: ไม่ประสงค์ลงคะแนน" in again.stdout


def test_vote_no_where_a_contest_has_no_box_is_refused(
    thai_collector: CollectorProcess, thai_election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    before = thai_collector.log_size()
    for lang, typed, message in (
        ("en", "0", 'Referendum has no "vote no" box: choose one of its 3 choices'),
        ("en", "Vote no", 'Referendum has no "vote no" box: choose one of its 3 choices'),
        ("th", "no", 'การออกเสียงประชามติ ไม่มีช่อง "ไม่ประสงค์ลงคะแนน": กรุณาเลือกหนึ่งใน 3'),
    ):
        result = cast_in(
            lang, thai_collector, thai_election, KHET_1[1], pin_file, tmp_path,
            "mp=1", "party-list=1", f"referendum={typed}",
        )  # fmt: skip
        assert result.returncode == 1, result.stdout
        assert "Traceback" not in result.stderr
        # one line (after the test election's notice), naming the contest
        line = result.stderr.strip().splitlines()[-1]
        assert line.startswith(("Error: ", "ข้อผิดพลาด: ")) and message in line, result.stderr
    # a number that is no choice, and a contest that is not on the ballot
    bad = cast_in("en", thai_collector, thai_election, KHET_1[1], pin_file, tmp_path,
                  "mp=7", "party-list=1", "referendum=1")  # fmt: skip
    assert bad.returncode == 1 and "Constituency MP has no candidate number 7" in bad.stderr
    assert thai_collector.log_size() == before  # nothing was cast


def test_the_ballot_on_a_terminal_in_thai(
    thai_collector: CollectorProcess, thai_election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    """Without --choice: a table per contest in ballot order, the referendum's question, the
    "vote no" row last; the prompts take a bad answer, say why and ask again."""
    args = [
        "cast", "--collector", thai_collector.url, "--eid",
        str(thai_election.eid_files[KHET_2[1]]), "--pin-file", str(pin_file),
        "--fingerprint", thai_election.fingerprint, "--data-dir", str(tmp_path), "--yes",
    ]  # fmt: skip
    result = on_terminal(args, tmp_path, "1\n9\nพรรคชาวนาไทย\n0\n2\n", lang="th")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # the tables, in ballot order: the constituency, the party list, the referendum
    titles = ["Constituency MP — Khet-2", "แบบบัญชีรายชื่อ", "การออกเสียงประชามติ"]
    assert [out.index(title) for title in titles] == sorted(out.index(t) for t in titles)
    assert "คำถามประชามติ: ท่านเห็นชอบว่าสมควรมีการจัดทำรัฐธรรมนูญฉบับใหม่หรือไม่" in out
    party_table = out[out.index(titles[1]) : out.index(titles[2])]
    # "vote no" is the last row, after a rule that sets it apart from the parties
    vote_no_last = r"4 │ พรรคพลเมือง.*\n.*─.*\n.*0 │ ไม่ประสงค์ลงคะแนน \(พิมพ์ 0 หรือ no\)"
    assert re.search(vote_no_last, party_table), party_table
    referendum_table = out[out.index(titles[2]) :]
    assert "3 │ ไม่แสดงความคิดเห็น" in referendum_table
    assert "ไม่ประสงค์ลงคะแนน (พิมพ์" not in referendum_table  # no box there
    # the bad answers are refused on the terminal, naming the contest, and asked again
    assert "แบบบัญชีรายชื่อ ไม่มีผู้สมัครหมายเลข 9" in result.stderr
    assert 'การออกเสียงประชามติ ไม่มีช่อง "ไม่ประสงค์ลงคะแนน"' in result.stderr
    assert (
        "  Constituency MP: 1 Somchai Jaidee (Rice Farmers Party)\n"
        "  แบบบัญชีรายชื่อ: 1 พรรคชาวนาไทย\n  การออกเสียงประชามติ: 2 ไม่เห็นชอบ\n"
    ) in out
