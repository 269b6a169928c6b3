"""`ivote tally process` reads the ballot box once, as a stream, and checks its entries in the
worker pool (formats.ballotbox.BallotBoxReader + check_entry_line): every box that
read_ballot_box refuses is refused with the same error, whatever the number of workers and
tasks, and a good box gives the same tally."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tally_helpers import Finished

import formats.ballotbox as ballotbox
import formats.cleansing
from canonical.encoding import DOMAINS, FormatError, b64url, canonical_bytes
from crypto.eid import EidError
from formats.ballotbox import ENTRIES, INDEX, BallotBoxReader, read_ballot_box
from formats.signed import sign_object
from tallier.process import process_ballot_box


def entries_of(box: Path) -> bytes:
    with zipfile.ZipFile(box) as archive:
        return archive.read(ENTRIES)


def rebox(finished: Finished, source: Path, target: Path, entries: bytes, reindex: bool) -> Path:
    """`source` with entries.jsonl replaced; with `reindex`, the index names its new hash and
    is signed again by the collector (so only the entries' own checks can refuse it)."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    if reindex:
        index = copy.deepcopy(json.loads(members[INDEX])["payload"])
        index["files"][ENTRIES] = b64url(hashlib.sha256(entries).digest())
        signed = sign_object(finished.election.collector, DOMAINS["ballot_box"], index)
        members[INDEX] = canonical_bytes(signed) + b"\n"
    members[ENTRIES] = entries
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def refusal(function: Any) -> tuple[str, str] | None:
    try:
        function()
    except (FormatError, EidError) as exc:
        return type(exc).__name__, str(exc)
    return None


def lines_of(entries: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in entries.splitlines()]


def join(entries: list[dict[str, Any]]) -> bytes:
    return b"".join(canonical_bytes(entry) + b"\n" for entry in entries)


def resign_receipt(finished: Finished, entry: dict[str, Any], **changes: Any) -> None:
    payload = {**entry["receipt"]["payload"], **changes}
    entry["receipt"] = sign_object(finished.election.collector, DOMAINS["receipt"], payload)


def tamperings(finished: Finished, entries: bytes) -> dict[str, tuple[bytes, bool]]:
    """Named changes of entries.jsonl: (new bytes, whether the index is signed again)."""
    out: dict[str, tuple[bytes, bool]] = {}
    good = lines_of(entries)

    def changed(name: str, edit: Any, reindex: bool = True) -> None:
        copies = copy.deepcopy(good)
        edit(copies)
        out[name] = (join(copies), reindex)

    def bad_signature(e: list[dict[str, Any]]) -> None:
        value = e[3]["receipt"]["signature"]["value"]
        e[3]["receipt"]["signature"]["value"] = ("A" if value[0] != "A" else "B") + value[1:]

    def other_signer(e: list[dict[str, Any]]) -> None:
        payload = e[3]["receipt"]["payload"]
        e[3]["receipt"] = sign_object(finished.election.organiser, DOMAINS["receipt"], payload)

    changed("receipt signed by another key", other_signer)
    changed("two entries swapped", lambda e: e.__setitem__(slice(2, 4), [e[3], e[2]]))
    changed("entry 4 holds another ballot", lambda e: e[4].__setitem__("ballot", e[5]["ballot"]))
    changed(
        "receive time goes back",
        lambda e: resign_receipt(
            finished, e[6], received=e[5]["receipt"]["payload"]["received"] - 1
        ),
    )
    changed("wrong log index", lambda e: e[1].__setitem__("log_index", 7))
    changed("an entry too few", lambda e: e.pop())
    changed("an entry too many", lambda e: e.append(copy.deepcopy(e[-1])))
    changed("unknown field", lambda e: e[2].__setitem__("extra", 1))
    changed("bad signature and entries hash", bad_signature, reindex=False)
    out["not JSON"] = (entries.replace(b"\n", b"\n{\n", 1), True)
    out["last line unterminated"] = (entries[:-1], True)
    out["blank line"] = (entries.replace(b"\n", b"\n\n", 1), True)
    out["entries not the signed ones"] = (entries + b"\n", False)
    out["empty"] = (b"", True)
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_every_refused_box_is_refused_alike(
    finished: Finished, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(formats.cleansing, "MIN_BALLOTS_PER_TASK", 1)
    monkeypatch.setattr(formats.cleansing, "MAX_BALLOTS_PER_TASK", 3)
    manifest = finished.election.manifest
    entries = entries_of(finished.box)
    seen: dict[str, str] = {}
    for name, (content, reindex) in tamperings(finished, entries).items():
        box = rebox(finished, finished.box, tmp_path / "box.zip", content, reindex)
        serial = refusal(lambda box=box: read_ballot_box(box, manifest))
        assert serial is not None, name
        stream = refusal(
            lambda box=box: process_ballot_box(
                finished.election.directory, box, finished.paper_list, workers=workers
            )
        )
        assert stream == serial, name
        seen[name] = serial[1]
    # each change is caught by the check meant for it
    assert "expected" in seen["receipt signed by another key"]
    assert "receipt.signature.certificate" in seen["receipt signed by another key"]
    assert "log_index" in seen["two entries swapped"]
    assert "ballot_hash" in seen["entry 4 holds another ballot"]
    assert "earlier than the entry before" in seen["receive time goes back"]
    assert "not terminated" in seen["last line unterminated"]
    assert "does not match the signed hash" in seen["bad signature and entries hash"]


def report_of(outcome: Any) -> tuple[Any, ...]:
    return (
        outcome.report.to_dict(),
        outcome.counted_voters.voters,
        [t.to_dict() for t in outcome.tally.totals],
        outcome.tally.log.leaves,
        sorted(canonical_bytes(b.to_dict()) for b in outcome.bundle.ballots),
    )


def test_receipts_are_covered_by_the_index_signature(finished: Finished, tmp_path: Path) -> None:
    """A receipt's own signature is not verified again (the collector's signature on the index
    covers every line): a box the collector signed with a damaged receipt signature in it is
    tallied as the undamaged box is. (The same damage without the index signed again is
    refused: "bad signature and entries hash" above.)"""
    entries = lines_of(entries_of(finished.box))
    value = entries[3]["receipt"]["signature"]["value"]
    entries[3]["receipt"]["signature"]["value"] = ("A" if value[0] != "A" else "B") + value[1:]
    box = rebox(finished, finished.box, tmp_path / "box.zip", join(entries), reindex=True)
    directory, paper = finished.election.directory, finished.paper_list
    damaged = report_of(process_ballot_box(directory, box, paper, workers=1))
    assert damaged == report_of(process_ballot_box(directory, finished.box, paper, workers=1))


def test_any_number_of_workers_and_tasks_gives_the_same_tally(
    finished: Finished, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, box = finished.election.directory, finished.box
    paper = finished.paper_list
    one = report_of(process_ballot_box(directory, box, paper, workers=1))
    monkeypatch.setattr(formats.cleansing, "MIN_BALLOTS_PER_TASK", 1)
    monkeypatch.setattr(formats.cleansing, "MAX_BALLOTS_PER_TASK", 2)
    assert report_of(process_ballot_box(directory, box, paper, workers=2)) == one
    assert report_of(process_ballot_box(directory, box, paper, workers=3)) == one
    written = json.loads((finished.tally / "tally.json").read_text())
    assert one[0] == written["report"]


class _Archive:
    """What BallotBoxReader.lines needs of a reader: the open zip."""

    def __init__(self, entries: bytes) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(ENTRIES, entries)
        self._box = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
        self._entries_digest: bytes | None = None


def readline_oracle(entries: bytes, limit: int) -> list[bytes]:
    """The lines read_ballot_box used to read (readline with a limit), up to the first one
    that is cut or unterminated."""
    handle = io.BytesIO(entries)
    out = []
    for line in iter(lambda: handle.readline(limit), b""):
        out.append(line)
        if not line.endswith(b"\n"):
            break
    return out


@given(
    lengths=st.lists(st.integers(0, 40), max_size=12),
    unterminated=st.booleans(),
    limit=st.integers(1, 30),
    block=st.integers(1, 50),
)
@settings(max_examples=300)
def test_lines_are_readline_with_the_limit(
    lengths: list[int], unterminated: bool, limit: int, block: int
) -> None:
    entries = b"".join(b"x" * n + b"\n" for n in lengths)
    if unterminated:
        entries += b"tail"
    original = (ballotbox.MAX_LINE_BYTES, ballotbox.READ_BLOCK_BYTES)
    ballotbox.MAX_LINE_BYTES, ballotbox.READ_BLOCK_BYTES = limit, block
    try:
        archive = _Archive(entries)
        got = list(BallotBoxReader.lines(archive))  # type: ignore[arg-type]
    finally:
        ballotbox.MAX_LINE_BYTES, ballotbox.READ_BLOCK_BYTES = original
    assert got == readline_oracle(entries, limit)
    assert archive._entries_digest == hashlib.sha256(entries).digest()


def test_a_voter_list_member_name_must_end_where_it_ends() -> None:
    assert ballotbox.VOTER_LIST_RE.match("voters/list-0001.json")
    assert ballotbox.VOTER_LIST_RE.match("voters/list-0001.json\n") is None
