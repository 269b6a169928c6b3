"""The `ivote demo` command: options, and a clean stop on failure, Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import click

from i18n import _, set_language
from ivote.demo.scenario import ESTONIA, SCENARIOS, THAILAND

# Voters per scenario when --voters is not given: each finishes in under 3 minutes on two
# cores with the 3072-bit key (a Thai ballot, with its 68-option party list, costs ten times an
# Estonian one to encrypt and check).
DEFAULT_VOTERS = {ESTONIA: 300, THAILAND: 60}


class Terminated(SystemExit):
    """SIGTERM: unwinds through every `finally`, so the collector is stopped on the way out."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated(128 + signum)


def _lang_given() -> bool:
    """Whether `ivote --lang` was given on the command line (not taken from the
    environment)."""
    context = click.get_current_context().find_root()
    return context.get_parameter_source("lang") == click.core.ParameterSource.COMMANDLINE


@click.command(
    name="demo",
    help=_(
        "Run a whole election on this machine and print the result.\n\n"
        "Officials' ceremonies (test CA, e-IDs, manifest, threshold key), the collector server "
        "on loopback, voters casting, revoting, voting on paper and checking their votes "
        "through the voter app over HTTP, close and export, the tally, a decryption ceremony "
        "with only THRESHOLD of TRUSTEES trustees, and the observers' verifier on the record. "
        "Exits 0 only when the decrypted results equal the simulated voters' last choices and "
        "the record verifies."
    ),
)
@click.option(
    "--scenario",
    type=click.Choice(SCENARIOS),
    default=ESTONIA,
    show_default=True,
    help=_(
        "estonia: a Tallinn city council election. thailand: a Thai general election in "
        "small (constituency MPs, the party list of 67 parties, a referendum, \"vote no\" "
        "boxes, names in Thai and English, Thai citizen IDs), shown in Thai unless --lang "
        "says otherwise."
    ),
)
@click.option(
    "--voters",
    type=click.IntRange(1, 100_000),
    help=_("Default: {estonia} (estonia), {thailand} (thailand).").format(
        estonia=DEFAULT_VOTERS[ESTONIA], thailand=DEFAULT_VOTERS[THAILAND]
    ),
)
@click.option("--districts", default=3, show_default=True, type=click.IntRange(1, 50))
@click.option(
    "--candidates",
    type=click.IntRange(1, 99),
    help=_("Per district (default: 8 in estonia, 8 to 10 in thailand)."),
)
@click.option(
    "--revote-rate",
    default=0.1,
    show_default=True,
    type=click.FloatRange(0, 1),
    help=_("Share of voters who vote a second time (only the latest ballot counts)."),
)
@click.option(
    "--paper-rate",
    default=0.02,
    show_default=True,
    type=click.FloatRange(0, 1),
    help=_("Share of voters who also vote on paper (their i-vote is cancelled)."),
)
@click.option(
    "--check-rate",
    default=0.05,
    show_default=True,
    type=click.FloatRange(0, 1),
    help=_("Share of voters who check their vote from a second device."),
)
@click.option(
    "--vote-no-rate",
    default=0.05,
    show_default=True,
    type=click.FloatRange(0, 1),
    help=_("Share of voters who vote no in every contest with a \"vote no\" box."),
)
@click.option("--trustees", default=5, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--threshold",
    default=3,
    show_default=True,
    type=click.IntRange(1, 64),
    help=_("Trustees needed to decrypt; exactly this many come to the decryption ceremony."),
)
@click.option(
    "--key-bits",
    default=3072,
    show_default=True,
    type=click.IntRange(512, 8192),
    help=_("Paillier modulus size (3072 for 128-bit security)."),
)
@click.option(
    "--db",
    help=_(
        "The collector's database URL (default: a SQLite file in the election directory), "
        "e.g. postgresql+psycopg://user@host/emptydb."
    ),
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help=_("A new directory for every file of the election (default demo-out/<timestamp>)."),
)
@click.option(
    "--test-primes",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    hidden=True,
    help="TESTS ONLY: deal the key from these fixed public primes (ceremony keygen "
    "--test-primes), e.g. tests/fixtures/safe_primes.json with --key-bits 512.",
)
@click.option("--voter-processes", default=0, type=click.IntRange(0, 64), hidden=True)
@click.option(
    "--scrypt-cost",
    type=int,
    hidden=True,
    help="TESTS ONLY: scrypt cost sealing the trustees' shares (ceremony keygen --scrypt-cost).",
)
def demo(
    scenario: str,
    voters: int | None,
    districts: int,
    candidates: int | None,
    revote_rate: float,
    paper_rate: float,
    check_rate: float,
    vote_no_rate: float,
    trustees: int,
    threshold: int,
    key_bits: int,
    db: str | None,
    out: Path | None,
    test_primes: Path | None,
    voter_processes: int,
    scrypt_cost: int | None,
) -> None:
    from rich.console import Console

    from ivote.demo.runner import DemoFailed, Options, run_demo

    if threshold > trustees:
        raise click.BadParameter(
            _("{threshold} is more than the {trustees} trustees").format(
                threshold=threshold, trustees=trustees
            ),
            param_hint="--threshold",
        )
    if key_bits % 2:
        raise click.BadParameter(_("must be even"), param_hint="--key-bits")
    if scenario == THAILAND and not _lang_given():
        set_language("th")  # the Thai election speaks Thai, and so do the commands it runs
    options = Options(
        scenario=scenario,
        voters=voters or DEFAULT_VOTERS[scenario],
        districts=districts,
        candidates=candidates,
        revote_rate=revote_rate,
        paper_rate=paper_rate,
        check_rate=check_rate,
        vote_no_rate=vote_no_rate,
        trustees=trustees,
        threshold=threshold,
        key_bits=key_bits,
        db=db,
        out=out,
        test_primes=test_primes.resolve() if test_primes else None,
        voter_processes=voter_processes,
        scrypt_cost=scrypt_cost,
    )
    console = Console()
    previous = signal.signal(signal.SIGTERM, _terminate)
    where: list[Path] = []
    try:
        passed = run_demo(options, console, where.append)
    except DemoFailed as exc:
        console.print("\n[bold red]" + _("The demo failed:") + f"[/] {exc}")
        if where:
            console.print(_("Files and logs so far: {path}").format(path=where[0]))
        sys.exit(1)
    except KeyboardInterrupt:
        console.print("\n" + _("[bold red]Interrupted[/]; the collector is stopped."))
        sys.exit(130)
    except Terminated:
        console.print("\n" + _("[bold red]Terminated[/]; the collector is stopped."))
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not passed:
        sys.exit(1)
