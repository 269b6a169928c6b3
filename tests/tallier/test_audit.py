"""Counted as recorded: the auditors' verification and the trustees' check before decrypting.

Each attack rewrites the tally as a dishonest tallier (or whoever carries the media) would,
consistently: the observers' bundle, its hash in the tally and the encrypted totals agree, so
the observers' checks pass. Only the auditors' checks, which re-do the cleansing from the
collector-signed ballot box and the organiser-signed paper-voter list, can catch it; the
decryption ceremony runs them and refuses.
"""

from __future__ import annotations

import copy
import json
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tally_helpers import Finished, run
from test_ceremony import _decrypt

from canonical.encoding import b64url, hex_int, object_hash, parse_hex_int
from canonical.files import write_canonical_json
from ceremonies.pki import make_official, make_root_ca
from formats.ballot import build_ballot
from formats.manifest import ElectionDirectory
from formats.paper import sign_paper_voters
from formats.record import BUNDLE_FILE, TALLY_FILE
from verifier.audit import AuditMaterial
from verifier.record import verify_record

Doc = dict[str, Any]
AUDIT = ("crls", "ballot-box", "paper-voters", "cleansing", "counted-totals", "counted-ballots")


def _anonymous(signed_ballot: Doc) -> Doc:
    payload = signed_ballot["payload"]
    return {"district": payload["district"], "contests": copy.deepcopy(payload["contests"])}


def _padding(finished: Finished, district: str, choices: dict[str, int]) -> Doc:
    """A valid ballot of known content, made without any e-ID (anyone can)."""
    payload, _ = build_ballot(
        finished.election.manifest, district, choices, secrets.token_bytes(32)
    )
    return {"district": district, "contests": payload["contests"]}


def _cast_of(finished: Finished, voter: str, nth: int = 0) -> Doc:
    return [c.signed for c in finished.election.casts if c.voter == voter][nth]


def _rebuild(finished: Finished, tally: Doc, ballots: list[Doc]) -> tuple[Doc, Doc]:
    """The tally with `ballots` as its bundle: totals recomputed as their products and the
    bundle's hash and size updated, so that every observers' check passes."""
    bundle = json.loads((finished.tally / BUNDLE_FILE).read_text())
    bundle["ballots"] = ballots
    n = parse_hex_int(tally["manifest"]["payload"]["public_key"]["n"], "n")
    for total in tally["totals"]:
        product = 1
        for ballot in ballots:
            if ballot["district"] == total["district"]:
                text = ballot["contests"][total["contest"]]["ciphertexts"][total["part"]]
                product = product * parse_hex_int(text, "c") % (n * n)
        total["ciphertext"] = hex_int(product)
    tally["observers_bundle"] = {"hash": b64url(object_hash(bundle)), "ballots": len(ballots)}
    return tally, bundle


def _originals(finished: Finished) -> tuple[Doc, list[Doc]]:
    tally = json.loads((finished.tally / TALLY_FILE).read_text())
    bundle = json.loads((finished.tally / BUNDLE_FILE).read_text())
    return tally, bundle["ballots"]


def _counts(tally: Doc, district: str) -> Doc:
    counts: Doc = tally["report"]["districts"][district]
    return counts


def _move(tally: Doc, district: str, source: str, target: str) -> None:
    """One ballot from one count to another, in the district and the total alike."""
    for counts in (_counts(tally, district), tally["report"]["total"]):
        counts[source] -= 1
        counts[target] += 1


def bundle_around_a_superseded_ballot(finished: Finished) -> tuple[Doc, Doc]:
    """The attack of issue 13: north's counted ballots replaced by one voter's earlier
    (superseded) ballot and a padding ballot of known content; counts unchanged. Decrypting
    north's total minus the padding reveals that ballot."""
    tally, ballots = _originals(finished)
    others = [b for b in ballots if b["district"] != "north"]
    target = _anonymous(_cast_of(finished, "38001010001", 0))
    north = [target, _padding(finished, "north", {"council": 101})]
    return _rebuild(finished, tally, others + north)


def superseded_ballot_counted(finished: Finished) -> tuple[Doc, Doc]:
    tally, ballots = _originals(finished)
    latest = _anonymous(_cast_of(finished, "38001010001", 1))
    earlier = _anonymous(_cast_of(finished, "38001010001", 0))
    swapped = [earlier if b == latest else b for b in ballots]
    assert swapped != ballots
    return _rebuild(finished, tally, swapped)


