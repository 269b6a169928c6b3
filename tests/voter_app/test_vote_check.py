"""voter_app.check against a real collector, with answers rewritten on the way (FakeCollector):
several ballots under one prefix (the device keeps the one its seed opens), and collectors
that misstate which ballot is the voter's latest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_vote_cli import cast_args, check_code_of
from voter_helpers import CollectorProcess, FakeCollector, VoterElection, run_vote

from canonical.encoding import b64url, canonical_bytes
from voter_app.check import CheckResult, check_vote
from voter_app.code import CheckCode
from voter_app.transport import CollectorClient, CollectorMisbehaved
from voter_app.voting import fetch_election


def cast(collector: CollectorProcess, election: VoterElection, voter: str, pin_file: Path,
         data: Path, choice: str) -> CheckCode:  # fmt: skip
    result = run_vote(*cast_args(collector, election, voter, pin_file, data), "--choice", choice,
                      data_dir=data)  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    return CheckCode.parse(check_code_of(result.stdout))


def check_through(
    collector: CollectorProcess, election: VoterElection, code: CheckCode, tamper: Any
) -> CheckResult:
    def rewrite(method: str, path: str, status: int, body: bytes) -> tuple[int, bytes] | None:
        if not path.startswith("/v1/ballots/") or status != 200:
            return None
        answer = json.loads(body)
        tamper(answer)
        return 200, canonical_bytes(answer)

    with FakeCollector(collector.url, rewrite) as fake, CollectorClient(fake.url) as client:
        trusted = fetch_election(client, fingerprint=election.fingerprint, allow_test_key=True)
        return check_vote(client, trusted, code)


def test_the_device_keeps_the_ballot_its_seed_opens(
    collector: CollectorProcess,
    election: VoterElection,
    pin_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mine = cast(collector, election, "38001010002", pin_file, tmp_path, "101")
    theirs = cast(collector, election, "38001010003", pin_file, tmp_path, "103")
    [other] = httpx.get(f"{collector.url}/v1/ballots/{b64url(theirs.ballot_prefix)}").json()[
        "ballots"
    ]

    def first_another(answer: dict[str, Any]) -> None:
        answer["ballots"].insert(0, other)

    # as if the other voter's ballot hash began with the same 7 bytes as mine
    monkeypatch.setattr(CheckCode, "matches", lambda self, digest: True)
    result = check_through(collector, election, mine, first_another)
    assert result.choices == {"council": 101}
    assert result.voter.personal_code == "38001010002" and result.is_latest
    monkeypatch.undo()
    # a ballot whose hash does not begin with the prefix is the collector misbehaving
    with pytest.raises(CollectorMisbehaved, match="does not begin with the prefix"):
        check_through(collector, election, mine, first_another)


def test_a_collector_must_show_the_newer_ballot(
    collector: CollectorProcess, election: VoterElection, pin_file: Path, tmp_path: Path
) -> None:
    first = cast(collector, election, "38001010001", pin_file, tmp_path, "102")
    cast(collector, election, "38001010001", pin_file, tmp_path, "103")

    def hide_newer(answer: dict[str, Any]) -> None:
        answer["ballots"][0]["newer"] = None

    with pytest.raises(CollectorMisbehaved, match="does not show it"):
        check_through(collector, election, first, hide_newer)

    def own_receipt_as_newer(answer: dict[str, Any]) -> None:
        item = answer["ballots"][0]
        item["newer"] = {"ballot": item["ballot"], "receipt": item["receipt"]}

    with pytest.raises(CollectorMisbehaved, match="not at the index"):
        check_through(collector, election, first, own_receipt_as_newer)
