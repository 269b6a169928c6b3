"""Helpers of the tallier tests: the scenario of a real small election, run once per session
(conftest.py) through the real commands: `ivote tally process`, `ivote ceremony decrypt`
(trustees 1 and 3), `ivote tally combine`. It exercises every way a ballot can fail to count."""

from __future__ import annotations

import copy
import datetime as dt
import json
import secrets
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from support.election import trustee_passphrase
from tally_election import DISTRICTS, TallyElection, make_election, write_box

from canonical.encoding import DOMAINS, b64url
from ceremonies.pki import make_eid
from formats.manifest import ElectionDirectory
from formats.signed import sign_object
from formats.voters import Voter
from ivote.cli import main


@dataclass
class Finished:
    election: TallyElection
    root: Path
    box: Path
    tally: Path
    shares: dict[int, Path]
    record: Path
    expected: dict[tuple[str, str], list[int]]  # (district, contest) -> counts
    expected_reasons: Counter[str]
    paper: list[str]
    counted_voters: list[str]

    @property
    def paper_list(self) -> Path:
        """The organiser-signed paper-voter list the tally used."""
        return self.root / "paper-voters.signed.json"

    def record_doc(self) -> dict[str, Any]:
        return json.loads((self.record / "record.json").read_text())

    def bundle_doc(self) -> dict[str, Any]:
        return json.loads((self.record / "observers-bundle.json").read_text())


