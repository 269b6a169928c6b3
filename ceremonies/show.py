"""`ivote ceremony show`: the election as officials read it out and publish it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ceremonies.election import CeremonyError
from formats.manifest import Contest, ElectionDirectory, Manifest
from formats.names import Name
from i18n import _, format_datetime


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
                    _("{manifest} differs from the signed manifest {signed}").format(
                        manifest=directory.manifest, signed=directory.signed_manifest
                    )
                )
        return opened.manifest, opened.certificate.subject.rfc4514_string()
    return directory.read_manifest(), None


def render_election(election_dir: Path, console: Console | None = None) -> Manifest:
    manifest, signer = load_for_show(election_dir)
    console = console or Console(width=100, soft_wrap=False)
    out = console.print
    out(
        f"[bold]{manifest.name}[/bold]  "
        + _("(election id {id})").format(id=manifest.election_id),
        highlight=False,
    )
    out(
        _("Voting period: {start} to {end}").format(
            start=format_datetime(manifest.period.start), end=format_datetime(manifest.period.end)
        ),
        highlight=False,
    )
    out(
        _("Voter list: version {version}, {voters} voters (at most {max})").format(
            version=manifest.voter_list.list_version,
            voters=manifest.voter_list.voters,
            max=manifest.max_voters,
        ),
        highlight=False,
    )
    out(
        _("Trustees: {trustees}; any {threshold} of them can decrypt").format(
            trustees=manifest.trustees, threshold=manifest.threshold
        ),
        highlight=False,
    )
    key_state = _("no key yet (draft: run keygen)") if manifest.is_draft else _("generated")
    if manifest.test_key:
        key_state = "[bold red]{}[/]".format(
            _("TEST KEY from public fixed primes: not for a real election")
        )
    out(
        _("Key: {bits}-bit threshold Paillier, {state}").format(
            bits=manifest.key_bits, state=key_state
        ),
        highlight=False,
    )
    if manifest.key_bits < 3072:
        out(
            "[yellow]{}[/]".format(
                _("Key size {bits} bits is a test size (3072 for real)").format(
                    bits=manifest.key_bits
                )
            ),
            highlight=False,
        )
    policy = manifest.policy
    out(
        _(
            "Vote check: within {minutes} minutes, at most {checks} times; observers' bundle "
            "public: {public}"
        ).format(
            minutes=policy.vote_check_window_minutes,
            checks=policy.max_checks,
            public=_("yes") if policy.publish_observer_bundle else _("no"),
        ),
        highlight=False,
    )
    for certificate in manifest.trust.eid_cas():
        out(
            _("Trusted e-ID CA: {subject}").format(subject=certificate.subject.rfc4514_string()),
            highlight=False,
        )
    for certificate in manifest.trust.collectors():
        out(
            _("Collector: {subject}").format(subject=certificate.subject.rfc4514_string()),
            highlight=False,
        )
    out(
        _("Signed by: {signer}").format(signer=signer) if signer else _("Not signed yet (draft)"),
        highlight=False,
    )

    table = Table(title=_("Districts, contests and candidates"), show_lines=False)
    for column in (_("district"), _("contest"), _("number"), _("candidate"), _("list / party")):
        table.add_column(column, overflow="fold")  # wrapped, never cut: Thai has no spaces
    for district in manifest.districts:
        own = [contest for contest in district.contests if not contest.national]
        add_contests(table, f"{in_every_language(district.name)} ({district.id})", own)
    # on every district's ballot, after the district's own contests: shown once
    add_contests(table, _("every district (national)"), manifest.national_contests)
    out(table)

    # Plain echo, never wrapped: this is what is read aloud and compared.
    groups = manifest.fingerprint_groups.split(" ")
    click.echo(_("Manifest fingerprint (SHA-256 of the canonical manifest):"))
    click.echo("  " + " ".join(groups[:8]))
    click.echo("  " + " ".join(groups[8:]))
    click.echo("  " + _("hex: {fingerprint}").format(fingerprint=manifest.fingerprint))
    if manifest.is_draft:
        click.echo("  " + _("(draft: the fingerprint changes when keygen adds the key)"))
    show_key_proofs(ElectionDirectory(election_dir), manifest)
    return manifest


def show_key_proofs(directory: ElectionDirectory, manifest: Manifest) -> None:
    """The key proofs, checked, and each trustee's parameters fingerprint, which the trustee
    compares with the one `trustee-params` printed. A draft shows the parameters documents
    present so far (parsed, not yet checked: keygen checks them)."""
    from canonical.encoding import FormatError
    from canonical.files import read_json_file
    from formats.keyproofs import KeyProofs, TrusteeParameters, key_proofs_problems

    if manifest.is_draft:
        click.echo(_("Trustees' parameters for the key proofs (made before keygen):"))
        for trustee in range(1, manifest.trustees + 1):
            path = directory.trustee_parameters_file(trustee)
            if not path.exists():
                click.echo("  " + _("trustee {index}: not made yet").format(index=trustee))
                continue
            try:
                document = TrusteeParameters.from_dict(read_json_file(path, str(path)))
            except FormatError as exc:
                click.echo(
                    "  "
                    + _("trustee {index}: malformed: {problem}").format(index=trustee, problem=exc)
                )
                continue
            click.echo(
                "  "
                + _("trustee {index}: {fingerprint}").format(
                    index=trustee, fingerprint=document.fingerprint_groups
                )
            )
        return
    document = None
    if directory.key_proofs.exists():
        document = read_json_file(directory.key_proofs, str(directory.key_proofs))
    problems = key_proofs_problems(document, manifest)
    if problems:
        click.echo(_("Key proofs: NOT VERIFIED ({path}):").format(path=directory.key_proofs))
        for problem in problems:
            click.echo("  " + problem)
    else:
        click.echo(
            _(
                "Key proofs: verified ({path}): modulus proof, and for each of {trustees} "
                "trustees their parameters' proof and the no-small-factor proof"
            ).format(path=directory.key_proofs, trustees=manifest.trustees)
        )
    try:
        proofs = KeyProofs.from_dict(document)
    except FormatError:
        return
    click.echo(_("Trustees' parameters fingerprints (each trustee compares theirs):"))
    for entry in proofs.trustees:
        click.echo(
            "  "
            + _("trustee {index}: {fingerprint}").format(
                index=entry.trustee, fingerprint=entry.parameters.fingerprint_groups
            )
        )


def in_every_language(name: Name) -> str:
    """A name in the current language, then in the others it is given in ("Party list /
    แบบบัญชีรายชื่อ"): what officials read out and publish, in every language."""
    first = name.text()
    return " / ".join([first, *(text for text in name.all_texts() if text != first)])


def add_contests(table: Table, district: str, contests: Sequence[Contest]) -> None:
    """A contest's rows: its candidates (a referendum's question, then its answers), then its
    "vote no" box, without a number (the ballot gives it none)."""
    for contest in contests:
        heading = f"{in_every_language(contest.name)} ({contest.id})"
        if contest.question is not None:
            heading += "\n" + _("Question: {question}").format(
                question=in_every_language(contest.question)
            )
        if contest.rule is not None:  # a choose-several contest: how many a ballot marks
            heading += "\n" + contest.rule
        for index, candidate in enumerate(contest.options):
            table.add_row(
                district if index == 0 else "",
                heading if index == 0 else "",
                "" if candidate.is_vote_no else str(candidate.number),
                in_every_language(candidate.name),
                in_every_language(candidate.party) or "-",
            )