def counted_ballot_listed_invalid(finished: Finished) -> tuple[Doc, Doc]:
    """A valid, counted ballot moved to the invalid list (and out of the bundle)."""
    tally, ballots = _originals(finished)
    moved = _anonymous(_cast_of(finished, "38001010003", 0))
    index = next(i for i, c in enumerate(finished.election.casts) if c.voter == "38001010003")
    _move(tally, "north", "counted", "invalid")
    tally["report"]["invalid_ballots"].append(
        {"log_index": index, "district": "north", "reason": "proof", "detail": "forged"}
    )
    tally["report"]["invalid_ballots"].sort(key=lambda b: b["log_index"])
    return _rebuild(finished, tally, [b for b in ballots if b != moved])


def invalid_ballot_counted(finished: Finished) -> tuple[Doc, Doc]:
    """A ballot the cleansing refuses (cast for another district) taken off the invalid list
    and counted: a valid-looking ballot of the district is added to the bundle in its place
    (the refused ballot's own contests are another district's)."""
    tally, ballots = _originals(finished)
    invalid = tally["report"]["invalid_ballots"]
    dropped = next(b for b in invalid if b["reason"] == "wrong-district")
    invalid.remove(dropped)
    _move(tally, dropped["district"], "invalid", "counted")
    extra = _padding(finished, dropped["district"], {"council": 201, "mayor": 211})
    return _rebuild(finished, tally, [*ballots, extra])


def paper_cancellation_not_on_the_list(finished: Finished) -> tuple[Doc, Doc]:
    tally, ballots = _originals(finished)
    cancelled = _anonymous(_cast_of(finished, "38001010003", 0))
    _move(tally, "north", "counted", "cancelled_by_paper")
    return _rebuild(finished, tally, [b for b in ballots if b != cancelled])


ATTACKS: dict[str, tuple[Callable[[Finished], tuple[Doc, Doc]], tuple[str, ...]]] = {
    "bundle rebuilt around a superseded ballot": (
        bundle_around_a_superseded_ballot,
        ("counted-totals", "counted-ballots"),
    ),
    "a superseded ballot counted": (superseded_ballot_counted, ("counted-totals",)),
    "a counted ballot listed invalid": (counted_ballot_listed_invalid, ("cleansing",)),
    "an invalid ballot counted": (invalid_ballot_counted, ("cleansing", "counted-totals")),
    "a paper cancellation not on the signed list": (
        paper_cancellation_not_on_the_list,
        ("cleansing", "counted-totals"),
    ),
}


def _audit(finished: Finished, paper: Any | None = None) -> AuditMaterial:
    document = json.loads(finished.paper_list.read_text()) if paper is None else paper
    crls = [p.read_bytes() for p in sorted((finished.tally / "crls").glob("*.crl"))]
    return AuditMaterial(finished.box, document, crls)


def test_the_genuine_tally_passes_every_audit_check(finished: Finished) -> None:
    verdict = verify_record(
        json.loads((finished.tally / TALLY_FILE).read_text()),
        json.loads((finished.tally / BUNDLE_FILE).read_text()),
        workers=1,
        audit=_audit(finished),
        allow_test_key=True,
    )
    statuses = {c.id: c.status for c in verdict.checks}
    assert all(statuses[i] == "pass" for i in AUDIT), verdict.to_dict()
    assert "7 counted" in verdict.check("cleansing").detail


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_observers_miss_it_and_the_audit_names_it(finished: Finished, name: str) -> None:
    attack, expected = ATTACKS[name]
    tally, bundle = attack(finished)
    observed = verify_record(tally, bundle, workers=1, allow_test_key=True)
    assert not observed.failed, [c.to_dict() for c in observed.failed]  # why auditors exist
    audited = verify_record(tally, bundle, workers=1, audit=_audit(finished), allow_test_key=True)
    failed = {c.id for c in audited.failed}
    assert set(expected) <= failed, (name, [c.to_dict() for c in audited.failed])
    assert failed <= set(AUDIT), failed


def test_the_audit_names_what_differs(finished: Finished) -> None:
    tally, bundle = counted_ballot_listed_invalid(finished)
    verdict = verify_record(tally, bundle, workers=1, audit=_audit(finished), allow_test_key=True)
    problems = verdict.check("cleansing").problems
    index = next(i for i, c in enumerate(finished.election.casts) if c.voter == "38001010003")
    assert (
        f"log index {index}: the record lists it as invalid (proof), the cleansing finds it "
        "valid" in problems
    )
    assert "district north: counted is 1 in the record, 2 by the cleansing" in problems

    tally, bundle = bundle_around_a_superseded_ballot(finished)
    verdict = verify_record(tally, bundle, workers=1, audit=_audit(finished), allow_test_key=True)
    assert verdict.check("counted-totals").problems == [
        "encrypted total north/council/0 is not the product of the box's counted ballots"
    ]
    assert (
        verdict.check("counted-ballots")
        .problems[0]
        .startswith("2 ballots of the bundle are not counted ballots of the box")
    )


