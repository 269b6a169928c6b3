"""bench.tally_figures: the breakdown's timers leave the roles as they were, and the
projections' arithmetic (the bench itself runs in tests/test_bench_smoke.py)."""

from __future__ import annotations

import pytest

import crypto.eid
import crypto.membership
from bench.tally_figures import (
    FORTY_PERCENT_ELECTORATE,
    THAILAND_2026_ADVANCE_OVERSEAS,
    projections,
    timing_parts,
)
from canonical.encoding import DOMAINS
from formats.record import EncodedBallot


def test_timing_parts_times_exclusively_and_restores_the_functions() -> None:
    prepare, of = crypto.membership._prepare, EncodedBallot.__dict__["of"]
    with timing_parts() as spent:
        assert crypto.membership._prepare is not prepare
        encoded = EncodedBallot.of("d1", {"c1": {"ciphertexts": []}})
        crypto.eid.signing_input(DOMAINS["ballot"], {"a": "x" * 100_000})
    assert encoded.to_dict() == {"district": "d1", "contests": {"c1": {"ciphertexts": []}}}
    assert crypto.membership._prepare is prepare and EncodedBallot.__dict__["of"] is of
    assert spent["canonical_encoding"] > 0 and spent["proof_batch_equations"] == 0


def test_projections_are_linear_in_ballots_and_spread_over_cores() -> None:
    result, assumptions = projections(ballot_cpu_ms=10.0, total_s=0.5, totals_real=100, cores=2)
    small, large = result["thailand_2026_advance_overseas"], result["forty_percent_electorate"]
    assert small["ballots"] == THAILAND_2026_ADVANCE_OVERSEAS and small["cores"] == 2
    assert small["ballot_cpu_hours"] == pytest.approx(2_410_000 * 0.01 / 3600, abs=0.01)
    assert small["decryption_session_s"] == 50.0
    assert small["wall_hours"] == pytest.approx((24_100 / 2 + 50) / 3600, abs=0.01)
    assert large["ballots"] == FORTY_PERCENT_ELECTORATE and large["cores"] == 64
    assert large["wall_hours"] == pytest.approx((200_000 / 64 + 50) / 3600, abs=0.01)
    assert any("100 totals" in line for line in assumptions)
