"""The tamper suite: each kind of change to a real election record is detected by the
verifier, by the check that names what is wrong.

Changes to the observers' bundle are made consistently (the record's bundle hash is updated
too), as a dishonest tallier publishing both would do; one test shows that an unhashed
change is caught by the hash alone."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from tally_helpers import Finished

from canonical.encoding import DOMAINS, b64url, hex_int, object_hash, parse_hex_int
from ceremonies.pki import make_official, make_root_ca
from formats.signed import sign_object
from verifier.record import verify_record

Doc = dict[str, Any]


def _n(record: Doc) -> int:
    return parse_hex_int(record["manifest"]["payload"]["public_key"]["n"], "n")


def _rehash(record: Doc, bundle: Doc) -> None:
    record["observers_bundle"]["hash"] = b64url(object_hash(bundle))
    record["observers_bundle"]["ballots"] = len(bundle["ballots"])


def _first_ciphertext(bundle: Doc) -> tuple[dict[str, Any], str]:
    contest = next(iter(bundle["ballots"][0]["contests"].values()))
    return contest, contest["ciphertexts"][0]


def alter_ballot(record: Doc, bundle: Doc) -> None:
    contest, text = _first_ciphertext(bundle)
    n = _n(record)
    contest["ciphertexts"][0] = hex_int(parse_hex_int(text, "c") * (1 + n) % (n * n))
    _rehash(record, bundle)


def alter_proof(record: Doc, bundle: Doc) -> None:
    contest, _ = _first_ciphertext(bundle)
    responses = contest["proofs"][0]["responses"]
    responses[0] = hex_int(parse_hex_int(responses[0], "z") + 2)
    _rehash(record, bundle)


def duplicate_ballot(record: Doc, bundle: Doc) -> None:
    bundle["ballots"].append(copy.deepcopy(bundle["ballots"][0]))
    _rehash(record, bundle)


def remove_ballot(record: Doc, bundle: Doc) -> None:
    del bundle["ballots"][0]
    _rehash(record, bundle)


def add_ballot_and_count_it(record: Doc, bundle: Doc) -> None:
    """A ballot stuffed in, with the report and the totals made to agree."""
    extra = copy.deepcopy(bundle["ballots"][0])
    n = _n(record)
    for contest in extra["contests"].values():  # a re-randomised copy: valid proofs? no
        contest["ciphertexts"] = [
            hex_int(parse_hex_int(c, "c") * pow(7, n, n * n) % (n * n))
            for c in contest["ciphertexts"]
        ]
    bundle["ballots"].append(extra)
    _rehash(record, bundle)
    district = extra["district"]
    for counts in (record["report"]["districts"][district], record["report"]["total"]):
        counts["received"] += 1
        counts["counted"] += 1


def non_unit_ballot_ciphertext(record: Doc, bundle: Doc) -> None:
    contest, _ = _first_ciphertext(bundle)
    contest["ciphertexts"][0] = hex_int(_n(record))
    _rehash(record, bundle)


def wrong_total(record: Doc, bundle: Doc) -> None:
    n = _n(record)
    total = record["totals"][0]
    total["ciphertext"] = hex_int(parse_hex_int(total["ciphertext"], "c") * (1 + n) % (n * n))


def non_unit_total(record: Doc, bundle: Doc) -> None:
    record["totals"][0]["ciphertext"] = hex_int(_n(record) * 3)


def forge_share(record: Doc, bundle: Doc) -> None:
    share = record["decryption"]["shares"][0]["shares"][0]
    n = _n(record)
    share["value"] = hex_int(parse_hex_int(share["value"], "v") * 4 % (n * n))


def alter_share_proof(record: Doc, bundle: Doc) -> None:
    proof = record["decryption"]["shares"][1]["shares"][0]["proof"]
    proof["response"] = hex_int(parse_hex_int(proof["response"], "z") + 1)


def share_from_outside_the_key(record: Doc, bundle: Doc) -> None:
    trustee = record["decryption"]["shares"][0]
    trustee["trustee"] = 7
    for share in trustee["shares"]:
        share["index"] = 7


def shares_for_another_tally(record: Doc, bundle: Doc) -> None:
    record["decryption"]["shares"][0]["tally_hash"] = b64url(bytes(32))


def same_trustee_twice(record: Doc, bundle: Doc) -> None:
    shares = record["decryption"]["shares"]
    shares[1] = copy.deepcopy(shares[0])


def fewer_than_t_shares(record: Doc, bundle: Doc) -> None:
    del record["decryption"]["shares"][1]


def change_result(record: Doc, bundle: Doc) -> None:
    counts = record["decryption"]["results"][0]["counts"]
    counts[0], counts[-1] = counts[-1] + 1, max(counts[0] - 1, 0)


def change_plaintext(record: Doc, bundle: Doc) -> None:
    plaintexts = record["decryption"]["plaintexts"]
    plaintexts[0] = hex_int(parse_hex_int(plaintexts[0], "p") + 1)


def alter_manifest(record: Doc, bundle: Doc) -> None:
    record["manifest"]["payload"]["districts"][0]["contests"][0]["candidates"][0]["name"] = "X"


def alter_key(record: Doc, bundle: Doc) -> None:
    key = record["manifest"]["payload"]["public_key"]
    key["v"] = hex_int(parse_hex_int(key["v"], "v") * 4 % (_n(record) ** 2))


def alter_verification_key(record: Doc, bundle: Doc) -> None:
    key = record["manifest"]["payload"]["public_key"]
    vk = key["verification_keys"]
    vk[0] = hex_int(parse_hex_int(vk[0], "vk") * 4 % (_n(record) ** 2))


def alter_log_head(record: Doc, bundle: Doc) -> None:
    record["log"]["head"]["payload"]["size"] += 1


def alter_leaf(record: Doc, bundle: Doc) -> None:
    record["log"]["leaves"][2] = b64url(bytes(32))


def drop_leaf(record: Doc, bundle: Doc) -> None:
    del record["log"]["leaves"][-1]


def report_does_not_add_up(record: Doc, bundle: Doc) -> None:
    record["report"]["districts"]["north"]["superseded"] += 1
    record["report"]["total"]["superseded"] += 1


def hide_an_invalid_ballot(record: Doc, bundle: Doc) -> None:
    del record["report"]["invalid_ballots"][0]


def reorder_results(record: Doc, bundle: Doc) -> None:
    record["decryption"]["results"].reverse()


def reorder_invalid_ballots(record: Doc, bundle: Doc) -> None:
    record["report"]["invalid_ballots"].reverse()


def rename_an_input(record: Doc, bundle: Doc) -> None:
    """Another ballot box named: the trustees decrypted a tally naming the genuine one."""
    record["inputs"]["ballot_box"] = b64url(b"\x00" * 32)


Mutation = Callable[[Doc, Doc], None]
CASES: list[tuple[str, Mutation, str, str]] = [
    ("altered ballot", alter_ballot, "ballot-proofs", "a validity proof does not verify"),
    ("altered ballot changes the product", alter_ballot, "totals-products", "not the product"),
    ("altered proof", alter_proof, "ballot-proofs", "a validity proof does not verify"),
    ("duplicated ballot", duplicate_ballot, "duplicates", "duplicates ballot 0"),
    ("removed ballot", remove_ballot, "bundle", "the observers' bundle holds"),
    ("removed ballot changes the product", remove_ballot, "totals-products", "not the product"),
    ("added ballot", add_ballot_and_count_it, "ballot-proofs", "ballot"),
    ("added ballot changes the product", add_ballot_and_count_it, "totals-products", "product"),
    ("non-unit ballot ciphertext", non_unit_ballot_ciphertext, "ballots", "not a unit"),
    ("wrong total", wrong_total, "totals-products", "is not the product"),
    ("wrong total breaks its shares", wrong_total, "shares", "trustee 1: share of"),
    ("non-unit total", non_unit_total, "totals", "not a unit"),
    ("forged share", forge_share, "shares", "trustee 1: share of"),
    ("altered share proof", alter_share_proof, "shares", "trustee 3: share of"),
    ("trustee outside the key", share_from_outside_the_key, "shares", "trustee 7: not a trustee"),
    ("shares of another tally", shares_for_another_tally, "shares", "for another tally"),
    ("same trustee twice", same_trustee_twice, "shares", "shares given twice"),
    ("fewer than t shares", fewer_than_t_shares, "threshold", "the key needs 2"),
    ("changed result", change_result, "results", "the plaintexts decode to"),
    ("changed plaintext", change_plaintext, "plaintexts", "is not what the trustees' shares"),
    ("altered manifest", alter_manifest, "manifest", "manifest signature"),
    ("altered key", alter_key, "manifest", "manifest signature"),
    ("altered verification key", alter_verification_key, "manifest", "manifest signature"),
    ("altered verification key: shares", alter_verification_key, "shares", "trustee 1: share"),
    ("altered log head", alter_log_head, "log-head", "log head signature"),
    ("altered leaf hash", alter_leaf, "log-leaves", "rebuild root"),
    ("dropped leaf hash", drop_leaf, "log-leaves", "leaf hashes but the signed log head has"),
    ("report does not add up", report_does_not_add_up, "report", "district north: received"),
    ("invalid ballot hidden", hide_an_invalid_ballot, "report", "listed with a reason"),
    ("results out of order", reorder_results, "results", "not in the manifest's order"),
    ("invalid ballots out of order", reorder_invalid_ballots, "report", "not listed in log"),
    ("another ballot box named", rename_an_input, "shares", "for another tally"),
]


@pytest.fixture(scope="module")
def originals(finished: Finished) -> tuple[Doc, Doc]:
    return finished.record_doc(), finished.bundle_doc()


def test_the_untouched_record_verifies(originals: tuple[Doc, Doc]) -> None:
    verdict = verify_record(*copy.deepcopy(originals), workers=1, allow_test_key=True)
    assert not verdict.failed


@pytest.mark.parametrize(
    ("mutate", "check_id", "message"),
    [pytest.param(m, c, s, id=name) for name, m, c, s in CASES],
)
def test_tampering_is_detected_and_named(
    originals: tuple[Doc, Doc], mutate: Mutation, check_id: str, message: str
) -> None:
    record, bundle = copy.deepcopy(originals)
    mutate(record, bundle)
    verdict = verify_record(record, bundle, workers=1, allow_test_key=True)
    check = verdict.check(check_id)
    assert check.status == "fail", (check, [c.id for c in verdict.failed])
    assert any(message in problem for problem in check.problems), check.problems
    assert not verdict.ok


def test_kinds_of_tampering_are_at_least_fifteen() -> None:
    assert len({mutation for _, mutation, _, _ in CASES}) >= 15


def test_an_unhashed_bundle_change_is_caught_by_the_hash(originals: tuple[Doc, Doc]) -> None:
    record, bundle = copy.deepcopy(originals)
    bundle["ballots"].reverse()  # the same ballots in another order: everything else agrees
    verdict = verify_record(record, bundle, workers=1, allow_test_key=True)
    assert [c.id for c in verdict.failed] == ["bundle"]
    assert "is not the one the record names" in verdict.check("bundle").problems[0]


def test_a_manifest_re_signed_by_someone_else_fails_the_pin(
    finished: Finished, originals: tuple[Doc, Doc]
) -> None:
    record, bundle = copy.deepcopy(originals)
    impostor = make_official(make_root_ca("impostor root"), "organiser")
    payload = record["manifest"]["payload"]
    record["manifest"] = sign_object(impostor, DOMAINS["manifest"], payload)
    verdict = verify_record(
        record,
        bundle,
        workers=1,
        organiser_certificate=_organiser_certificate(finished),
        allow_test_key=True,
    )
    assert verdict.check("manifest").status == "pass"  # a valid signature...
    anchor = verdict.check("manifest-anchor")
    assert anchor.status == "fail"  # ...by the wrong signer
    assert "not signed by the pinned organiser certificate" in anchor.problems[0]


def _organiser_certificate(finished: Finished) -> Any:
    from cryptography import x509

    from formats.manifest import ElectionDirectory

    path = ElectionDirectory(finished.election.directory).organiser_certificate
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_a_malformed_record_is_a_failed_check_not_a_crash(originals: tuple[Doc, Doc]) -> None:
    record, bundle = copy.deepcopy(originals)
    record["totals"][0]["ciphertext"] = "0xZZ"
    verdict = verify_record(record, bundle, workers=1, allow_test_key=True)
    assert verdict.check("record").status == "fail"
    assert "totals[0].ciphertext" in verdict.check("record").problems[0]
    assert all(c.status == "not made" for c in verdict.checks[1:])


def test_verify_cli_exits_non_zero_and_names_the_problem(
    finished: Finished, originals: tuple[Doc, Doc], tmp_path: Any
) -> None:
    from tally_helpers import run

    record, bundle = copy.deepcopy(originals)
    change_result(record, bundle)
    (tmp_path / "record.json").write_text(json.dumps(record))
    (tmp_path / "observers-bundle.json").write_text(json.dumps(bundle))
    result = run("verify", "--allow-test-key", str(tmp_path), "--json", "--workers", "1")
    assert result.exit_code == 1
    verdict = json.loads(result.output.strip().splitlines()[-1])
    failed = [c for c in verdict["checks"] if c["status"] == "fail"]
    assert [c["id"] for c in failed] == ["results"]


def test_the_process_pool_names_the_same_bad_ballot(
    originals: tuple[Doc, Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    import verifier.record

    monkeypatch.setattr(verifier.record, "BALLOTS_PER_TASK", 2)
    record, bundle = copy.deepcopy(originals)
    contest = next(iter(bundle["ballots"][5]["contests"].values()))
    responses = contest["proofs"][0]["responses"]
    responses[0] = hex_int(parse_hex_int(responses[0], "z") + 2)
    _rehash(record, bundle)
    verdict = verify_record(record, bundle, workers=2, allow_test_key=True)
    check = verdict.check("ballot-proofs")
    assert check.status == "fail"
    assert check.problems == ["ballot 5: a validity proof does not verify"]
    assert "2 workers" in check.detail
