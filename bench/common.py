"""Shared helpers of the benchmarks: timing, medians, the JSON last line."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def timed(function: Callable[[], T]) -> tuple[T, float]:
    """Run once; return (result, wall-clock seconds)."""
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def median_ms(samples: list[float]) -> float:
    """Median of per-item seconds, in milliseconds, rounded for reading."""
    return round(statistics.median(samples) * 1000, 3)


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version()}


def emit(result: dict[str, Any], as_json: bool) -> None:
    """Human lines first (unless --json), then always one JSON line last."""
    if not as_json:
        for key, value in result.items():
            print(f"{key:>28}: {value}")
    print(json.dumps(result, sort_keys=True))
