"""Fixtures for the officials' ceremonies: an organiser key, a workspace with an election
definition and a voter list on disk, and an election through keygen."""

from __future__ import annotations

from pathlib import Path

import pytest
from ceremony_helpers import (
    DEFINITION,
    ORGANISER_PASSPHRASE,
    VOTERS,
    Workspace,
    make_ca,
)
from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import Encoding
from support.election import SCRYPT_COST


@pytest.fixture(scope="session")
def organiser_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """organiser.key + organiser.pem as `pki officials` writes them (cheap seal for tests)."""
    from ceremonies.pki import make_official, make_root_ca
    from crypto.eid import OFFICIAL_KEY_PURPOSES, seal_signer

    directory = tmp_path_factory.mktemp("officials")
    organiser = make_official(make_root_ca(), "organiser")
    sealed = seal_signer(
        organiser, ORGANISER_PASSPHRASE, OFFICIAL_KEY_PURPOSES["organiser"], cost=SCRYPT_COST
    )
    (directory / "organiser.key").write_bytes(sealed)
    (directory / "organiser.pem").write_bytes(organiser.certificate.public_bytes(Encoding.PEM))
    passphrase = directory / "organiser.pass"
    passphrase.write_text(ORGANISER_PASSPHRASE + "\n")
    return directory, passphrase


@pytest.fixture
def workspace(tmp_path: Path, organiser_files: tuple[Path, Path]) -> Workspace:
    (tmp_path / "ca.pem").write_bytes(make_ca())
    space = Workspace(
        root=tmp_path,
        definition=tmp_path / "election.toml",
        voters=tmp_path / "voters.csv",
        election=tmp_path / "ELECTION",
        organiser=organiser_files[0],
        organiser_passphrase=organiser_files[1],
        runner=CliRunner(),
    )
    space.write_definition(DEFINITION)
    space.write_voters(VOTERS)
    return space


@pytest.fixture
def keyed(workspace: Workspace) -> Workspace:
    """An election through init and keygen (fixture primes)."""
    result = workspace.init()
    assert result.exit_code == 0, result.output
    result = workspace.keygen()
    assert result.exit_code == 0, result.output
    workspace.keygen_output = result.output
    return workspace