def test_the_trustees_refuse_a_bundle_rebuilt_around_one_ballot(
    finished: Finished, tmp_path: Path
) -> None:
    tally, bundle = bundle_around_a_superseded_ballot(finished)
    directory = tmp_path / "tally"
    shutil.copytree(finished.tally, directory)
    write_canonical_json(directory / TALLY_FILE, tally)
    write_canonical_json(directory / BUNDLE_FILE, bundle)
    # the observers' verifier alone is fooled
    assert run("verify", "--allow-test-key", str(directory)).exit_code == 0
    result = _decrypt(finished, 1, tmp_path / "shares.json", tally=directory)
    assert result.exit_code != 0
    assert "refusing to decrypt" in result.output
    assert "counted-totals: encrypted total north/council/0 is not the product" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "shares.json").exists()


def test_the_trustees_need_the_box_the_list_and_a_pin(finished: Finished, tmp_path: Path) -> None:
    share = str(ElectionDirectory(finished.election.directory).share(1))
    base = [
        "ceremony", "decrypt", "--allow-test-key", "--tally", str(finished.tally),
        "--share", share,
    ]  # fmt: skip
    missing_box = run(*base, "--paper-voters", str(finished.paper_list), "--out", "x")
    assert missing_box.exit_code != 0 and "--ballot-box" in missing_box.output
    no_pin = run(
        *base, "--ballot-box", str(finished.box), "--paper-voters", str(finished.paper_list),
        "--out", str(tmp_path / "s.json"),
    )  # fmt: skip
    assert no_pin.exit_code != 0 and "pin the manifest" in no_pin.output
    wrong_pin = run(
        *base, "--ballot-box", str(finished.box), "--paper-voters", str(finished.paper_list),
        "--fingerprint", "00" * 32, "--out", str(tmp_path / "s.json"),
    )  # fmt: skip
    assert wrong_pin.exit_code != 0 and "manifest-anchor" in wrong_pin.output
    assert not (tmp_path / "s.json").exists()


def test_a_session_decrypts_for_every_trustee_present(finished: Finished, tmp_path: Path) -> None:
    """One verification, then each trustee's share file with its own passphrase; a wrong
    passphrase spoils only that trustee's part."""
    from support.election import trustee_passphrase
    from test_ceremony import decrypt_args

    directory = ElectionDirectory(finished.election.directory)
    arguments = decrypt_args(finished)
    for trustee, passphrase in ((1, trustee_passphrase(1)), (2, "wrong"), (3, None)):
        secret = tmp_path / f"pass-{trustee}"
        secret.write_text((passphrase or trustee_passphrase(trustee)) + "\n")
        arguments += ["--share", str(directory.share(trustee)), "--passphrase-file", str(secret)]
    result = run(*arguments, "--out-dir", str(tmp_path / "shares"))
    assert result.exit_code != 0
    assert "1 of 3 share files could not be used" in result.output
    assert "wrong passphrase" in result.output
    written = sorted(p.name for p in (tmp_path / "shares").iterdir())
    assert written == ["shares-1.json", "shares-3.json"]
    combined = run(
        "tally", "combine", "--tally", str(finished.tally), "--out", str(tmp_path / "record"),
        "--shares", str(tmp_path / "shares" / "shares-1.json"),
        "--shares", str(tmp_path / "shares" / "shares-3.json"),
    )  # fmt: skip
    assert combined.exit_code == 0, combined.output


# --------------------------------------------------------------------- the paper-voter list


def _other_organiser() -> Any:
    return make_official(make_root_ca(), "organiser")


def test_the_tally_refuses_an_unsigned_or_foreign_paper_list(
    finished: Finished, tmp_path: Path
) -> None:
    election = finished.election
    voter_list = ElectionDirectory(election.directory).voter_lists(election.manifest)[-1]
    plain = tmp_path / "paper.txt"
    plain.write_text("38001010002\n")
    foreign = tmp_path / "foreign.json"
    write_canonical_json(
        foreign,
        sign_paper_voters(election.manifest, voter_list, ("38001010002",), _other_organiser()),
    )
    # signed by the organiser, but bypassing the ceremony's checks of the codes
    unknown = tmp_path / "unknown.json"
    write_canonical_json(
        unknown,
        sign_paper_voters(
            election.manifest, voter_list, ("38001010002", "99999999999"), election.organiser
        ),
    )
    for path, message in (
        (plain, "paper_voters"),
        (foreign, "paper_voters.signature.certificate"),
        (unknown, "paper_voters.payload.personal_codes: 99999999999 is not on the voter list"),
    ):
        result = run(
            "tally", "process", "--election", str(election.directory),
            "--ballot-box", str(finished.box), "--paper-voters", str(path),
            "--out", str(tmp_path / "tally"),
        )  # fmt: skip
        assert result.exit_code != 0, path
        assert message in result.output and "Traceback" not in result.output, result.output
        assert not (tmp_path / "tally").exists()


