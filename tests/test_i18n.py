"""The translation catalogs (i18n): in step with the source, Thai complete, placeholders kept,
the language chosen as documented, Thai dates in the Buddhist Era."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

import i18n
from i18n import merge_po, update
from ivote.cli import main


def test_every_marked_text_is_in_every_catalog_and_translated_into_thai() -> None:
    assert update.problems() == []


def _package(tmp_path: Path, source: str, th_po: str | None) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(source, encoding="utf-8")
    if th_po is not None:
        (tmp_path / "catalogs" / "th").mkdir(parents=True)
        (tmp_path / "catalogs" / "th" / "pkg.po").write_text(th_po, encoding="utf-8")


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(update, "ROOT", tmp_path)
    monkeypatch.setattr(update, "CATALOG_DIR", tmp_path / "catalogs")
    monkeypatch.setattr(update, "PACKAGES", ("pkg",))
    monkeypatch.setattr(update, "THIRD_PARTY", ())
    monkeypatch.setattr(update, "LANGUAGES", ("th",))
    return tmp_path


def test_the_check_names_a_text_missing_from_a_catalog(sandbox: Path) -> None:
    _package(sandbox, 'from i18n import _\n_("Cast your ballot")\n', "")
    found = update.problems()
    assert any("out of step" in line for line in found), found
    assert any("untranslated: 'Cast your ballot'" in line for line in found), found


def test_the_check_names_a_lost_placeholder(sandbox: Path) -> None:
    _package(
        sandbox,
        'from i18n import _\n_("{count} ballots")\n',
        'msgid "{count} ballots"\nmsgstr "บัตร"\n',
    )
    assert (
        "th/pkg.po: '{count} ballots': the translation's placeholders [] are not ['count']"
        in update.problems()
    )


def test_update_adds_new_texts_and_drops_old_ones(sandbox: Path) -> None:
    _package(
        sandbox,
        'from i18n import _\n_("Back")\n',
        'msgid "Gone"\nmsgstr "หายไป"\n\nmsgid "Back"\nmsgstr "ย้อนกลับ"\n',
    )
    assert update.main([]) == 0
    text = (sandbox / "catalogs" / "th" / "pkg.po").read_text(encoding="utf-8")
    assert "Gone" not in text
    assert 'msgid "Back"\nmsgstr "ย้อนกลับ"' in text
    assert update.problems() == []


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "en"),
        ({"LANG": "th_TH.UTF-8"}, "th"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LC_ALL": "en_GB.UTF-8", "LANG": "th_TH.UTF-8"}, "en"),  # LC_ALL wins over LANG
        ({"LANGUAGE": "fr:th", "LANG": "en_US.UTF-8"}, "th"),  # LANGUAGE lists preferences
        ({"LC_MESSAGES": "th"}, "th"),
    ],
)
def test_the_language_comes_from_the_environment_as_gettext_reads_it(
    environ: dict[str, str], expected: str
) -> None:
    assert i18n.language_from_environment(environ) == expected


def test_texts_follow_the_chosen_language() -> None:
    with i18n.language("th"):
        assert i18n._("Commands") == "คำสั่ง"
        assert i18n._("a text no catalog holds") == "a text no catalog holds"
    with i18n.language("en"):
        assert i18n._("Commands") == "Commands"
    with pytest.raises(ValueError, match="unsupported language 'fr'"):
        i18n.set_language("fr")


def test_thai_dates_count_years_in_the_buddhist_era() -> None:
    moment = dt.datetime(2026, 11, 30, 7, 5, tzinfo=dt.UTC)
    assert i18n.format_date(moment.date(), "th") == "30 พฤศจิกายน 2569"
    assert i18n.format_date(moment.date(), "en") == "30 November 2026"
    assert i18n.format_datetime(moment, "th") == "30 พฤศจิกายน 2569, 07:05 UTC"
    bangkok = moment.astimezone(dt.timezone(dt.timedelta(hours=7)))
    assert i18n.format_datetime(bangkok, "en") == "30 November 2026, 14:05 UTC+07:00"


def test_the_cli_speaks_thai_with_lang_or_the_environment() -> None:
    runner = CliRunner()
    thai = runner.invoke(main, ["--lang", "th", "-h"])
    assert thai.exit_code == 0 and "คำสั่ง:" in thai.output
    from_env = runner.invoke(main, ["--help"], env={"LC_ALL": "", "LANG": "th_TH.UTF-8"})
    assert "คำสั่ง:" in from_env.output
    english = runner.invoke(main, ["-h"], env={"LC_ALL": "", "LANG": "en_US.UTF-8"})
    assert "Commands:" in english.output


def test_the_merge_driver_keeps_the_texts_both_branches_added(tmp_path: Path) -> None:
    base = 'msgid "Back"\nmsgstr "กลับ"\n'
    ours = base + '\nmsgid "Cast"\nmsgstr "ลงคะแนน"\n'
    theirs = 'msgid "Back"\nmsgstr "ย้อนกลับ"\n\nmsgid "Audit"\nmsgstr "ตรวจสอบ"\n'
    paths = []
    for name, text in (("base", base), ("ours", ours), ("theirs", theirs)):
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(str(tmp_path / name))
    assert merge_po.main(paths) == 0
    merged = (tmp_path / "ours").read_text(encoding="utf-8")
    # every text of both sides; "Back" as the side that changed it
    assert merged == (
        'msgid "Audit"\nmsgstr "ตรวจสอบ"\n\n'
        'msgid "Back"\nmsgstr "ย้อนกลับ"\n\n'
        'msgid "Cast"\nmsgstr "ลงคะแนน"\n\n'
    )


def test_clicks_own_texts_follow_the_language() -> None:
    runner = CliRunner()
    thai = runner.invoke(
        main, ["--lang", "th", "vote", "cast", "--no-such-option"], prog_name="ivote"
    )
    assert thai.exit_code == 2
    assert "วิธีใช้: ivote vote cast" in thai.output
    assert "ข้อผิดพลาด: ไม่มีตัวเลือก '--no-such-option'" in thai.output
    english = runner.invoke(
        main, ["--lang", "en", "vote", "cast", "--no-such-option"], prog_name="ivote"
    )
    assert "Error: No such option '--no-such-option'" in english.output
