"""Every refusal of the officials' commands (ceremonies, collector close/export, tally) is a
clear one-line message and a non-zero exit, never a traceback: missing files, files that are
not what they should be, passphrase files that are not text, a directory that is not an
election."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ivote.cli import main


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "empty").mkdir()
    (tmp_path / "binary.pass").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "text.pass").write_text("a passphrase\n")
    (tmp_path / "notzip.zip").write_text("not a zip\n")
    (tmp_path / "notjson.json").write_text("not json\n")
    (tmp_path / "eid.p12").write_bytes(b"not a PKCS#12 file")
    names = ("empty", "binary.pass", "text.pass", "notzip.zip", "notjson.json", "eid.p12")
    found = {name.split(".")[0]: str(tmp_path / name) for name in names}
    return found | {"missing": str(tmp_path / "missing"), "out": str(tmp_path / "out")}


CASES = [
    (["ceremony", "show", "--election", "{empty}"], "manifest.json: not found"),
    (["ceremony", "voters", "list", "--election", "{empty}"], "run `ivote ceremony init`"),
    (["ceremony", "keygen", "--election", "{empty}", "--organiser-key", "{empty}"],
     "manifest.json: not found"),
    (["ceremony", "init", "--definition", "{missing}", "--voters", "{missing}", "--out", "{out}"],
     "No such file or directory"),
    (["ceremony", "init", "--definition", "{binary}", "--voters", "{missing}",
      "--out", "{out}"], "not UTF-8"),
    (["ceremony", "voters", "apply", "--election", "{empty}", "--changes", "{missing}"],
     "not found"),
    (["ceremony", "pki", "officials", "--ca", "{missing}", "--out", "{out}"],
     "no such CA directory"),
    (["ceremony", "pki", "issue", "--ca", "{empty}", "--voters", "{missing}", "--out", "{out}"],
     "CA file not found"),
    (["ceremony", "pki", "to-token", "--eid", "{eid}", "--pin-file", "{binary}",
      "--token", "card"], "the file of the e-ID PIN is not UTF-8 text"),
    (["ceremony", "pki", "to-token", "--eid", "{eid}", "--pin-file", "{text}",
      "--token", "card"], "eid.p12"),
    (["ceremony", "paper-voters", "--election", "{empty}", "--list", "{text}",
      "--organiser-key", "{empty}", "--out", "{out}"], "manifest.signed.json"),
    (["ceremony", "decrypt", "--tally", "{empty}", "--ballot-box", "{notzip}",
      "--paper-voters", "{notjson}", "--fingerprint", "00", "--share", "{text}",
      "--out-dir", "{out}"], "tally.json not found"),
    (["tally", "process", "--election", "{empty}", "--ballot-box", "{notzip}",
      "--paper-voters", "{notjson}", "--out", "{out}"], "Error: "),
    (["tally", "combine", "--tally", "{empty}", "--shares", "{notjson}", "--out", "{out}"],
     "tally.json not found"),
    (["collector", "close", "--election", "{empty}", "--passphrase-file", "{text}"],
     "is --election an election directory"),
    (["collector", "export", "--election", "{empty}", "--passphrase-file", "{binary}",
      "--out", "{out}"], "not UTF-8 text"),
    (["collector", "close", "--election", "{empty}", "--passphrase-file", "{missing}"],
     "cannot read the collector key's passphrase"),
]


@pytest.mark.parametrize(("arguments", "message"), CASES, ids=[" ".join(c[0][:3]) for c in CASES])
def test_refusals_are_one_clear_line_and_a_non_zero_exit(
    files: dict[str, str], arguments: list[str], message: str
) -> None:
    filled = [argument.format(**files) for argument in arguments]
    result = CliRunner().invoke(main, filled, input="")
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    assert "Traceback" not in result.output
    assert message in result.output, result.output
    assert not Path(files["out"]).exists()
