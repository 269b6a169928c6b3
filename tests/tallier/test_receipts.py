"""Recorded as cast: voters' receipts against the final log of the published record
(`ivote vote verify-receipt`, `ivote verify --receipts`). A collector that drops, replaces or
reorders a receipted ballot before exporting its log is caught by the receipt it signed.

The receipts here are made as the collector makes them batch by batch: receipt i carries the
signed head of the log as it was right after ballot i (size i + 1), so that the consistency
proof from an earlier head to the final one is exercised, not only the leaf at the index."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from tally_helpers import Finished, run

from canonical.encoding import DOMAINS, b64url, parse_b64url
from canonical.files import write_canonical_json
from crypto import merkle
from formats.ballot import ballot_hash
from formats.receipt import LogHead, Receipt
from formats.signed import sign_object
from verifier.record import verify_record
from voter_app.voting import RECEIPT_EVIDENCE_TEXT, open_published_log, verify_receipt

Doc = dict[str, Any]


def _receipts(finished: Finished) -> list[Doc]:
    """Receipt i with the signed head of the first i + 1 leaves."""
    election = finished.election
    record = finished.record_doc()
    leaves = [parse_b64url(leaf, "leaf") for leaf in record["log"]["leaves"]]
    receipts = []
    for index, cast in enumerate(election.casts):
        head = LogHead(
            election.manifest.election_id,
            index + 1,
            merkle.root_hash(leaves[: index + 1]),
            cast.received + 1,
        )
        signed_head = sign_object(election.collector, DOMAINS["log_head"], head.to_dict())
        receipt = Receipt(
            election.manifest.election_id,
            ballot_hash(cast.signed),
            index,
            cast.received,
            signed_head,
            head,
        )
        receipts.append(sign_object(election.collector, DOMAINS["receipt"], receipt.to_dict()))
    return receipts


def _with_log(finished: Finished, leaves: list[bytes]) -> Doc:
    """The record with another log, its final head re-signed by the collector: what a
    collector that altered its log before the export would produce."""
    record = copy.deepcopy(finished.record_doc())
    head = LogHead.from_dict(record["log"]["head"]["payload"])
    new_head = LogHead(head.election_id, len(leaves), merkle.root_hash(leaves), head.timestamp)
    record["log"] = {
        "head": sign_object(finished.election.collector, DOMAINS["log_head"], new_head.to_dict()),
        "leaves": [b64url(leaf) for leaf in leaves],
    }
    return record


def _leaves(finished: Finished) -> list[bytes]:
    return [parse_b64url(leaf, "leaf") for leaf in finished.record_doc()["log"]["leaves"]]


@pytest.fixture(scope="module")
def receipts(finished: Finished) -> list[Doc]:
    return _receipts(finished)


def test_every_receipt_is_in_the_genuine_record(finished: Finished, receipts: list[Doc]) -> None:
    published = open_published_log(
        finished.record_doc(), finished.election.manifest.fingerprint, allow_test_key=True
    )
    verdicts = [verify_receipt(published, f"r{i}", r) for i, r in enumerate(receipts)]
    assert [v.problem for v in verdicts] == [None] * len(receipts)
    assert [v.log_index for v in verdicts] == list(range(len(receipts)))


def test_a_dropped_ballot_is_caught_by_its_receipt_and_by_later_ones(
    finished: Finished, receipts: list[Doc]
) -> None:
    leaves = _leaves(finished)
    dropped = 5
    published = open_published_log(
        _with_log(finished, leaves[:dropped] + leaves[dropped + 1 :]), allow_test_key=True
    )
    verdicts = [verify_receipt(published, f"r{i}", r) for i, r in enumerate(receipts)]
    assert all(v.problem is None for v in verdicts[:dropped])
    victim = verdicts[dropped]
    assert victim.evidence and "another entry at index 5" in (victim.problem or "")
    # a later receipt's own leaf moved too; the last one's index is beyond the final log
    assert all(v.evidence for v in verdicts[dropped:])
    assert "is missing" in (verdicts[-1].problem or "")


def test_a_reordering_is_caught_by_the_consistency_of_a_later_head(
    finished: Finished, receipts: list[Doc]
) -> None:
    """Two earlier entries swapped: their own receipts see another entry at their index, and
    a later receipt whose own leaf is in place sees that its head is not a prefix."""
    leaves = _leaves(finished)
    leaves[2], leaves[3] = leaves[3], leaves[2]
    published = open_published_log(_with_log(finished, leaves), allow_test_key=True)
    verdicts = [verify_receipt(published, f"r{i}", r) for i, r in enumerate(receipts)]
    assert [v.evidence for v in verdicts[:2]] == [False, False]
    assert all("another entry" in (v.problem or "") for v in verdicts[2:4])
    later = verdicts[8]
    assert later.evidence and "does not extend the log the receipt's signed head" in (
        later.problem or ""
    )


def test_a_receipt_not_signed_by_the_collector_is_not_evidence(
    finished: Finished, receipts: list[Doc]
) -> None:
    forged = sign_object(finished.election.organiser, DOMAINS["receipt"], receipts[0]["payload"])
    published = open_published_log(finished.record_doc(), allow_test_key=True)
    verdict = verify_receipt(published, "forged", forged)
    assert not verdict.evidence and "not a valid receipt" in (verdict.problem or "")
    assert "not by a collector the manifest names" in (verdict.problem or "")


def test_verify_receipt_cli_says_what_a_contradicted_receipt_means(
    finished: Finished, receipts: list[Doc], tmp_path: Path
) -> None:
    leaves = _leaves(finished)
    record = tmp_path / "record.json"
    write_canonical_json(record, _with_log(finished, leaves[:5] + leaves[6:]))
    good, victim = tmp_path / "good.json", tmp_path / "victim.json"
    write_canonical_json(good, receipts[0])
    write_canonical_json(victim, receipts[5])
    result = run(
        "vote", "verify-receipt", "--allow-test-key", "--record", str(record),
        "--receipt", str(good), "--receipt", str(victim),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "OK  ballot" in result.output and "at index 0" in result.output
    assert "PROBLEM  ballot" in result.output and "another entry at index 5" in result.output
    assert RECEIPT_EVIDENCE_TEXT.split(".")[0] in " ".join(result.output.split())
    assert "Traceback" not in result.output
    genuine = run(
        "vote", "verify-receipt", "--allow-test-key", "--record", str(finished.record),
        "--receipt", str(victim), "--fingerprint", finished.election.manifest.fingerprint,
    )  # fmt: skip
    assert genuine.exit_code == 0, genuine.output


def test_observers_check_collected_receipts(
    finished: Finished, receipts: list[Doc], tmp_path: Path
) -> None:
    leaves = _leaves(finished)
    collected = tmp_path / "receipts"
    for index in (0, 5, 9):
        write_canonical_json(collected / f"{index}.json", receipts[index])
    documents = [(p.name, json.loads(p.read_text())) for p in sorted(collected.iterdir())]
    genuine = verify_record(
        finished.record_doc(), None, workers=1, receipts=documents, allow_test_key=True
    )
    assert genuine.check("receipts").status == "pass"
    assert genuine.check("receipts").detail == "3 of 3 receipts are in the final log"
    tampered = _with_log(finished, leaves[:5] + leaves[6:])
    verdict = verify_record(tampered, None, workers=1, receipts=documents, allow_test_key=True)
    check = verdict.check("receipts")
    assert check.status == "fail"
    named = b64url(ballot_hash(finished.election.casts[5].signed))
    assert any(p.startswith(f"ballot {named}: ") for p in check.problems), check.problems
    assert len(check.problems) == 2  # receipts 5 and 9; receipt 0 is fine
    path = tmp_path / "record.json"
    write_canonical_json(path, tampered)
    result = run("verify", "--allow-test-key", str(path), "--receipts", str(collected), "--json")
    assert result.exit_code == 1
    assert "signed evidence against the collector" in result.output


def test_a_voter_checks_the_receipts_this_computer_stored(
    finished: Finished, receipts: list[Doc], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voter_app.store import SEAL_COST_ENV, VoterStore

    monkeypatch.setenv(SEAL_COST_ENV, "16")
    store = VoterStore(tmp_path / "data")
    # the fields `ivote vote receipts` lists (a real record holds the ballot and more)
    base = {
        "election_id": finished.election.manifest.election_id,
        "manifest_hash": b64url(finished.election.manifest.hash),
        "district": "north",
    }
    for index in (1, 5):
        record = {**base, "status": "received", "receipt": receipts[index]}
        store.save_record(ballot_hash(finished.election.casts[index].signed), record, "12345")
    store.save_record(b"x" * 32, {**base, "status": "sent"}, "12345")  # never receipted
    pin = tmp_path / "pin"
    pin.write_text("12345\n")
    leaves = _leaves(finished)
    record_path = tmp_path / "record.json"
    write_canonical_json(record_path, _with_log(finished, leaves[:5] + leaves[6:]))
    arguments = ["--data-dir", str(tmp_path / "data"), "--pin-file", str(pin)]
    check = ["vote", "verify-receipt", "--allow-test-key", "--record"]
    result = run(*check, str(record_path), *arguments)
    assert result.exit_code == 1
    assert result.output.count("OK  ballot") == 1 and result.output.count("PROBLEM") == 1
    fine = run(*check, str(finished.record), *arguments)
    assert fine.exit_code == 0, fine.output
    assert fine.output.count("OK  ballot") == 2
    exported = tmp_path / "exported"
    listed = run("vote", "receipts", *arguments, "--export", str(exported))
    assert listed.exit_code == 0, listed.output
    assert len(list(exported.glob("*.json"))) == 2
