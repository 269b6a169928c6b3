"""The session's real small election (tally_helpers.build_finished)."""

from __future__ import annotations

import pytest
from tally_helpers import Finished, build_finished


@pytest.fixture(scope="session")
def finished(tmp_path_factory: pytest.TempPathFactory, safe_primes: dict) -> Finished:
    return build_finished(tmp_path_factory.mktemp("tally"), safe_primes)
