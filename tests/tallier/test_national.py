"""National contests, "vote no" and referendums on the tally side: the record's national
totals (decryption.national_results) and the verifier's national-results check, and the
results people read (table, CSV, JSON, HTML) in English and Thai. The record is the Thai test
election's (thai_record.py); every expected number is counted here from the voters' last
choices, never taken from the code under test."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import shutil
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from support.browser import assert_accessible
from tally_helpers import Finished
from thai_record import NATIONAL, OPTIONS, ThaiRecord

from canonical.encoding import FormatError
from formats.manifest import VOTE_NO
from formats.record import (
    ContestResult,
    Counts,
    ElectionRecord,
    NationalResult,
    TallyReport,
    national_totals,
)
from ivote.cli import main
from verifier.record import national_problems, verify_record

Doc = dict[str, Any]
DISTRICTS = ("khet-1", "khet-2")
PARTIES_TH = ["พรรคชาวนาไทย", "พรรคอนาคตไทย", "พรรคแม่โขง", "พรรคพลเมือง"]
PARTIES_EN = ["Rice Farmers Party", "Future Thailand Party", "Mekong Party", "Citizens' Party"]
QUESTION_EN = "Do you agree that a new constitution should be drafted?"
QUESTION_TH = "ท่านเห็นชอบว่าสมควรมีการจัดทำรัฐธรรมนูญฉบับใหม่หรือไม่"


def invoke(*args: str, columns: int = 120) -> Any:
    return CliRunner().invoke(main, list(args), env={"COLUMNS": str(columns)})


def share(votes: int, counted: int) -> Decimal:
    return (Decimal(votes * 100) / counted).quantize(Decimal("0.01"), ROUND_HALF_UP)


# ------------------------------------------------------------------------------ the record


def test_vote_no_and_the_referendum_are_tallied(thai_record: ThaiRecord) -> None:
    results = thai_record.record_doc()["decryption"]["results"]
    assert [(r["district"], r["contest"]) for r in results] == [
        (district, contest) for district in DISTRICTS for contest in ("mp", *NATIONAL)
    ]
    for result in results:
        assert result["counts"] == thai_record.expected(result["district"], result["contest"])
    by_label = {(r["district"], r["contest"]): r["counts"] for r in results}
    # "vote no" is counted, last: khet-1's revoter and khet-2's first voter chose it for MP
    assert by_label[("khet-1", "mp")][-1] == 1 and by_label[("khet-2", "mp")][-1] == 1
    assert by_label[("khet-2", "party-list")][-1] == 1
    # the referendum: three answers, no "vote no" box
    assert by_label[("khet-1", "referendum")] == [1, 1, 0]
    assert by_label[("khet-2", "referendum")] == [1, 0, 1]


def test_national_totals_are_the_sums_and_verify(thai_record: ThaiRecord) -> None:
    document = thai_record.record_doc()
    counted = sum(document["report"]["districts"][d]["counted"] for d in DISTRICTS)
    assert counted == len(thai_record.final) == 4
    assert document["decryption"]["national_results"] == [
        {
            "contest": contest,
            "counts": [
                sum(thai_record.expected(d, contest)[i] for d in DISTRICTS)
                for i in range(len(OPTIONS[contest]))
            ],
            "counted_ballots": counted,
        }
        for contest in NATIONAL
    ]
    assert document["decryption"]["national_results"][0]["counts"] == [0, 2, 0, 1, 1]
    result = invoke("verify", "--allow-test-key", str(thai_record.record), "--json")
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    check = next(c for c in verdict["checks"] if c["id"] == "national-results")
    assert check["status"] == "pass"
    assert check["detail"] == "2 national contests, summed over 2 districts"
    assert verdict["verified_results"] is True


def test_an_election_without_national_contests_has_no_national_totals(
    finished: Finished,
) -> None:
    document = finished.record_doc()
    assert "national_results" not in document["decryption"]
    verdict = verify_record(document, finished.bundle_doc(), workers=1, allow_test_key=True)
    check = verdict.check("national-results")
    assert check.status == "pass" and check.detail == "the election has no national contests"


@given(
    st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True),
    st.lists(st.integers(0, 10**9), max_size=8),
    st.integers(0, 10**9),
)
def test_national_totals_round_trip(contest: str, counts: list[int], counted: int) -> None:
    from canonical.encoding import canonical_bytes, parse_canonical

    total = NationalResult(contest, tuple(counts), counted)
    data = canonical_bytes(total.to_dict())
    assert NationalResult.from_dict(parse_canonical(data), "n") == total


def test_the_record_round_trips_with_and_without_national_totals(
    thai_record: ThaiRecord, finished: Finished
) -> None:
    from canonical.encoding import canonical_bytes

    for document in (thai_record.record_doc(), finished.record_doc()):
        parsed = ElectionRecord.from_dict(document)
        assert canonical_bytes(parsed.to_dict()) == canonical_bytes(document)
    assert ElectionRecord.from_dict(finished.record_doc()).decryption.national_results is None


def test_malformed_national_totals_are_named_by_field(thai_record: ThaiRecord) -> None:
    for change, where in (
        (lambda n: n[0]["counts"].__setitem__(1, -2), "national_results[0].counts[1]"),
        (lambda n: n[1].__setitem__("extra", 1), "national_results[1].extra"),
        (lambda n: n[0].pop("counted_ballots"), "national_results[0].counted_ballots"),
        (lambda n: n[1].__setitem__("counted_ballots", True), "national_results[1]"),
    ):
        document = thai_record.record_doc()
        change(document["decryption"]["national_results"])
        with pytest.raises(FormatError, match=re.escape(f"record.decryption.{where}")):
            ElectionRecord.from_dict(document)


# ------------------------------------------------------------------------------ tampering

Mutation = Callable[[Doc], None]


def _national(document: Doc) -> list[Doc]:
    national: list[Doc] = document["decryption"]["national_results"]
    return national


def change_a_total(document: Doc) -> None:
    _national(document)[0]["counts"][1] += 1  # Future Thailand Party


def move_a_vote(document: Doc) -> None:
    """Still adds up to the counted ballots: only the sums tell."""
    counts = _national(document)[1]["counts"]
    counts[0], counts[1] = counts[0] - 1, counts[1] + 1


def change_the_counted_ballots(document: Doc) -> None:
    _national(document)[1]["counted_ballots"] += 1


def drop_a_contest(document: Doc) -> None:
    del _national(document)[1]


def add_a_contest(document: Doc) -> None:
    _national(document).append({"contest": "mp", "counts": [0, 1, 1, 2], "counted_ballots": 4})


def give_a_contest_twice(document: Doc) -> None:
    _national(document).append(copy.deepcopy(_national(document)[0]))


def reorder(document: Doc) -> None:
    _national(document).reverse()


def wrong_length(document: Doc) -> None:
    _national(document)[0]["counts"].append(0)


def drop_the_national_totals(document: Doc) -> None:
    del document["decryption"]["national_results"]


TAMPERING: list[tuple[Mutation, str]] = [
    (
        change_a_total,
        "national total of party-list, option 2 (Future Thailand Party): 3, the districts' "
        "results add up to 2",
    ),
    (move_a_vote, "national total of referendum, option 1 (Agree): 1, the districts' results"),
    (
        change_the_counted_ballots,
        "national total of referendum: 5 counted ballots, the districts' counted ballots add "
        "up to 4",
    ),
    (drop_a_contest, "no national total of referendum"),
    (add_a_contest, "national total of mp, which is not a national contest of the manifest"),
    (give_a_contest_twice, "national total of party-list given twice"),
    (reorder, "national totals are not in the manifest's order of contests"),
    (wrong_length, "national total of party-list: 6 counts for 5 options"),
    (
        drop_the_national_totals,
        "the record has no national totals (decryption.national_results) for the election's "
        "national contests",
    ),
]


def verify_changed(record: Path, document: Doc, into: Path) -> tuple[int, Doc]:
    """`ivote verify --json` of a copy of the record directory with `document` as its
    record.json (the bundle and CRLs as they are)."""
    copied = into / "record"
    shutil.copytree(record, copied)
    (copied / "record.json").write_text(json.dumps(document))
    result = invoke("verify", "--allow-test-key", str(copied), "--json", "--workers", "1")
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize(
    ("mutate", "problem"), [pytest.param(m, p, id=m.__name__) for m, p in TAMPERING]
)
def test_tampered_national_totals_are_refused(
    thai_record: ThaiRecord, tmp_path: Path, mutate: Mutation, problem: str
) -> None:
    document = thai_record.record_doc()
    mutate(document)
    exit_code, verdict = verify_changed(thai_record.record, document, tmp_path)
    assert exit_code == 1
    failed = [c for c in verdict["checks"] if c["status"] == "fail"]
    assert [c["id"] for c in failed] == ["national-results"]
    assert any(p.startswith(problem) for p in failed[0]["problems"]), failed[0]["problems"]
    assert verdict["results"] is None
    # and `ivote results` shows nothing
    shown = invoke("results", "--allow-test-key", str(tmp_path / "record"), "--format", "json")
    assert shown.exit_code == 1 and shown.stdout == ""
    assert "check national-results (national totals are the sums" in shown.output


@pytest.mark.parametrize(
    "totals", [[], [{"contest": "council", "counts": [1], "counted_ballots": 1}]]
)
def test_national_totals_in_an_election_without_national_contests_are_refused(
    finished: Finished, tmp_path: Path, totals: list[Doc]
) -> None:
    document = finished.record_doc()
    document["decryption"]["national_results"] = totals
    exit_code, verdict = verify_changed(finished.record, document, tmp_path)
    assert exit_code == 1
    failed = [c for c in verdict["checks"] if c["status"] == "fail"]
    assert [c["id"] for c in failed] == ["national-results"]
    assert failed[0]["problems"] == [
        "the record has national totals (decryption.national_results), but the election has "
        "no national contests"
    ]


def test_a_national_contest_missing_from_a_district(
    thai_record: ThaiRecord, tmp_path: Path
) -> None:
    document = thai_record.record_doc()
    results = document["decryption"]["results"]
    results[:] = [
        r for r in results if (r["district"], r["contest"]) != ("khet-2", "referendum")
    ]
    exit_code, verdict = verify_changed(thai_record.record, document, tmp_path)
    assert exit_code == 1
    checks = {c["id"]: c for c in verdict["checks"]}
    assert checks["results"]["status"] == "fail"
    assert checks["results"]["problems"] == ["no results for khet-2/referendum"]
    # the national totals are checked only against verified district results
    assert checks["national-results"]["status"] == "not made"
    assert "check results" in checks["national-results"]["detail"]


# ------------------------------------------------------------------------------ property


@given(st.data())
def test_the_national_check_passes_exactly_when_the_totals_are_the_sums(
    thai_record: ThaiRecord, data: st.DataObject
) -> None:
    manifest = thai_record.election.manifest
    counts = st.integers(min_value=0, max_value=10**6)
    results = [
        ContestResult(
            district.id,
            contest.id,
            tuple(data.draw(st.lists(counts, min_size=len(contest.options),
                                     max_size=len(contest.options)))),
        )
        for district, contest in manifest.contests()
    ]  # fmt: skip
    counted = {d.id: data.draw(counts) for d in manifest.districts}
    report = TallyReport({d: Counts(received=c, counted=c) for d, c in counted.items()}, ())
    sums = [
        NationalResult(
            contest.id,
            tuple(
                sum(r.counts[i] for r in results if r.contest == contest.id)
                for i in range(len(contest.options))
            ),
            sum(counted.values()),
        )
        for contest in manifest.national_contests
    ]
    assert national_totals(manifest, results, report) == tuple(sums)
    assert national_problems(manifest, results, report, sums) == []
    # any change to one number is found, naming the contest
    stated = [[*total.counts, total.counted_ballots] for total in sums]
    which = data.draw(st.integers(0, len(stated) - 1))
    where = data.draw(st.integers(0, len(stated[which]) - 1))
    stated[which][where] += data.draw(st.integers(1, 10**6)) * data.draw(st.sampled_from([1, -1]))
    changed = [
        NationalResult(total.contest, tuple(numbers[:-1]), numbers[-1])
        for total, numbers in zip(sums, stated, strict=True)
    ]
    problems = national_problems(manifest, results, report, changed)
    assert len(problems) == 1 and problems[0].startswith(
        f"national total of {sums[which].contest}"
    )


# ------------------------------------------------------------------------------ results


def expected_contests(thai_record: ThaiRecord) -> list[dict[str, Any]]:
    """Every contest's expected results, per district then the national totals: (district,
    contest, counts per candidate, vote no or None, counted ballots)."""
    found = []
    for district in (*DISTRICTS, ""):
        for contest in ("mp", *NATIONAL) if district else NATIONAL:
            counts = (
                thai_record.expected(district, contest)
                if district
                else thai_record.expected_national(contest)
            )
            has_vote_no = OPTIONS[contest][-1] == VOTE_NO
            found.append(
                {
                    "district": district,
                    "contest": contest,
                    "candidates": counts[:-1] if has_vote_no else counts,
                    "vote_no": counts[-1] if has_vote_no else None,
                    "counted": 2 if district else 4,
                }
            )
    return found


def test_results_json_reports_vote_no_apart_and_the_national_totals(
    thai_record: ThaiRecord,
) -> None:
    result = invoke("results", "--allow-test-key", str(thai_record.record), "--format", "json")
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)
    contests = results["contests"] + results["national"]
    expected = expected_contests(thai_record)
    assert len(contests) == len(expected) == 8
    for contest, wanted in zip(contests, expected, strict=True):
        assert contest.get("district", "") == wanted["district"]
        assert contest["contest"] == wanted["contest"]
        assert contest["counted_ballots"] == wanted["counted"]
        assert [o["votes"] for o in contest["options"]] == wanted["candidates"]
        assert [o["number"] for o in contest["options"]] == [
            n for n in OPTIONS[wanted["contest"]] if n != VOTE_NO
        ]
        for option in contest["options"]:
            assert Decimal(str(option["share"])) == share(option["votes"], wanted["counted"])
        # "vote no" is not a candidate: apart, and not in the candidates' votes
        assert contest["votes"] == sum(wanted["candidates"])
        if wanted["vote_no"] is None:
            assert "vote_no" not in contest
        else:
            assert contest["vote_no"] == {
                "name": "Vote no",
                "votes": wanted["vote_no"],
                "share": float(share(wanted["vote_no"], wanted["counted"])),
            }
        assert contest["votes"] + (wanted["vote_no"] or 0) == wanted["counted"]
        assert contest.get("national", False) == (
            wanted["district"] != "" and wanted["contest"] in NATIONAL
        )
        if wanted["contest"] == "referendum":
            assert contest["question"] == QUESTION_EN
            assert [o["name"] for o in contest["options"]] == ["Agree", "Disagree", "No opinion"]
        else:
            assert "question" not in contest
    national = results["national"]
    assert [set(n) for n in national] == [
        {"contest", "contest_name", "counted_ballots", "votes", "options", "vote_no"},
        {"contest", "contest_name", "question", "counted_ballots", "votes", "options"},
    ]
    assert [o["name"] for o in national[0]["options"]] == PARTIES_EN


def test_results_json_and_csv_carry_the_names_in_the_chosen_language(
    thai_record: ThaiRecord,
) -> None:
    result = invoke(
        "--lang", "th", "results", "--allow-test-key", str(thai_record.record), "--format", "json"
    )
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)
    party_list = results["national"][0]
    assert party_list["contest_name"] == "แบบบัญชีรายชื่อ"
    assert [o["name"] for o in party_list["options"]] == PARTIES_TH
    assert party_list["vote_no"]["name"] == "ไม่ประสงค์ลงคะแนน"
    assert results["national"][1]["question"] == QUESTION_TH
    # the keys stay English; `ivote verify --json` is English, names included
    assert set(results) == {
        "election_id", "name", "period", "manifest_fingerprint", "contests", "national",
    }  # fmt: skip
    verified = json.loads(
        invoke("--lang", "th", "verify", "--allow-test-key", str(thai_record.record), "--json")
        .stdout
    )
    assert verified["results"]["national"][0]["vote_no"]["name"] == "Vote no"
    thai_csv = invoke(
        "--lang", "th", "results", "--allow-test-key", str(thai_record.record), "--format", "csv"
    ).stdout
    assert "ไม่ประสงค์ลงคะแนน" in thai_csv and "รวมทั้งประเทศ" in thai_csv


def test_results_csv_rows(thai_record: ThaiRecord) -> None:
    result = invoke("results", "--allow-test-key", str(thai_record.record), "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    found = [
        (r["district"], r["contest"], int(r["option"]), r["option_name"], int(r["votes"]),
         Decimal(r["share_percent"]), int(r["counted_ballots"]))
        for r in rows
    ]  # fmt: skip
    wanted = []
    for contest in expected_contests(thai_record):
        numbers = OPTIONS[contest["contest"]]
        votes = contest["candidates"] + (
            [contest["vote_no"]] if contest["vote_no"] is not None else []
        )
        for number, count in zip(numbers, votes, strict=True):
            wanted.append(
                (contest["district"], contest["contest"], number, None, count,
                 share(count, contest["counted"]), contest["counted"])
            )  # fmt: skip
    assert [row[:3] + row[4:] for row in found] == [row[:3] + row[4:] for row in wanted]
    # "vote no" is option 0, its own row right after the candidates, named by the catalog
    assert {r["option_name"] for r in rows if r["option"] == "0"} == {"Vote no"}
    assert {(r["district"], r["district_name"]) for r in rows if not r["district"]} == {
        ("", "National total")
    }


def test_results_table_in_thai(thai_record: ThaiRecord) -> None:
    result = invoke("--lang", "th", "results", "--allow-test-key", str(thai_record.record))
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in (*PARTIES_TH, "แบบบัญชีรายชื่อ", "การออกเสียงประชามติ", "เห็นชอบ", "คำตอบ",
                 "ไม่ประสงค์ลงคะแนน", "ผลรวมทั้งประเทศ (ทุกเขตเลือกตั้ง)"):  # fmt: skip
        assert text in out, text
    assert "Vote no" not in out and "Party list" not in out
    national = out.split("ผลรวมทั้งประเทศ (ทุกเขตเลือกตั้ง)")[1]
    # the party list's national totals: 2 of 4 ballots for พรรคอนาคตไทย, one "vote no"
    assert re.search(r"│\s*2\s*│\s*พรรคอนาคตไทย\s*│\s*│\s*2\s*│\s*50\.00 %\s*│", national)
    assert re.search(r"│\s*│\s*ไม่ประสงค์ลงคะแนน\s*│\s*│\s*1\s*│\s*25\.00 %\s*│", national)
    assert "นับคะแนน 4 ใบ" in national


def test_results_table_shows_vote_no_after_the_candidates(thai_record: ThaiRecord) -> None:
    result = invoke("verify", "--allow-test-key", str(thai_record.record))
    assert result.exit_code == 0, result.output
    out = result.stdout
    district, national = out.split("National totals (every district)")
    khet_1 = district.split("District: Khet-1")[1].split("District: Khet-2")[0]
    mp = khet_1.split("Party list")[0]
    lines = [line for line in mp.splitlines() if line.startswith("│")]
    assert [line.split("│")[2].strip() for line in lines] == [
        "Somchai Jaidee", "Malee Srisuk", "Anan Boonmee", "Vote no",
    ]  # fmt: skip
    assert re.search(r"├─+┼", mp)  # "vote no" in a section of its own
    assert re.search(r"│\s*│\s*Vote no\s*│\s*│\s*1\s*│\s*50\.00 %\s*│", mp)
    # the referendum: its question, its answers, no party column
    referendum = national.split("Referendum")[1]
    assert " ".join(QUESTION_EN.split()[:4]) in " ".join(referendum.split())
    assert "Party" not in referendum.split("ballots counted")[0]
    assert re.search(r"│\s*1\s*│\s*Agree\s*│\s*2\s*│\s*50\.00 %\s*│", referendum)
    assert "18 of 18 checks passed" in " ".join(out.split())


def test_tally_combine_prints_vote_no_and_the_national_totals(thai_record: ThaiRecord) -> None:
    out = thai_record.combined
    assert "Party list - national total, 4 ballots counted" in out
    national = out.split("Party list - national total")[1]
    assert re.search(r"│\s*2\s*│\s*Future Thailand Party\s*│\s*│\s*2\s*│", national)
    assert re.search(r"│\s*│\s*Vote no\s*│\s*│\s*1\s*│", national)
    assert re.search(r"│\s*3\s*│\s*No opinion\s*│\s*1\s*│", national)


def test_ceremony_show_lists_national_contests_once(thai_record: ThaiRecord) -> None:
    from rich.console import Console

    from ceremonies.show import render_election
    from i18n import language

    directory = thai_record.election.directory
    shown = {}
    for lang in ("en", "th"):
        buffer = io.StringIO()
        with language(lang):
            render_election(directory, Console(file=buffer, width=400, color_system=None))
        shown[lang] = buffer.getvalue()
    out = shown["en"]
    assert out.count("Party list / แบบบัญชีรายชื่อ (party-list)") == 1
    assert out.count("Referendum / การออกเสียงประชามติ (referendum)") == 1
    assert f"Question: {QUESTION_EN} / {QUESTION_TH}" in out
    assert out.count("every district (national)") == 2  # each national contest, once
    assert "│ 1      │ Rice Farmers Party / พรรคชาวนาไทย" in out
    # "vote no" once per contest that has it (two constituencies and the party list), no number
    assert len(re.findall(r"│\s*│\s*Vote no\s*│", out)) == 3
    assert "แบบบัญชีรายชื่อ / Party list (party-list)" in shown["th"]
    assert len(re.findall(r"│\s*│\s*ไม่ประสงค์ลงคะแนน\s*│", shown["th"])) == 3
    # the command itself, at its fixed width: Thai wraps, nothing is cut
    result = invoke("--lang", "th", "ceremony", "show", "--election", str(directory))
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout


# ------------------------------------------------------------------------------ HTML


@pytest.mark.parametrize("lang", ["en", "th"])
def test_the_html_report_with_national_contests(
    browser: object, thai_record: ThaiRecord, tmp_path: Path, lang: str
) -> None:
    path = tmp_path / f"results-{lang}.html"
    result = invoke(
        "--lang", lang, "results", "--allow-test-key", str(thai_record.record),
        "--format", "html", "--out", str(path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    page = browser.new_page(viewport={"width": 1000, "height": 1300})  # type: ignore[attr-defined]
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    tables = page.evaluate(
        """() => [...document.querySelectorAll('table')]
            .filter(t => t.tFoot && t.tFoot.rows[0].cells.length === 3)
            .map(t => ({
                caption: t.caption.innerText,
                bodies: [...t.tBodies].map(b => [...b.rows].map(
                    r => [...r.cells].map(c => c.innerText))),
                counted: t.tFoot.rows[0].cells[1].innerText}))"""
    )
    expected = expected_contests(thai_record)
    assert len(tables) == len(expected) == 8
    vote_no = {"en": "Vote no", "th": "ไม่ประสงค์ลงคะแนน"}[lang]
    for table, wanted in zip(tables, expected, strict=True):
        assert int(table["counted"]) == wanted["counted"]
        assert [int(row[-2]) for row in table["bodies"][0]] == wanted["candidates"]
        if wanted["vote_no"] is None:
            assert len(table["bodies"]) == 1
        else:  # a body of its own after the candidates
            [[row]] = table["bodies"][1:]
            assert row[1] == vote_no and int(row[-2]) == wanted["vote_no"]
        if wanted["contest"] == "referendum":
            assert {"en": QUESTION_EN, "th": QUESTION_TH}[lang] in table["caption"]
            assert all(len(row) == 4 for row in table["bodies"][0])  # no party column
    heading = {"en": "National totals (every district)", "th": "ผลรวมทั้งประเทศ (ทุกเขตเลือกตั้ง)"}
    assert page.get_by_role("heading", name=heading[lang]).count() == 1
    names = {"en": "Votes in Party list, all districts", "th": "คะแนนเสียงในแบบบัญชีรายชื่อ รวมทั้งประเทศ"}
    chart = page.get_by_role("img", name=names[lang])
    assert chart.count() == 1
    description = chart.locator("desc").text_content() or ""
    assert description.endswith(
        {"en": "Vote no: 1 votes (25.00 %)", "th": "ไม่ประสงค์ลงคะแนน: 1 คะแนน (25.00 %)"}[lang]
    ), description
    assert page.locator("svg[role=img]").count() == 8
    assert_accessible(page, f"results report with national contests ({lang})")
    page.close()
