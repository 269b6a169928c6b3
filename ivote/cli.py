"""The `ivote` command: one group per role, loaded lazily so that `ivote vote` does not import
the collector's web stack and `ivote verify` does not import the ceremonies."""

from __future__ import annotations

import importlib

import click

# command name -> "module:attribute" of its click command or group
COMMANDS = {
    "vote": ("voter_app.cli:vote", "Voters: cast, revote, audit and check a ballot."),
    "collector": ("collector.cli:collector", "The online ballot collector: serve, close, export."),
    "ceremony": ("ceremonies.cli:ceremony", "Officials' offline ceremonies: PKI, election, keys."),
    "tally": ("tallier.cli:tally", "The air-gapped tallier: process the ballot box, combine."),
    "verify": ("verifier.cli:verify", "Observers, auditors: re-check an election record."),
    "bench": ("bench.cli:bench", "Benchmarks; each prints one JSON line last."),
    "demo": ("ivote.demo:demo", "Run a whole election on this machine and print the result."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        target, _ = COMMANDS[cmd_name]
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(package_name="ivote")
def main() -> None:
    """ivote: Estonian-style internet voting, universally verifiable."""
