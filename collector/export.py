"""`ivote collector export`: the signed ballot box of a closed log (formats.ballotbox)."""

from __future__ import annotations

from pathlib import Path

from canonical.encoding import parse_canonical
from collector.db import Database
from collector.log import BallotLog, now_ms
from collector.service import Election
from formats.ballotbox import write_ballot_box


class ExportError(Exception):
    """The ballot box cannot be written (e.g. the log is still open)."""


def export_ballot_box(election: Election, database_url: str, out: Path) -> int:
    """Write every ballot in log order with its receipt, the voter lists and the final signed
    head, signed by the collector's key; returns the number of ballots."""
    database = Database(database_url)
    try:
        database.migrate()
        ballot_log = BallotLog(database, election.manifest.election_id, election.sign)
        final = ballot_log.final_head()
        if final is None:
            raise ExportError("the log is still open: run `ivote collector close` first")
        voter_lists = election.directory.voter_lists(election.manifest)
        entries = (
            (int(row.log_index), bytes(row.ballot), bytes(row.receipt)) for row in ballot_log.rows()
        )
        return write_ballot_box(
            out,
            election.signer,
            election.manifest,
            entries,
            voter_lists,
            parse_canonical(final),
            now_ms(),
        )
    finally:
        database.dispose()
