"""The whole offline half on a real small election: process, decrypt, combine, verify."""

from __future__ import annotations

import json
from collections import Counter

from tally_helpers import Finished, run, write_receipts

from formats.record import ElectionRecord, read_tally


def test_results_are_the_latest_choice_of_each_voter_minus_paper_voters(
    finished: Finished,
) -> None:
    record = ElectionRecord.from_dict(finished.record_doc())
    results = {(r.district, r.contest): list(r.counts) for r in record.decryption.results}
    assert results == finished.expected
    assert sum(sum(c) for (d, c2), c in results.items() if c2 == "council") == len(
        finished.counted_voters
    )


def test_report_accounts_for_every_ballot_with_reasons(finished: Finished) -> None:
    record = ElectionRecord.from_dict(finished.record_doc())
    report = record.tally.report
    total = report["total"]
    assert total["received"] == len(finished.election.casts)
    assert total["counted"] == len(finished.counted_voters)
    assert total["superseded"] == 1
    assert total["cancelled_by_paper"] == 1
    reasons = Counter(b["reason"] for b in report["invalid_ballots"])
    assert reasons == finished.expected_reasons
    assert total["invalid"] == sum(finished.expected_reasons.values())
    assert report["districts"]["north"]["cancelled_by_paper"] == 1
    # the broken proof, and the north voter's ballot naming south (counted where it says)
    assert report["districts"]["south"]["invalid"] == 2


def test_counted_voters_are_kept_apart_from_the_record(finished: Finished) -> None:
    counted = json.loads((finished.tally / "counted-voters.json").read_text())
    assert counted["voters"] == finished.counted_voters
    assert not (finished.record / "counted-voters.json").exists()
    published = (finished.record / "record.json").read_text()
    published += (finished.record / "observers-bundle.json").read_text()
    for voter in [*finished.election.voters, "39901010099"]:
        assert voter not in published
    for cert in finished.election.eids.values():
        assert format(cert.certificate.serial_number, "x") not in published
    # ballots are stripped of everything that links them to a voter or a log leaf
    for ballot in finished.bundle_doc()["ballots"]:
        assert set(ballot) == {"district", "contests"}


def test_the_bundle_is_shuffled_and_not_in_log_order(finished: Finished) -> None:
    # Not a proof of randomness: the shuffle must at least drop the log order link, which a
    # record listing ballots by district and log order would keep. Re-running the tally
    # gives another order (with 7 ballots, the same order by chance has probability 1/5040).
    other = finished.root / "tally-again"
    result = run(
        "tally", "process", "--election", str(finished.election.directory),
        "--ballot-box", str(finished.box),
        "--paper-voters", str(finished.paper_list), "--out", str(other),
        "--workers", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    first = json.loads((finished.tally / "observers-bundle.json").read_text())["ballots"]
    second = json.loads((other / "observers-bundle.json").read_text())["ballots"]
    assert sorted(map(json.dumps, first)) == sorted(map(json.dumps, second))
    assert first != second
    assert read_tally(other).report == read_tally(finished.tally).report


def test_process_refuses_to_overwrite_a_tally(finished: Finished) -> None:
    result = run(
        "tally", "process", "--election", str(finished.election.directory),
        "--ballot-box", str(finished.box), "--paper-voters", str(finished.paper_list),
        "--out", str(finished.tally),
    )  # fmt: skip
    assert result.exit_code != 0
    assert "already holds a tally" in result.output


def test_verify_passes_on_the_real_record(finished: Finished) -> None:
    result = run("verify", "--allow-test-key", str(finished.record), "--json", "--workers", "2")
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.output.strip().splitlines()[-1])
    statuses = {c["id"]: c["status"] for c in verdict["checks"]}
    audit = {"crls", "ballot-box", "paper-voters", "cleansing", "counted-totals"}
    # an observer has no ballot box: the auditors' checks are not made, and say why
    for check in verdict["checks"]:
        if check["id"] in audit | {"counted-ballots"}:
            assert check["status"] == "not made" and "--ballot-box" in check["detail"], check
    assert statuses.pop("manifest-anchor") == "not made"
    assert statuses.pop("receipts") == "not made"
    assert {statuses[i] for i in statuses if i not in audit | {"counted-ballots"}} == {"pass"}


def test_verify_pins_the_manifest(finished: Finished) -> None:
    from formats.manifest import ElectionDirectory

    organiser = ElectionDirectory(finished.election.directory).organiser_certificate
    fingerprint = finished.election.manifest.fingerprint
    receipts = finished.root / "receipts"
    write_receipts(finished.box, receipts)
    result = run(
        "verify", "--allow-test-key", str(finished.record), "--json", "--fingerprint", fingerprint,
        "--organiser-cert", str(organiser), "--ballot-box", str(finished.box),
        "--paper-voters", str(finished.paper_list), "--receipts", str(receipts),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.output.strip().splitlines()[-1])
    # the auditor with the box, the signed paper list and the voters' receipts makes every
    # check
    assert verdict["ok"] and verdict["not_made"] == 0, verdict
    details = {c["id"]: c["detail"] for c in verdict["checks"]}
    assert "verified by the cleansing" in details["ballot-proofs"]
    wrong = run(
        "verify", "--allow-test-key", str(finished.record), "--json", "--fingerprint", "00" * 32
    )
    assert wrong.exit_code == 1
    assert "is not the published" in wrong.output


def test_verify_without_the_bundle_says_what_it_could_not_check(finished: Finished) -> None:
    public = finished.root / "public-record.json"
    public.write_text((finished.record / "record.json").read_text())
    result = run("verify", "--allow-test-key", str(public), "--json")
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.output.strip().splitlines()[-1])
    not_made = {c["id"]: c["detail"] for c in verdict["checks"] if c["status"] == "not made"}
    for check in ("bundle", "ballot-proofs", "duplicates", "totals-products"):
        assert "observers' bundle" in not_made[check]
    human = run("verify", "--allow-test-key", str(public))
    assert "not made" in human.output and "for want of material" in human.output


def test_verify_a_tally_before_decryption(finished: Finished) -> None:
    result = run("verify", "--allow-test-key", str(finished.tally), "--json", "--workers", "1")
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.output.strip().splitlines()[-1])
    statuses = {c["id"]: c["status"] for c in verdict["checks"]}
    assert statuses["ballot-proofs"] == "pass"
    assert statuses["shares"] == "not made"


def test_verify_refuses_a_test_election_unless_told(finished: Finished) -> None:
    """The suite's election key comes from the public fixture primes: without
    --allow-test-key the manifest check fails and says why."""
    result = run("verify", str(finished.record), "--json")
    assert result.exit_code == 1
    verdict = json.loads(result.output.strip().splitlines()[-1])
    manifest = next(c for c in verdict["checks"] if c["id"] == "manifest")
    assert manifest["status"] == "fail"
    assert any("a TEST election" in p and "--allow-test-key" in p for p in manifest["problems"])
    allowed = run("verify", "--allow-test-key", str(finished.record), "--json")
    detail = next(
        c
        for c in json.loads(allowed.output.strip().splitlines()[-1])["checks"]
        if c["id"] == "manifest"
    )["detail"]
    assert "a TEST election" in detail