def run(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def scenario(election: TallyElection) -> tuple[dict[str, dict[str, int]], Counter[str], list[str]]:
    """Cast the ballots; returns (each counted voter's choices, invalid reasons, paper list)."""
    e = election
    final: dict[str, dict[str, int]] = {}
    reasons: Counter[str] = Counter()
    # north: a revote, a paper voter, a revoked e-ID, a ballot for the wrong district,
    # someone not on the list
    e.cast("38001010001", {"council": 101}, 10)
    e.cast("38001010002", {"council": 102}, 11)  # cancelled by the paper vote below
    e.cast("38001010001", {"council": 103}, 12)  # supersedes the first
    final["38001010001"] = {"council": 103}
    e.cast("38001010003", {"council": 101}, 13)
    final["38001010003"] = {"council": 101}
    e.cast("38001010003", {"council": 201, "mayor": 211}, 14, district="south")
    reasons["wrong-district"] += 1  # the voter's earlier ballot still counts
    e.revoke("38001010004", e.moment(5))
    e.cast("38001010004", {"council": 102}, 15)
    reasons["certificate-revoked"] += 1
    stranger = Voter("39901010099", "Stranger", "Person", "north")
    stranger_eid = make_eid(e.issuing, stranger, not_before=e.start - dt.timedelta(days=1))
    e.cast("38001010004", {"council": 101}, 16, signer=stranger_eid)
    reasons["not-eligible"] += 1
    # south: revoked only after casting (counts), a revote with a broken proof (falls back)
    e.cast("48001010005", {"council": 201, "mayor": 213}, 20)
    final["48001010005"] = {"council": 201, "mayor": 213}
    e.cast("48001010007", {"council": 202, "mayor": 212}, 21)
    final["48001010007"] = {"council": 202, "mayor": 212}
    e.revoke("48001010007", e.moment(60))
    e.cast("48001010006", {"council": 202, "mayor": 211}, 22)
    final["48001010006"] = {"council": 202, "mayor": 211}
    broken = e.cast("48001010006", {"council": 201, "mayor": 212}, 23)
    payload = copy.deepcopy(broken.signed["payload"])
    proof = payload["contests"]["mayor"]["proofs"][0]
    proof["responses"][0], proof["responses"][1] = proof["responses"][1], proof["responses"][0]
    broken.signed = sign_object(e.eids["48001010006"], DOMAINS["ballot"], payload)
    reasons["proof"] += 1
    # east: a contest in two ciphertexts, a copied ballot, a forged signature, a late ballot
    original = e.cast("38001010008", {"council": 330}, 30)
    final["38001010008"] = {"council": 330}
    e.cast("38001010009", {"council": 301}, 31)
    final["38001010009"] = {"council": 301}
    copied = copy.deepcopy(original.signed["payload"])
    copied["challenge"] = b64url(secrets.token_bytes(32))  # a copier asks for a challenge
    e.append_raw(sign_object(e.eids["38001010009"], DOMAINS["ballot"], copied), 32)
    reasons["copied-ciphertext"] += 1
    # the voter's first (superseded) ballot replayed into the log after their revote: it must
    # not undo the revote
    e.append_raw(copy.deepcopy(e.casts[0].signed), 32.5, voter="38001010001")
    reasons["replayed"] += 1
    forged = e.cast("38001010009", {"council": 302}, 33)
    forged.signed = copy.deepcopy(forged.signed)
    forged.signed["payload"]["district"] = "east"  # unchanged value, but re-sign another body
    forged.signed["payload"]["contests"] = copy.deepcopy(copied["contests"])
    reasons["signature"] += 1
    e.cast("38001010009", {"council": 303}, 60 * 24 * 8)  # after the period ended
    reasons["outside-voting-period"] += 1
    paper = ["38001010002"]
    return final, reasons, paper


def tally_and_combine(
    election: TallyElection, root: Path, box: Path, paper_list: Path, trustees: tuple[int, ...]
) -> tuple[Path, dict[int, Path], Path, str]:
    """`ivote tally process`, one `ivote ceremony decrypt` session of `trustees` and `ivote
    tally combine` on an election's box: returns (the tally, each trustee's shares, the
    record, what combine printed)."""
    tally = root / "tally"
    result = run(
        "tally", "process", "--election", str(election.directory), "--ballot-box", str(box),
        "--paper-voters", str(paper_list), "--out", str(tally),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # one decryption session for the trustees: one verification, a shares file each
    shares = {}
    session: list[str] = []
    for trustee in trustees:
        passphrase = root / f"trustee-{trustee}.pass"
        passphrase.write_text(trustee_passphrase(trustee) + "\n")
        shares[trustee] = root / "shares" / f"shares-{trustee}.json"
        session += [
            "--share", str(ElectionDirectory(election.directory).share(trustee)),
            "--passphrase-file", str(passphrase),
        ]  # fmt: skip
    result = run(
        "ceremony", "decrypt", "--allow-test-key", "--tally", str(tally), "--ballot-box", str(box),
        "--paper-voters", str(paper_list),
        "--organiser-cert", str(ElectionDirectory(election.directory).organiser_certificate),
        "--out-dir", str(root / "shares"), *session,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = root / "record"
    given = [arg for trustee in trustees for arg in ("--shares", str(shares[trustee]))]
    result = run("tally", "combine", "--tally", str(tally), *given, "--out", str(record))
    assert result.exit_code == 0, result.output
    return tally, shares, record, result.output


def build_finished(root: Path, safe_primes: dict) -> Finished:
    election = make_election(root, safe_primes)
    final, reasons, paper = scenario(election)
    box = write_box(election, root / "ballotbox.zip")
    paper_list = election.write_paper_voters(paper, root / "paper-voters.signed.json")
    tally, shares, record, _ = tally_and_combine(election, root, box, paper_list, (1, 3))
    expected: dict[tuple[str, str], list[int]] = {}
    for district, contests in DISTRICTS.items():
        for contest, numbers in contests.items():
            votes = Counter(
                choices[contest]
                for voter, choices in final.items()
                if election.voters[voter].district == district
            )
            expected[(district, contest)] = [votes.get(number, 0) for number in numbers]
    return Finished(
        election, root, box, tally, shares, record, expected, reasons, paper, sorted(final)
    )


def box_receipts(box: Path) -> list[dict[str, Any]]:
    """The signed receipts of a ballot box's entries, in log order."""
    import zipfile

    with zipfile.ZipFile(box) as archive:
        lines = archive.read("entries.jsonl").splitlines()
    return [json.loads(line)["receipt"] for line in lines]


def write_receipts(box: Path, directory: Path) -> list[Path]:
    """The box's receipts as voters would hand them to observers: one file each."""
    from canonical.files import write_canonical_json

    paths = []
    for index, receipt in enumerate(box_receipts(box)):
        paths.append(directory / f"receipt-{index:03d}.json")
        write_canonical_json(paths[-1], receipt)
    return paths
