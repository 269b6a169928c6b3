"""Tampering with a choose-several contest in a real record (the council election: mark up to
3 of the ward's candidates, or none) is caught by `ivote verify --json`, by the check that names
it: a mark proof or the count proof changed, marks swapped with their proofs, a mark taken from
another ballot, an encrypted total or a result changed. Each test changes a copy of the record
folder (record.json and its observers' bundle, the bundle's hash updated as a dishonest
tallier would). Also: the auditors' checks pass on the untouched council record and catch a
changed council total (the box's products packed as the totals are), and results-report's
bounds accept exactly the counts valid ballots can make (hypothesis)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from council_record import CouncilRecord
from hypothesis import given, settings
from hypothesis import strategies as st

from canonical.encoding import b64url, hex_int, object_hash, parse_hex_int
from crypto.encoding import ContestEncoding
from ivote.cli import main
from verifier.record import _marks_problem

Doc = dict[str, Any]
Mutation = Callable[[Doc, Doc], None]
PROOF_FAILS = "a validity proof does not verify"


def _n(record: Doc) -> int:
    return parse_hex_int(record["manifest"]["payload"]["public_key"]["n"], "n")


def _rehash(record: Doc, bundle: Doc) -> None:
    record["observers_bundle"]["hash"] = b64url(object_hash(bundle))
    record["observers_bundle"]["ballots"] = len(bundle["ballots"])


def verify_copy(
    council: CouncilRecord, tmp_path: Path, mutate: Mutation, *options: str
) -> tuple[int, Doc]:
    """`ivote verify --json` on a copy of the record folder after `mutate(record, bundle)`."""
    folder = tmp_path / "record"
    shutil.copytree(council.record, folder)
    record = json.loads((folder / "record.json").read_text())
    bundle = json.loads((folder / "observers-bundle.json").read_text())
    mutate(record, bundle)
    (folder / "record.json").write_text(json.dumps(record))
    (folder / "observers-bundle.json").write_text(json.dumps(bundle))
    result = CliRunner().invoke(
        main, ["verify", "--allow-test-key", str(folder), "--json", "--workers", "1", *options]
    )
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


def check(verdict: Doc, check_id: str) -> Doc:
    found: Doc = next(c for c in verdict["checks"] if c["id"] == check_id)
    return found


def failed(verdict: Doc) -> set[str]:
    return {c["id"] for c in verdict["checks"] if c["status"] == "fail"}


def council_ballots(bundle: Doc, district: str = "ward-1") -> list[int]:
    return [i for i, b in enumerate(bundle["ballots"]) if b["district"] == district]


def council(bundle: Doc, index: int) -> Doc:
    contest: Doc = bundle["ballots"][index]["contests"]["council"]
    return contest


def bump(proof: Doc) -> None:
    proof["responses"][0] = hex_int(parse_hex_int(proof["responses"][0], "z") + 2)


def test_the_untouched_copy_verifies(council_record: CouncilRecord, tmp_path: Path) -> None:
    code, verdict = verify_copy(council_record, tmp_path, lambda record, bundle: None)
    assert code == 0 and not failed(verdict) and verdict["verified_results"] is True


@pytest.mark.parametrize("mark", [0, 2, 5])  # a candidate's marks, and the blank box (5)
def test_a_changed_mark_proof_names_the_ballot(
    council_record: CouncilRecord, tmp_path: Path, mark: int
) -> None:
    def mutate(record: Doc, bundle: Doc) -> None:
        bump(council(bundle, council_ballots(bundle)[1])["proofs"][mark])
        _rehash(record, bundle)

    code, verdict = verify_copy(council_record, tmp_path, mutate)
    target = council_ballots(json.loads((council_record.record / "observers-bundle.json")
                                        .read_text()))[1]  # fmt: skip
    assert code == 1
    assert check(verdict, "ballot-proofs")["problems"] == [f"ballot {target}: {PROOF_FAILS}"]
    # the ciphertexts are untouched: their products are still the totals
    assert check(verdict, "totals-products")["status"] == "pass"
    assert verdict["verified_results"] is False


def test_a_changed_mark_ciphertext_fails_its_proof_and_the_product(
    council_record: CouncilRecord, tmp_path: Path
) -> None:
    def mutate(record: Doc, bundle: Doc) -> None:
        contest = council(bundle, 0)
        n = _n(record)  # one more mark: m + 1, still a unit
        contest["ciphertexts"][1] = hex_int(
            parse_hex_int(contest["ciphertexts"][1], "c") * (1 + n) % (n * n)
        )
        _rehash(record, bundle)

    code, verdict = verify_copy(council_record, tmp_path, mutate)
    assert code == 1
    assert check(verdict, "ballot-proofs")["problems"] == [f"ballot 0: {PROOF_FAILS}"]
    district = json.loads((council_record.record / "observers-bundle.json").read_text())[
        "ballots"
    ][0]["district"]
    problems = check(verdict, "totals-products")["problems"]
    assert any(f"{district}/council/0 is not the product" in p for p in problems), problems


def test_a_changed_count_proof_names_the_ballot(
    council_record: CouncilRecord, tmp_path: Path
) -> None:
    def mutate(record: Doc, bundle: Doc) -> None:
        bump(council(bundle, 1)["sum_proof"])
        _rehash(record, bundle)

    code, verdict = verify_copy(council_record, tmp_path, mutate)
    assert code == 1
    assert check(verdict, "ballot-proofs")["problems"] == [f"ballot 1: {PROOF_FAILS}"]
    assert check(verdict, "totals-products")["status"] == "pass"


def test_two_marks_swapped_with_their_proofs(
    council_record: CouncilRecord, tmp_path: Path
) -> None:
    """Moving a mark from one candidate to another, proofs and all: each mark proof is bound
    to its position, and the count proof to the order of every ciphertext."""

    def mutate(record: Doc, bundle: Doc) -> None:
        contest = council(bundle, 2)
        for key in ("ciphertexts", "proofs"):
            contest[key][0], contest[key][1] = contest[key][1], contest[key][0]
        _rehash(record, bundle)

    code, verdict = verify_copy(council_record, tmp_path, mutate)
    assert code == 1
    assert check(verdict, "ballot-proofs")["problems"] == [f"ballot 2: {PROOF_FAILS}"]


def test_a_mark_taken_from_another_ballot(council_record: CouncilRecord, tmp_path: Path) -> None:
    """Ballot A's mark for a candidate replaced by ballot B's (same ward, same position, with
    its own valid mark proof): the mark proof alone would pass, but A's count proof names all
    of A's ciphertexts, so A is named; and the ciphertext now appears twice."""
    original = json.loads((council_record.record / "observers-bundle.json").read_text())
    first, second = council_ballots(original)[:2]

    def mutate(record: Doc, bundle: Doc) -> None:
        target, source = council(bundle, first), council(bundle, second)
        target["ciphertexts"][3] = source["ciphertexts"][3]
        target["proofs"][3] = source["proofs"][3]
        _rehash(record, bundle)

    code, verdict = verify_copy(council_record, tmp_path, mutate)
    assert code == 1
    assert check(verdict, "ballot-proofs")["problems"] == [f"ballot {first}: {PROOF_FAILS}"]
    duplicates = check(verdict, "duplicates")
    assert duplicates["status"] == "fail"
    assert any(f"ballot {second} contest council part 3" in p for p in duplicates["problems"])


