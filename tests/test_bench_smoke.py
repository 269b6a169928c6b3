"""The benchmarks still run against today's roles (a tiny size, no timing asserted: speed is
measured by running them, see bench/). A role that starts refusing what a benchmark does
(a flag, a format) fails here rather than at the next measurement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

IVOTE = str(Path(sys.executable).parent / "ivote")


def _bench(tmp_path: Path, *args: str) -> dict[str, object]:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}  # its primes, not ~/.cache
    result = subprocess.run(
        [IVOTE, "bench", *args, "--json"], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    measured: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


@pytest.mark.slow
def test_the_collector_bench_runs(tmp_path: Path) -> None:
    measured = _bench(tmp_path, "collector", "--voters", "4", "--concurrency", "2",
                      "--key-bits", "512", "--workers", "1")  # fmt: skip
    assert measured["bench"] == "collector" and measured["voters"] == 4


@pytest.mark.slow
def test_the_tally_bench_runs_and_is_correct(tmp_path: Path) -> None:
    measured = _bench(tmp_path, "tally", "--key-bits", "512", "--ballots", "8",
                      "--candidates", "3", "--workers", "1")  # fmt: skip
    assert measured["correct"] is True and measured["ballots"] == 8
    # the default scenario's output is as before scenarios: no Thailand figures
    assert "scenario" not in measured and "breakdown" not in measured


@pytest.mark.slow
def test_the_thailand_tally_bench_runs_and_is_correct(tmp_path: Path) -> None:
    measured = _bench(tmp_path, "tally", "--scenario", "thailand", "--key-bits", "512",
                      "--ballots", "4", "--candidates", "3", "--workers", "1")  # fmt: skip
    assert measured["correct"] is True and measured["scenario"] == "thailand"
    # 3 candidates + vote no; 67 parties + vote no; 3 answers
    assert measured["options"] == {"mp": 4, "party-list": 68, "referendum": 3}
    for size in ("box_bytes_per_ballot", "bundle_bytes_per_ballot"):
        assert isinstance(measured[size], float) and measured[size] > 0
    breakdown = measured["breakdown"]
    assert isinstance(breakdown, dict) and set(breakdown) == {"process", "audit", "verify"}
    for phase, parts in breakdown.items():
        # the parts are exclusive: with `other` they add up to the phase's total
        assert sum(v for k, v in parts.items() if k != "total") == pytest.approx(
            parts["total"], abs=0.01
        ), phase
        assert parts["proof_batch_equations"] > 0, phase
    assert breakdown["process"]["eid_signature"] > 0
    assert breakdown["verify"]["decryption_proofs"] > 0
    assert set(measured["proofs_by_contest"]) == {"mp", "party-list", "referendum"}  # type: ignore[arg-type]
    projections = measured["projections"]
    assert isinstance(projections, dict)
    assert projections["thailand_2026_advance_overseas"]["ballots"] == 2_410_000
    assert projections["forty_percent_electorate"]["cores"] == 64
    assert all(case["wall_hours"] > 0 for case in projections.values())


@pytest.mark.slow
def test_the_crypto_bench_runs_and_is_correct(tmp_path: Path) -> None:
    measured = _bench(tmp_path, "crypto", "--key-bits", "512", "--ballots", "3",
                      "--candidates", "3", "--trustees", "3", "--threshold", "2")  # fmt: skip
    assert measured["correct"] is True and measured["ballots"] == 3
    # the voter app's way of encrypting (randomness from the check code's seed) is measured too
    assert isinstance(measured["encrypt_seeded_ms_per_ballot"], float)


@pytest.mark.slow
def test_the_keyproofs_bench_runs(tmp_path: Path) -> None:
    measured = _bench(tmp_path, "keyproofs", "--key-bits", "512", "--runs", "1")
    assert measured["bench"] == "keyproofs" and measured["key_bits"] == 512
    assert all(measured[f"{name}_bytes"] for name in ("modulus", "params", "factor"))
