"""Fixtures of the e-ID tests (helpers and the fixed PKI in eid_helpers.py)."""

from __future__ import annotations

import pytest
from eid_helpers import Pki, make_test_pki

from ceremonies import pki


@pytest.fixture(scope="session")
def test_pki() -> Pki:
    return make_test_pki()


@pytest.fixture
def cheap_sealing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CA and officials' keys sealed with a small scrypt cost: the tests check the
    ceremony, not the KDF's strength."""
    monkeypatch.setattr(pki, "SCRYPT_COST", 2**10)
