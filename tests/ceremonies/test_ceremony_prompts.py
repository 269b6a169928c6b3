"""Passphrase prompts of the officials' commands: what can be checked is checked before more is
asked (a wrong CA or organiser passphrase is refused at once, an existing output before any
passphrase), a new passphrase's length before its confirmation, clear labels; and the
officials' commands in Thai."""

from __future__ import annotations

from pathlib import Path

import pytest
from ceremony_helpers import ORGANISER_PASSPHRASE, Workspace
from click.testing import CliRunner, Result

from ivote.cli import main

CA_PASSPHRASE = "ca passphrase"


def run(*args: str, input: str = "") -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki") / "pki"
    result = run("ceremony", "pki", "init", "--out", str(directory),
                 input=f"{CA_PASSPHRASE}\n{CA_PASSPHRASE}\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    return directory


def test_a_wrong_ca_passphrase_is_refused_before_the_officials_passphrases(
    ca: Path, tmp_path: Path
) -> None:
    out = tmp_path / "officials"
    # three tries at the prompt, then the refusal: no officials' passphrase was asked
    result = run("ceremony", "pki", "officials", "--ca", str(ca), "--out", str(out),
                 input="wrong one\nwrong two\nwrong three\nnever asked\n")  # fmt: skip
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.count("CA passphrase: ") == 3 and "Ca passphrase" not in result.output
    assert result.output.count("Wrong passphrase (or a modified file); please try again.") == 2
    assert "root-ca.key: wrong passphrase or modified file" in result.output
    assert "organiser" not in result.output and not out.exists()
    # a passphrase file is tried once
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not the CA's\n")
    result = run("ceremony", "pki", "officials", "--ca", str(ca), "--out", str(out),
                 "--passphrase-file", str(wrong), input="never asked\n")  # fmt: skip
    assert result.exit_code == 1 and "wrong passphrase" in result.output
    assert "organiser" not in result.output and not out.exists()


def test_new_passphrases_are_checked_for_length_before_the_confirmation(
    ca: Path, tmp_path: Path
) -> None:
    out = tmp_path / "officials"
    answers = [
        CA_PASSPHRASE,
        "2short", "organiser passphrase", "organiser passphrase",  # too short: asked again
        "collector passphrase", "collector typo", "collector passphrase", "collector passphrase",
    ]  # fmt: skip
    result = run("ceremony", "pki", "officials", "--ca", str(ca), "--out", str(out),
                 input="\n".join(answers) + "\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    output = result.output
    organiser = output.index("New passphrase for the organiser's key: ")
    too_short = output.index("Too short: at least 8 characters. Please try again.")
    confirm = output.index("Type it again to confirm: ")
    assert organiser < too_short < confirm  # no confirmation of a refused passphrase
    assert output.count("Type it again to confirm: ") == 3
    assert "The two entries differ. Please try again." in output
    assert (out / "organiser.key").is_file() and (out / "collector.key").is_file()
    for answer in answers:
        assert answer not in output  # nothing echoed
    # an existing output is refused before any passphrase is typed
    result = run("ceremony", "pki", "officials", "--ca", str(ca), "--out", str(out))
    assert result.exit_code == 1 and "already exists; choose another --out" in result.output
    assert "CA passphrase" not in result.output and "New passphrase" not in result.output


def test_a_short_passphrase_file_is_refused(ca: Path, tmp_path: Path) -> None:
    short = tmp_path / "short.pass"
    short.write_text("short\n")
    result = run("ceremony", "pki", "init", "--out", str(tmp_path / "pki"),
                 "--passphrase-file", str(short))  # fmt: skip
    assert result.exit_code == 1
    assert "the CA passphrase must have at least 8 characters" in result.output
    assert not (tmp_path / "pki").exists()


def test_a_wrong_organiser_passphrase_is_refused_before_the_trustees_are_asked(
    workspace: Workspace,
) -> None:
    assert workspace.init().exit_code == 0
    workspace.all_trustee_params()
    result = workspace.run(
        "keygen", "--election", str(workspace.election),
        "--organiser-key", str(workspace.organiser),
        input="wrong\nstill wrong\nwrong again\ntrustee one passphrase\n",
    )  # fmt: skip
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.count("Organiser key passphrase (") == 3
    assert "wrong passphrase" in result.output and "Trustee 1 of 3" not in result.output


def test_the_organiser_may_retype_a_mistyped_passphrase(workspace: Workspace) -> None:
    assert workspace.init().exit_code == 0
    workspace.all_trustee_params()
    result = workspace.run(
        "keygen", "--election", str(workspace.election),
        "--organiser-key", str(workspace.organiser),
        "--test-primes", str(Path(__file__).parents[1] / "fixtures" / "safe_primes.json"),
        "--scrypt-cost", "1024", *workspace.passphrase_files(3),
        input=f"typo\n{ORGANISER_PASSPHRASE}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Wrong passphrase (or a modified file); please try again." in result.output


def test_officials_commands_in_thai(workspace: Workspace, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["--lang", "th", "ceremony", "init", "--definition", str(workspace.definition),
         "--voters", str(workspace.voters), "--out", str(workspace.election)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # the period in the Buddhist Era: 2099 CE is 2642 BE
    assert "เปิดลงคะแนน 1 มีนาคม 2642, 09:00 UTC+02:00" in result.output
    assert "การลงคะแนนจะเปิดในภายหลัง" in result.output  # the warning: voting opens later
    assert "ขั้นตอนถัดไป:" in result.output and "ivote ceremony trustee-params" in result.output
    short = tmp_path / "short.pass"
    short.write_text("short\n")
    result = CliRunner().invoke(
        main,
        ["--lang", "th", "ceremony", "pki", "init", "--out", str(tmp_path / "pki")],
        input="short\n",
    )
    assert "วลีรหัสผ่านใหม่ของ CA: " in result.output
    assert "สั้นเกินไป: ต้องมีอย่างน้อย 8 ตัวอักษร" in result.output
    # and the next command, without --lang, is in English again
    shown = workspace.run("show", "--election", str(workspace.election))
    assert "Voting period: 1 March 2099, 09:00 UTC+02:00" in shown.output