def _change_council_total(record: Doc, bundle: Doc) -> None:
    n = _n(record)
    total = next(
        t for t in record["totals"] if (t["district"], t["contest"]) == ("ward-2", "council")
    )
    total["ciphertext"] = hex_int(parse_hex_int(total["ciphertext"], "c") * (1 + n) % (n * n))


def test_a_changed_council_total(council_record: CouncilRecord, tmp_path: Path) -> None:
    code, verdict = verify_copy(council_record, tmp_path, _change_council_total)
    assert code == 1
    problems = check(verdict, "totals-products")["problems"]
    assert problems == [
        "encrypted total ward-2/council/0 is not the product of the counted ballots' "
        "ciphertexts"
    ]
    assert "shares" in failed(verdict)  # the shares bind to the tally's totals
    assert check(verdict, "ballot-proofs")["status"] == "pass"


def test_the_auditors_checks_pass_and_catch_a_changed_council_total(
    council_record: CouncilRecord, tmp_path: Path
) -> None:
    audit = (
        "--ballot-box", str(council_record.box),
        "--paper-voters", str(council_record.root / "paper-voters.signed.json"),
    )  # fmt: skip
    code, verdict = verify_copy(council_record, tmp_path / "a", lambda r, b: None, *audit)
    assert code == 0 and not failed(verdict)
    for check_id in ("ballot-box", "paper-voters", "cleansing", "counted-totals",
                     "counted-ballots"):  # fmt: skip
        assert check(verdict, check_id)["status"] == "pass", check(verdict, check_id)
    assert verdict["verdict"].startswith(
        "Verified: the results are the decryption of the counted ballots of the "
        "collector-signed ballot box"
    )
    code, verdict = verify_copy(council_record, tmp_path / "b", _change_council_total, *audit)
    assert code == 1
    assert check(verdict, "counted-totals")["problems"] == [
        "encrypted total ward-2/council/0 is not the product of the box's counted ballots"
    ]


