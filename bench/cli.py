"""`ivote bench`: benchmarks. Each prints one JSON line last (medians, with the machine)."""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute" of the click command. Loaded lazily: a benchmark imports its
# role's whole stack, which the others do not need.
BENCHMARKS = {
    "collector": "bench.collector:bench_collector",
    "crypto": "bench.crypto:bench_crypto",
    "eid": "bench.eid:bench_eid",
    "keyproofs": "bench.keyproofs:bench_keyproofs",
    "tally": "bench.tally:bench_tally",
}


class _LazyBench(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(BENCHMARKS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in BENCHMARKS:
            return None
        module_name, attribute = BENCHMARKS[cmd_name].split(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group(name="bench", cls=_LazyBench)
def bench() -> None:
    """Benchmarks; each prints one JSON line last. Add a benchmark to BENCHMARKS."""
