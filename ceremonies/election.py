"""Creating an election directory and keeping its voter list: `ceremony init` and `voters`.

The directory layout is formats.manifest.ElectionDirectory's, so that the collector and the
tallier find the same files.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from canonical.encoding import FormatError, canonical_bytes
from canonical.files import write_atomic, write_canonical_json
from ceremonies.definition import Definition, load_definition
from formats.manifest import ElectionDirectory
from formats.voters import VoterList, read_change_csv, voter_list_path, write_voter_list
from i18n import _


class CeremonyError(FormatError):
    """A ceremony step that cannot go ahead (e.g. it would overwrite an election)."""

    def __init__(self, message: str) -> None:
        super().__init__("ceremony", message)
        self.args = (message,)


def init_election(
    definition: str | Path,
    voters: str | Path,
    out: str | Path,
    now: datetime | None = None,
    start: str | None = None,
    end: str | None = None,
) -> Definition:
    """Validate the definition and voter list; write the draft manifest and voter list v1.

    Refuses to touch a directory that already holds a manifest.
    """
    election = ElectionDirectory(out)
    if election.manifest.exists() or election.signed_manifest.exists():
        raise CeremonyError(
            _("{election} already holds an election ({file}); refusing to overwrite it").format(
                election=election.root, file=election.manifest.name
            )
        )
    loaded = load_definition(definition, voters, now, start, end)
    # The voter list first and the manifest last: a manifest always has its list beside it.
    write_atomic(
        voter_list_path(election.voters, 1),
        canonical_bytes(loaded.voter_list.to_dict()) + b"\n",
    )
    write_canonical_json(election.manifest, loaded.manifest.to_dict())
    return loaded


def update_voters(election_dir: str | Path, changes: str | Path) -> tuple[VoterList, VoterList]:
    """Apply a change list to the latest voter list version; returns (previous, new)."""
    election = ElectionDirectory(election_dir)
    manifest = election.read_manifest()
    lists = election.voter_lists(manifest)
    latest = lists[-1]
    updated = latest.apply(
        read_change_csv(changes, manifest.personal_code_scheme),
        [district.id for district in manifest.districts],
        manifest.max_voters,
    )
    write_voter_list(election.voters, updated)
    return latest, updated