@pytest.mark.parametrize("position", [0, 3, -1])  # a candidate's count, and the blank count
def test_a_changed_council_result(
    council_record: CouncilRecord, tmp_path: Path, position: int
) -> None:
    def mutate(record: Doc, bundle: Doc) -> None:
        result = next(
            r for r in record["decryption"]["results"]
            if (r["district"], r["contest"]) == ("ward-1", "council")
        )  # fmt: skip
        result["counts"][position] += 1

    code, verdict = verify_copy(council_record, tmp_path, mutate)
    assert code == 1
    expected = council_record.expected("ward-1", "council")
    changed = list(expected)
    changed[position] += 1
    assert check(verdict, "results")["problems"] == [
        f"results for ward-1/council are {changed}, the plaintexts decode to {expected}"
    ]
    assert verdict["results"] is None


# results-report's bounds, against the ballots that could have made the counts

@st.composite
def contests(draw: st.DrawFn) -> ContestEncoding:
    candidates = draw(st.integers(1, 5))
    low = draw(st.integers(0, candidates))
    high = draw(st.integers(max(low, 1), candidates))
    if (low, high) == (1, 1):
        high = 2 if candidates > 1 else 1
        low = 0 if high == 1 else low
    return ContestEncoding(candidates, 8, 4, low, high)


def markings(enc: ContestEncoding) -> list[frozenset[int]]:
    """Every valid marking of the contest: between min and max candidates, or none."""
    sizes = range(max(enc.min_marks, 1), enc.max_marks + 1)
    found = [frozenset(c) for size in sizes for c in combinations(range(enc.candidates), size)]
    return [frozenset(), *found] if enc.blank_allowed else found


def counts_of(enc: ContestEncoding, ballots: list[frozenset[int]]) -> list[int]:
    counts = [sum(j in marked for marked in ballots) for j in range(enc.candidates)]
    return counts + ([sum(not marked for marked in ballots)] if enc.blank_allowed else [])


def achievable(enc: ContestEncoding, counts: list[int], counted: int) -> bool:
    """Whether some `counted` valid ballots give these counts: by search (small sizes)."""
    options = markings(enc)
    target = tuple(counts)
    steps = [counts_of(enc, [marking]) for marking in options]
    reachable = {tuple([0] * len(counts))}
    for _ in range(counted):
        following = set()
        for state in reachable:
            for step in steps:
                added = tuple(x + y for x, y in zip(state, step, strict=True))
                if all(a <= t for a, t in zip(added, target, strict=True)):
                    following.add(added)
        reachable = following
    return target in reachable


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_counts_valid_ballots_make_pass(data: st.DataObject) -> None:
    enc = data.draw(contests())
    ballots = data.draw(st.lists(st.sampled_from(markings(enc)), max_size=6))
    assert _marks_problem(enc, counts_of(enc, ballots), len(ballots)) is None


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_bounds_pass_exactly_the_counts_valid_ballots_make(data: st.DataObject) -> None:
    enc = data.draw(contests())
    counted = data.draw(st.integers(0, 4))
    size = enc.candidates + enc.blank_allowed
    counts = data.draw(st.lists(st.integers(0, 5), min_size=size, max_size=size))
    problem = _marks_problem(enc, counts, counted)
    assert (problem is None) == achievable(enc, counts, counted), (enc, counts, counted, problem)