def test_the_audit_refuses_a_foreign_paper_list(finished: Finished) -> None:
    election = finished.election
    voter_list = ElectionDirectory(election.directory).voter_lists(election.manifest)[-1]
    foreign = sign_paper_voters(election.manifest, voter_list, (), _other_organiser())
    verdict = verify_record(
        json.loads((finished.tally / TALLY_FILE).read_text()),
        json.loads((finished.tally / BUNDLE_FILE).read_text()),
        workers=1,
        audit=_audit(finished, foreign),
        allow_test_key=True,
    )
    check = verdict.check("paper-voters")
    assert check.status == "fail" and "expected" in check.problems[0], check
    assert verdict.check("cleansing").status == "not made"


def test_a_genuine_but_other_paper_list_is_named(finished: Finished) -> None:
    """Signed by the organiser, but not the list the tally used: the hash names it."""
    election = finished.election
    voter_list = ElectionDirectory(election.directory).voter_lists(election.manifest)[-1]
    other = sign_paper_voters(election.manifest, voter_list, (), election.organiser)
    verdict = verify_record(
        json.loads((finished.tally / TALLY_FILE).read_text()),
        json.loads((finished.tally / BUNDLE_FILE).read_text()),
        workers=1,
        audit=_audit(finished, other),
        allow_test_key=True,
    )
    problems = verdict.check("paper-voters").problems
    assert any("hashes to" in p for p in problems)
    assert "the list has 0 voters, the record says 1" in problems
    # with nobody on the list, the paper voter's i-vote counts: the cleansing differs
    assert "district north: cancelled by paper is 1 in the record, 0 by the cleansing" in (
        verdict.check("cleansing").problems
    )


def test_paper_voters_ceremony_signs_and_lists_every_bad_code(
    finished: Finished, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    from crypto.eid import OFFICIAL_KEY_PURPOSES, seal_signer

    election = finished.election
    officials = tmp_path / "officials"
    officials.mkdir()
    sealed = seal_signer(
        election.organiser, "organiser passphrase", OFFICIAL_KEY_PURPOSES["organiser"], cost=16
    )
    (officials / "organiser.key").write_bytes(sealed)
    (officials / "organiser.pem").write_bytes(
        election.organiser.certificate.public_bytes(Encoding.PEM)
    )
    secret = tmp_path / "organiser.pass"
    secret.write_text("organiser passphrase\n")
    codes = tmp_path / "codes.txt"
    codes.write_text("# paper\n38001010002\nnot a code!\n38001010002\n99999999999\n")
    base = [
        "ceremony", "paper-voters", "--election", str(election.directory),
        "--organiser-key", str(officials), "--organiser-passphrase-file", str(secret),
    ]  # fmt: skip
    out = tmp_path / "paper.signed.json"
    refused = run(*base, "--list", str(codes), "--out", str(out))
    assert refused.exit_code != 0
    assert f"{codes}:3: personal_code: 'not a code!' is not a personal code" in refused.output
    assert f"{codes}:4: personal_code: 38001010002 listed twice (first on line 2)" in (
        refused.output
    )
    assert f"{codes}:5: personal_code: 99999999999 is not on the voter list" in refused.output
    assert not out.exists()
    codes.write_text("personal_code,note\n38001010002,station 4\n")
    signed = run(*base, "--list", str(codes), "--out", str(out))
    assert signed.exit_code == 0, signed.output
    assert "(voters who voted on paper: 1)" in signed.output
    document = json.loads(out.read_text())
    assert document["payload"]["personal_codes"] == ["38001010002"]
    assert document["payload"]["voter_list"]["list_version"] == 1


def test_a_trustee_at_the_prompt_may_type_the_passphrase_again(
    finished: Finished, tmp_path: Path
) -> None:
    from click.testing import CliRunner
    from support.election import trustee_passphrase
    from test_ceremony import decrypt_args

    from ivote.cli import main

    share = ElectionDirectory(finished.election.directory).share(2)
    out = tmp_path / "shares-2.json"
    result = CliRunner().invoke(
        main,
        [*decrypt_args(finished), "--share", str(share), "--out", str(out)],
        input=f"mistyped\n{trustee_passphrase(2)}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Wrong passphrase (or a modified file); please try again." in result.output
    assert json.loads(out.read_text())["trustee"] == 2


def test_verify_needs_both_audit_inputs(finished: Finished) -> None:
    result = run(
        "verify", "--allow-test-key", str(finished.record), "--ballot-box", str(finished.box)
    )
    assert result.exit_code == 2
    assert "needs both --ballot-box and --paper-voters" in result.output
