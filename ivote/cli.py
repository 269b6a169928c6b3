"""The `ivote` command: one group per role, loaded lazily so that `ivote vote` does not import
the collector's web stack and `ivote verify` does not import the ceremonies."""

from __future__ import annotations

import importlib

import click

import i18n
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


def _click_speaks_our_language() -> None:
    """click marks its own texts ("Usage:", "Error: Missing option ...") for gettext, bound as
    `_` and `ngettext` in each of its modules; look them up in our catalogs instead
    (i18n/catalogs/<language>/click.po), so they follow --lang like ours."""
    import click.core
    import click.decorators
    import click.exceptions
    import click.formatting
    import click.parser
    import click.termui
    import click.types

    for module in (
        click.core,
        click.decorators,
        click.exceptions,
        click.formatting,
        click.parser,
        click.termui,
        click.types,
    ):
        if hasattr(module, "_"):
            module._ = i18n._  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = i18n.ngettext  # type: ignore[attr-defined]


_click_speaks_our_language()


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

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # the group is made before --lang is read: its own text is translated when shown
        if self.help:
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(_(self.help))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _(COMMANDS[name][1])) for name in sorted(COMMANDS)]
        with formatter.section(_("Commands")):
            formatter.write_dl(rows)


def _choose_language(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        set_language(value)


class _TranslatedOption(click.Option):
    """An option of the top-level group, made before --lang is read: its help is translated
    when shown."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        return None if record is None else (record[0], _(record[1]))


# -h as well as --help on every command: child contexts inherit the names
@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=N_("ivote: Estonian-style internet voting, universally verifiable."),
)
@click.option(
    "--lang",
    cls=_TranslatedOption,
    type=click.Choice(LANGUAGES, case_sensitive=False),
    callback=_choose_language,
    is_eager=True,
    expose_value=False,
    help=N_("Language of what ivote says (en, th); default: LANGUAGE, LC_ALL or LANG, else en."),
)
@click.version_option(package_name="ivote", cls=_TranslatedOption)
def main() -> None:
    pass
