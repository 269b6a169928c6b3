"""Casting with an e-ID on a PKCS#11 token (SoftHSM2 standing in for an ID card)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_vote_cli import check_code_of
from voter_helpers import PIN, CollectorProcess, VoterElection, run_vote

from ceremonies.pki import import_to_token, init_softhsm_token
from crypto.eid import DEFAULT_PKCS11_MODULE, load_pkcs12_signer

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def test_cast_with_a_token(
    collector: CollectorProcess,
    election: VoterElection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if shutil.which("softhsm2-util") is None or not Path(DEFAULT_PKCS11_MODULE).exists():
        message = "SoftHSM2 is not installed (Debian package softhsm2)"
        if IN_CI:
            pytest.fail(f"{message}: token tests must run in CI")
        pytest.skip(message)
    (tmp_path / "tokens").mkdir()
    config = tmp_path / "softhsm2.conf"
    config.write_text(
        f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\n"
        "log.level = ERROR\n"
    )
    monkeypatch.setenv("SOFTHSM2_CONF", str(config))
    monkeypatch.delenv("IVOTE_PKCS11_MODULE", raising=False)
    init_softhsm_token("voter-card", PIN, "87654321")
    eid = load_pkcs12_signer(election.eid_files["38001010003"].read_bytes(), PIN)
    uri = import_to_token(DEFAULT_PKCS11_MODULE, "voter-card", PIN, eid)
    pin_file = tmp_path / "pin"
    pin_file.write_text(PIN + "\n")
    before = collector.log_size()
    result = run_vote(
        "cast", "--collector", collector.url, "--eid", uri, "--pin-file", str(pin_file),
        "--fingerprint", election.fingerprint, "--yes", "--choice", "102",
        "--data-dir", str(tmp_path / "data"), data_dir=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Juhan Liiv" in result.stdout
    assert collector.log_size() == before + 1
    checked = run_vote(
        "check", "--collector", collector.url, "--code", check_code_of(result.stdout),
        "--fingerprint", election.fingerprint, data_dir=tmp_path,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert "Juhan Liiv (38001010003)" in checked.stdout and "102 Jaan Tamm" in checked.stdout
