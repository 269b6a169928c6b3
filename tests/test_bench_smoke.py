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
