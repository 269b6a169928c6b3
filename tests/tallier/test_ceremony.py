"""The decryption ceremony and the combination: bad trustees named, any t valid shares
decrypt, fewer than t do not, a wrong passphrase or a foreign tally is refused cleanly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.election import trustee_passphrase
from tally_helpers import Finished, run

import formats.record
from formats.manifest import ElectionDirectory
from formats.record import BUNDLE_FILE, ElectionRecord


def decrypt_args(finished: Finished, tally: Path | None = None) -> list[str]:
    """`ivote ceremony decrypt` with the tally, the signed inputs and the pinned manifest."""
    organiser = ElectionDirectory(finished.election.directory).organiser_certificate
    return [
        "ceremony", "decrypt", "--tally", str(tally or finished.tally),
        "--ballot-box", str(finished.box), "--paper-voters", str(finished.paper_list),
        "--organiser-cert", str(organiser), "--allow-test-key",
    ]  # fmt: skip


def _decrypt(
    finished: Finished,
    trustee: int,
    out: Path,
    passphrase: str | None = None,
    tally: Path | None = None,
) -> object:
    secret = out.parent / f"pass-{trustee}-{out.name}"
    secret.write_text((passphrase or trustee_passphrase(trustee)) + "\n")
    return run(
        *decrypt_args(finished, tally),
        "--share", str(ElectionDirectory(finished.election.directory).share(trustee)),
        "--out", str(out), "--passphrase-file", str(secret),
    )  # fmt: skip


def _combine(finished: Finished, out: Path, *shares: Path) -> object:
    args = ["tally", "combine", "--tally", str(finished.tally), "--out", str(out)]
    for share in shares:
        args += ["--shares", str(share)]
    return run(*args)


def test_any_t_trustees_decrypt_to_the_same_results(finished: Finished, tmp_path: Path) -> None:
    share2 = tmp_path / "shares-2.json"
    assert _decrypt(finished, 2, share2).exit_code == 0
    result = _combine(finished, tmp_path / "record", share2, finished.shares[3])
    assert result.exit_code == 0, result.output
    assert "Decrypted with trustees 2, 3" in result.output
    ours = ElectionRecord.from_dict(json.loads((tmp_path / "record/record.json").read_text()))
    theirs = ElectionRecord.from_dict(finished.record_doc())
    assert ours.decryption.results == theirs.decryption.results
    assert ours.decryption.plaintexts == theirs.decryption.plaintexts
    # the table per district is printed
    assert "Candidate 330" in result.output and "North" in result.output


def test_the_record_ships_the_tallys_bundle(finished: Finished, tmp_path: Path) -> None:
    """The bundle is copied byte for byte when it is the canonical one the tally names; a
    re-indented copy of it is written canonically instead; either way the record verifies."""
    copied = finished.record / BUNDLE_FILE
    assert copied.read_bytes() == (finished.tally / BUNDLE_FILE).read_bytes()

    tally = tmp_path / "tally"
    shutil.copytree(finished.tally, tally)
    document = json.loads((tally / BUNDLE_FILE).read_text())
    (tally / BUNDLE_FILE).write_text(json.dumps(document, indent=1))
    out = tmp_path / "record"
    result = run(
        "tally", "combine", "--tally", str(tally), "--out", str(out),
        "--shares", str(finished.shares[1]), "--shares", str(finished.shares[3]),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / BUNDLE_FILE).read_bytes() == copied.read_bytes()
    assert sorted(p.name for p in out.iterdir()) == sorted([BUNDLE_FILE, "crls", "record.json"])
    assert run("verify", "--allow-test-key", str(out)).exit_code == 0


def test_the_named_bundle_is_copied_without_parsing(
    finished: Finished, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_parsing(path: object) -> None:
        raise AssertionError("the canonical bundle the tally names was parsed")

    monkeypatch.setattr(formats.record, "read_bundle", no_parsing)
    record = ElectionRecord.from_dict(finished.record_doc())
    formats.record.write_record_dir(tmp_path / "record", record, finished.tally)
    copied = (tmp_path / "record" / BUNDLE_FILE).read_bytes()
    assert copied == (finished.tally / BUNDLE_FILE).read_bytes()


def test_a_bad_trustee_is_named_and_the_others_still_decrypt(
    finished: Finished, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    shares = json.loads(finished.shares[1].read_text())
    value = int(shares["shares"][0]["value"], 16)
    shares["shares"][0]["value"] = format(value * value % (1 << 1024), "x")
    bad.write_text(json.dumps(shares))
    share2 = tmp_path / "shares-2.json"
    assert _decrypt(finished, 2, share2).exit_code == 0
    result = _combine(finished, tmp_path / "record", bad, share2, finished.shares[3])
    assert result.exit_code == 0, result.output
    assert "REJECTED trustee 1" in result.output
    record = json.loads((tmp_path / "record/record.json").read_text())
    assert [t["trustee"] for t in record["decryption"]["shares"]] == [2, 3]


def test_fewer_than_t_valid_shares_cannot_decrypt(finished: Finished, tmp_path: Path) -> None:
    result = _combine(finished, tmp_path / "record", finished.shares[1])
    assert result.exit_code != 0
    assert "need valid shares from 2 trustees, have 1" in result.output
    assert not (tmp_path / "record").exists()


def test_a_wrong_passphrase_is_a_clear_error(finished: Finished, tmp_path: Path) -> None:
    result = _decrypt(finished, 2, tmp_path / "s.json", passphrase="not the passphrase")
    assert result.exit_code != 0
    assert "wrong passphrase" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "s.json").exists()


def test_the_trustee_refuses_a_tally_that_does_not_verify(
    finished: Finished, tmp_path: Path
) -> None:
    import shutil

    tampered = tmp_path / "tally"
    shutil.copytree(finished.tally, tampered)
    tally = json.loads((tampered / "tally.json").read_text())
    # ask the trustees to decrypt one voter's ballot instead of a total (decryption oracle)
    bundle = json.loads((tampered / "observers-bundle.json").read_text())
    ballot = next(b for b in bundle["ballots"] if b["district"] == "north")
    tally["totals"][0]["ciphertext"] = ballot["contests"]["council"]["ciphertexts"][0]
    (tampered / "tally.json").write_text(json.dumps(tally))
    result = _decrypt(finished, 1, tmp_path / "s.json", tally=tampered)
    assert result.exit_code != 0
    assert "refusing to decrypt" in result.output and "totals-products" in result.output
    assert not (tmp_path / "s.json").exists()


def test_shares_of_another_tally_are_rejected(finished: Finished, tmp_path: Path) -> None:
    shares = json.loads(finished.shares[1].read_text())
    shares["tally_hash"] = "A" * 43
    other = tmp_path / "other.json"
    other.write_text(json.dumps(shares))
    result = _combine(finished, tmp_path / "record", other, finished.shares[3])
    assert result.exit_code != 0
    assert "trustee 1: the shares are for another tally" in result.output
