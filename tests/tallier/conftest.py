"""The session's real small elections: tally_helpers.build_finished, and the Thai election's
record (thai_record.build_thai_record) and the council election's, with a choose-several
contest (council_record.build_council_record)."""

from __future__ import annotations

import pytest
from council_record import CouncilRecord, build_council_record
from tally_helpers import Finished, build_finished
from thai_record import ThaiRecord, build_thai_record


@pytest.fixture(scope="session")
def finished(tmp_path_factory: pytest.TempPathFactory, safe_primes: dict) -> Finished:
    return build_finished(tmp_path_factory.mktemp("tally"), safe_primes)


@pytest.fixture(scope="session")
def thai_record(tmp_path_factory: pytest.TempPathFactory, safe_primes: dict) -> ThaiRecord:
    return build_thai_record(tmp_path_factory.mktemp("thai"), safe_primes)


@pytest.fixture(scope="session")
def council_record(tmp_path_factory: pytest.TempPathFactory, safe_primes: dict) -> CouncilRecord:
    return build_council_record(tmp_path_factory.mktemp("council"), safe_primes)
