"""Choose-several contests as people read their results: `ivote results` in every format,
`ivote verify`'s tables and `ivote tally combine`'s, on the council record (a council where
each voter marks up to 3 candidates, or none). Each candidate's number is the ballots marking
it; the blank ballots are a row of their own (docs/spec.md, "Results")."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from council_record import CouncilRecord
from support.browser import assert_accessible
from support.election import COUNCIL_SPEC

from ivote.cli import main


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def counted(record: CouncilRecord, district: str) -> int:
    return record.record_doc()["report"]["districts"][district]["counted"]


def share(part: int, whole: int) -> str:
    from formats.results import share_percent

    value = share_percent(part, whole)
    return "" if value is None else str(value)


def test_the_csv_has_a_blank_ballots_row(council_record: CouncilRecord) -> None:
    text = run("results", "--allow-test-key", str(council_record.record), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    for district in ("ward-1", "ward-2"):
        council = [r for r in rows if r["district"] == district and r["contest"] == "council"]
        numbers = COUNCIL_SPEC.districts[district]["council"]
        expected = council_record.expected(district, "council")
        ballots = counted(council_record, district)
        # the candidates, each with the ballots marking it, then the blank ballots
        assert [r["option"] for r in council] == [*(str(n) for n in numbers), ""]
        assert [int(r["votes"]) for r in council] == expected
        assert council[-1]["option_name"] == "Blank ballots" and council[-1]["party"] == ""
        assert [r["share_percent"] for r in council] == [share(v, ballots) for v in expected]
        assert {int(r["counted_ballots"]) for r in council} == {ballots}
        mayor = [r for r in rows if r["district"] == district and r["contest"] == "mayor"]
        assert "" not in [r["option"] for r in mayor]  # 1-of-L: no blank row
    # ward-1: 3 ballots, 4 marks and a blank ballot: the shares add up to more than 100
    ward_1 = [r for r in rows if r["district"] == "ward-1" and r["contest"] == "council"]
    assert [r["share_percent"] for r in ward_1] == [
        "0.00", "33.33", "66.67", "0.00", "33.33", "33.33"
    ]  # fmt: skip


def test_the_thai_csv_names_the_blank_row_in_thai(council_record: CouncilRecord) -> None:
    text = run(
        "--lang", "th", "results", "--allow-test-key", str(council_record.record), "--format",
        "csv",
    )  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    blank = [r for r in rows if r["contest"] == "council" and r["option"] == ""]
    assert [r["option_name"] for r in blank] == ["บัตรที่ไม่ทำเครื่องหมาย"] * 2


def test_the_json_says_the_rule_and_the_blank_ballots(council_record: CouncilRecord) -> None:
    results = json.loads(
        run("results", "--allow-test-key", str(council_record.record), "--format", "json")
    )
    by_label = {(c["district"], c["contest"]): c for c in results["contests"]}
    council = by_label[("ward-1", "council")]
    assert council["choose"] == {"min": 0, "max": 3}
    assert council["blank_ballots"] == {"ballots": 1, "share": 33.33}
    assert [o["votes"] for o in council["options"]] == [0, 1, 2, 0, 1]
    assert council["votes"] == 4  # marks, not ballots
    assert "choose" not in by_label[("ward-1", "mayor")]
    assert "blank_ballots" not in by_label[("ward-1", "mayor")]


def table_of(text: str, title: str) -> str:
    """The lines of the terminal table whose title starts with `title`, up to its caption."""
    start = text.index(title)
    end = text.index("counted", start)
    return text[start:end]


def test_the_terminal_table_says_the_rule_and_the_blank_ballots(
    council_record: CouncilRecord,
) -> None:
    out = run("results", "--allow-test-key", str(council_record.record), "--format", "table")
    council = table_of(out, "Municipal council")
    assert "Mark up to 3 candidates, or none" in council
    assert "Ballots marking" in council and "Votes" not in council
    blank = next(line for line in council.splitlines() if "Blank ballots" in line)
    assert re.search(r"\b1\b.*33\.33 %", blank), blank
    assert "shares may add up to more than 100 %" in " ".join(out.split())
    mayor = table_of(out, "Mayor")
    assert "Votes" in mayor and "Blank" not in mayor and "Mark" not in mayor


def test_the_thai_terminal_table(council_record: CouncilRecord) -> None:
    out = run(
        "--lang", "th", "results", "--allow-test-key", str(council_record.record), "--format",
        "table",
    )  # fmt: skip
    assert "ทำเครื่องหมายเลือกผู้สมัครได้ไม่เกิน 3 คน หรือไม่ทำเครื่องหมายเลย" in out
    assert "บัตรที่ไม่ทำเครื่องหมาย" in out and "บัตรที่ทำเครื่องหมายเลือก" in out


def test_verify_shows_the_same_tables(council_record: CouncilRecord) -> None:
    out = run("verify", "--allow-test-key", str(council_record.record))
    council = table_of(out, "Municipal council")
    assert "Mark up to 3 candidates, or none" in council and "Blank ballots" in council


def test_tally_combine_says_the_rule(council_record: CouncilRecord) -> None:
    out = council_record.combined
    assert "Mark up to 3 candidates, or none" in out
    assert "ballots marking" in out and "Blank ballots (no candidate marked)" in out


@pytest.mark.parametrize("lang", ["en", "th"])
def test_the_html_report(
    browser: object, council_record: CouncilRecord, tmp_path: Path, lang: str
) -> None:
    path = tmp_path / f"council-{lang}.html"
    run(
        "--lang", lang, "results", "--allow-test-key", str(council_record.record), "--format",
        "html", "--out", str(path),
    )  # fmt: skip
    page = browser.new_page(viewport={"width": 1000, "height": 1300})  # type: ignore[attr-defined]
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    tables = page.evaluate(
        """() => [...document.querySelectorAll('table')]
            .filter(t => t.caption && t.tFoot && t.tFoot.rows[0].cells.length === 3)
            .map(t => ({
                caption: t.caption.innerText,
                header: t.tHead.rows[0].cells[3].innerText,
                bodies: [...t.tBodies].map(b => [...b.rows].map(r => [...r.cells]
                    .map(c => c.innerText)))}))"""
    )
    council = [t for t in tables if t["caption"].startswith("Municipal council")]
    assert len(council) == 2
    rule = {"en": "Mark up to 3 candidates, or none",
            "th": "ทำเครื่องหมายเลือกผู้สมัครได้ไม่เกิน 3 คน หรือไม่ทำเครื่องหมายเลย"}[lang]
    blank = {"en": "Blank ballots (no candidate marked)",
             "th": "บัตรที่ไม่ทำเครื่องหมาย (ไม่เลือกผู้สมัครคนใด)"}[lang]  # fmt: skip
    for table, district in zip(council, ("ward-1", "ward-2"), strict=True):
        assert rule in table["caption"]
        assert table["header"] == {"en": "Ballots marking", "th": "บัตรที่ทำเครื่องหมายเลือก"}[lang]
        candidates, blank_rows = table["bodies"]
        expected = council_record.expected(district, "council")
        assert [int(row[3]) for row in candidates] == expected[:-1]
        assert [row[1] for row in blank_rows] == [blank]
        assert int(blank_rows[0][3]) == expected[-1]
    # the chart says what its bars count, and its last bar is the blank ballots
    title = page.locator("svg[role=img] title").nth(1).text_content() or ""
    assert title == {
        "en": "Ballots marking each candidate in Municipal council, Ward-1",
        "th": "จำนวนบัตรที่ทำเครื่องหมายให้ผู้สมัครแต่ละคนในMunicipal council Ward-1",
    }[lang]
    description = page.locator("svg[role=img] desc").nth(1).text_content() or ""
    assert {"en": "blank ballots: 1 (33.33 %)", "th": "บัตรที่ไม่ทำเครื่องหมาย: 1 ใบ"}[
        lang
    ] in description
    assert_accessible(page, f"council results report ({lang})")
    page.close()
