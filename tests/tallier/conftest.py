"""The session's real small elections: tally_helpers.build_finished, and the Thai election's
record (thai_record.build_thai_record)."""

from __future__ import annotations

import pytest
from tally_helpers import Finished, build_finished
from thai_record import ThaiRecord, build_thai_record


@pytest.fixture(scope="session")
def finished(tmp_path_factory: pytest.TempPathFactory, safe_primes: dict) -> Finished:
    return build_finished(tmp_path_factory.mktemp("tally"), safe_primes)


@pytest.fixture(scope="session")
def thai_record(tmp_path_factory: pytest.TempPathFactory, safe_primes: dict) -> ThaiRecord:
    return build_thai_record(tmp_path_factory.mktemp("thai"), safe_primes)
