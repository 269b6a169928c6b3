"""`ivote ceremony show`: the election as officials read it out and publish it."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ceremonies.election import CeremonyError
from formats.manifest import ElectionDirectory, Manifest, format_time


def load_for_show(election_dir: Path) -> tuple[Manifest, str | None]:
    """The manifest to show and who signed it (None for a draft).

    A signed election is shown from its signed manifest, pinned to the organiser certificate
    kept beside it, and the unsigned copy must agree with it.
    """
    directory = ElectionDirectory(election_dir)
    if directory.signed_manifest.exists():
        from formats.manifest import open_signed_manifest

        opened = open_signed_manifest(
            directory.signed_manifest, organiser_certificate=directory.organiser_certificate
        )
        if directory.manifest.exists():
            unsigned = directory.read_manifest()
            if unsigned.hash != opened.manifest.hash:
                raise CeremonyError(
                    f"{directory.manifest} differs from the signed manifest "
                    f"{directory.signed_manifest}"
                )
        return opened.manifest, opened.certificate.subject.rfc4514_string()
    return directory.read_manifest(), None


def render_election(election_dir: Path, console: Console | None = None) -> Manifest:
    manifest, signer = load_for_show(election_dir)
    console = console or Console(width=100, soft_wrap=False)
    out = console.print
    out(f"[bold]{manifest.name}[/bold]  (election id {manifest.election_id})", highlight=False)
    out(
        f"Voting period: {format_time(manifest.period.start)} to "
        f"{format_time(manifest.period.end)}",
        highlight=False,
    )
    out(
        f"Voter list: version {manifest.voter_list.list_version}, "
        f"{manifest.voter_list.voters} voters (at most {manifest.max_voters})",
        highlight=False,
    )
    out(
        f"Trustees: {manifest.trustees}; any {manifest.threshold} of them can decrypt",
        highlight=False,
    )
    key_state = "no key yet (draft: run keygen)" if manifest.is_draft else "generated"
    if manifest.test_key:
        key_state = "[bold red]TEST KEY from public fixed primes: not for a real election[/]"
    out(f"Key: {manifest.key_bits}-bit threshold Paillier, {key_state}", highlight=False)
    if manifest.key_bits < 3072:
        out(
            f"[yellow]Key size {manifest.key_bits} bits is a test size (3072 for real)[/]",
            highlight=False,
        )
    policy = manifest.policy
    out(
        f"Vote check: within {policy.vote_check_window_minutes} minutes, at most "
        f"{policy.max_checks} times; observers' bundle public: "
        f"{'yes' if policy.publish_observer_bundle else 'no'}",
        highlight=False,
    )
    for certificate in manifest.trust.eid_cas():
        out(f"Trusted e-ID CA: {certificate.subject.rfc4514_string()}", highlight=False)
    for certificate in manifest.trust.collectors():
        out(f"Collector: {certificate.subject.rfc4514_string()}", highlight=False)
    out(f"Signed by: {signer}" if signer else "Not signed yet (draft)", highlight=False)

    table = Table(title="Districts, contests and candidates", show_lines=False)
    for column in ("district", "contest", "number", "candidate", "list / party"):
        table.add_column(column)
    for district, contest in manifest.contests():
        for index, candidate in enumerate(contest.candidates):
            table.add_row(
                f"{district.name} ({district.id})" if index == 0 else "",
                f"{contest.name} ({contest.id})" if index == 0 else "",
                str(candidate.number),
                candidate.name,
                candidate.party or "-",
            )
    out(table)

    # Plain echo, never wrapped: this is what is read aloud and compared.
    groups = manifest.fingerprint_groups.split(" ")
    click.echo("Manifest fingerprint (SHA-256 of the canonical manifest):")
    click.echo("  " + " ".join(groups[:8]))
    click.echo("  " + " ".join(groups[8:]))
    click.echo(f"  hex: {manifest.fingerprint}")
    if manifest.is_draft:
        click.echo("  (draft: the fingerprint changes when keygen adds the key)")
    return manifest
