"""The `ivote` command: one group per role, loaded lazily so that `ivote vote` does not import
the collector's web stack and `ivote verify` does not import the ceremonies."""

from __future__ import annotations

import importlib

import click

from i18n import LANGUAGES, N_, _, language_from_environment, set_language

# command name -> "module:attribute" of its click command or group
COMMANDS = {
    "vote": ("voter_app.cli:vote", N_("Voters: cast, revote, audit and check a ballot.")),
    "collector": (
        "collector.cli:collector",
        N_("The online ballot collector: serve, close, export."),
    ),
    "ceremony": (
        "ceremonies.cli:ceremony",
        N_("Officials' offline ceremonies: PKI, election, keys."),
    ),
    "tally": (
        "tallier.cli:tally",
        N_("The air-gapped tallier: process the ballot box, combine."),
    ),
    "verify": ("verifier.cli:verify", N_("Observers, auditors: re-check an election record.")),
    "results": (
        "verifier.cli:results",
        N_("Observers: the verified results (table, CSV, JSON, HTML)."),
    ),
    "bench": ("bench.cli:bench", N_("Benchmarks; each prints one JSON line last.")),
    "demo": (
        "ivote.demo:demo",
        N_("Run a whole election on this machine and print the result."),
    ),
}


class LazyGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # the environment's language first: --help may be answered before --lang is read
        set_language(language_from_environment())
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        target, _ = COMMANDS[cmd_name]
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _(COMMANDS[name][1])) for name in sorted(COMMANDS)]
        with formatter.section(_("Commands")):
            formatter.write_dl(rows)


def _choose_language(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        set_language(value)


# -h as well as --help on every command: child contexts inherit the names
@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--lang",
    type=click.Choice(LANGUAGES, case_sensitive=False),
    callback=_choose_language,
    is_eager=True,
    expose_value=False,
    help="Language of what ivote says (en, th); default: LANGUAGE, LC_ALL or LANG, else en.",
)
@click.version_option(package_name="ivote")
def main() -> None:
    """ivote: Estonian-style internet voting, universally verifiable."""
