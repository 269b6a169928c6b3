"""The manifest format (formats.manifest): canonical round trips, field-naming errors, the
proof context and the lookups every role uses."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from ceremony_helpers import make_ca
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st

from canonical.encoding import b64url, canonical_bytes, object_hash
from formats.manifest import (
    Candidate,
    Contest,
    District,
    Manifest,
    ManifestError,
    Period,
    Trust,
    VoterListRef,
    grouped_fingerprint,
    semantic_problems,
)

CA_DER = x509.load_pem_x509_certificate(make_ca()).public_bytes(Encoding.DER)
START = datetime(2099, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=2)))


def sample(**changes: Any) -> Manifest:
    fields: dict[str, Any] = {
        "election_id": "e-2099",
        "name": "Sample",
        "period": Period(START, START + timedelta(days=5)),
        "districts": (
            District(
                "north",
                "North",
                (Contest("council", "Council", (Candidate(1, "A", "P"), Candidate(2, "B"))),),
            ),
        ),
        "max_voters": 1000,
        "key_bits": 512,
        "trustees": 3,
        "threshold": 2,
        "trust": Trust((CA_DER,)),
        "voter_list": VoterListRef(1, bytes(range(32)), 10),
    }
    fields.update(changes)
    return Manifest(**fields)


text = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=0x10FFFF, exclude_categories=["Cs"]),
    min_size=1,
    max_size=30,
).filter(lambda s: s.strip() != "")
ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,15}", fullmatch=True)


@st.composite
def manifests(draw: st.DrawFn) -> Manifest:
    districts = []
    for d_index, district_id in enumerate(draw(st.lists(ids, min_size=1, max_size=3, unique=True))):
        contests = []
        for contest_id in draw(st.lists(ids, min_size=1, max_size=2, unique=True)):
            numbers = draw(st.lists(st.integers(1, 999_999), min_size=1, max_size=6, unique=True))
            candidates = tuple(Candidate(n, draw(text), draw(st.just("") | text)) for n in numbers)
            contests.append(Contest(contest_id, draw(text), candidates))
        districts.append(District(district_id, f"district {d_index}", tuple(contests)))
    offset = timezone(timedelta(minutes=draw(st.integers(-12 * 60, 14 * 60))))
    start = datetime(2099, 1, 1, tzinfo=UTC) + timedelta(seconds=draw(st.integers(0, 10**7)))
    start = start.astimezone(offset)
    trustees = draw(st.integers(1, 7))
    return sample(
        election_id=draw(ids),
        name=draw(text),
        period=Period(start, start + timedelta(seconds=draw(st.integers(1, 10**7)))),
        districts=tuple(districts),
        max_voters=draw(st.integers(10, 10**6)),
        trustees=trustees,
        threshold=draw(st.integers(1, trustees)),
    )


@given(manifests())
def test_round_trip_is_byte_exact(manifest: Manifest) -> None:
    data = manifest.canonical()
    again = Manifest.from_bytes(data)
    assert again.canonical() == data
    assert again.hash == object_hash(manifest.to_dict()) == manifest.hash
    assert grouped_fingerprint(again.hash).replace(" ", "") == manifest.fingerprint
    for district, contest in again.contests():
        encoding = again.contest_encoding(district.id, contest.id)
        assert encoding.candidates == len(contest.candidates)


@given(manifests(), st.data())
def test_any_change_changes_the_hash(manifest: Manifest, data: st.DataObject) -> None:
    changed = manifest.to_dict()
    district = data.draw(st.integers(0, len(changed["districts"]) - 1))
    candidates = changed["districts"][district]["contests"][0]["candidates"]
    candidates[0]["name"] = candidates[0]["name"] + "x"
    assert object_hash(changed) != manifest.hash


def test_proof_context_is_built_here() -> None:
    manifest = sample()
    assert manifest.proof_context("north", "council", 0) == {
        "election_id": "e-2099",
        "manifest_hash": b64url(manifest.hash),
        "district": "north",
        "contest": "council",
        "part": 0,
    }
    with pytest.raises(ManifestError, match="unknown district 'west'"):
        manifest.proof_context("west", "council", 0)
    with pytest.raises(ManifestError, match="has no contest 'mayor'"):
        manifest.proof_context("north", "mayor", 0)
    with pytest.raises(ManifestError, match="not a ciphertext index"):
        manifest.proof_context("north", "council", -1)


def test_lookups() -> None:
    manifest = sample()
    contest = manifest.contest("north", "council")
    assert contest.index_of(2) == 1 and str(contest.candidate(1).name) == "A"
    assert manifest.period.contains(START) and not manifest.period.contains(manifest.period.end)
    assert manifest.policy.vote_check_window == timedelta(minutes=30)
    with pytest.raises(ManifestError, match="no key yet"):
        manifest.threshold_key  # noqa: B018


def mutate(path: list[Any], value: Any) -> dict[str, Any]:
    obj = copy.deepcopy(sample().to_dict())
    target = obj
    for part in path[:-1]:
        target = target[part]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return obj


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["version"], 2, "version: unsupported version 2"),
        (["name"], KeyError, "name: missing"),
        (["name"], 5, "name: expected a string or an object with a text per language"),
        (["max_voters"], True, "max_voters: expected an integer"),
        (["surprise"], 1, "surprise: unknown field"),
        (["period", "start"], "2099-03-01T09:00:00", "period.start: needs a time zone"),
        (["period", "start"], "2099-03-01T09:00+02:00", "period.start: not in canonical form"),
        (["period", "end"], "2001-01-01T00:00:00+00:00", "period.end: the voting period ends"),
        (["districts", 0, "contests", 0, "candidates", 1, "number"], 1, "duplicate candidate"),
        (["districts", 0, "contests", 0, "candidates"], [], "empty candidate list"),
        (["districts", 0, "id"], "a b", "districts[0].id: 'a b' is not an identifier"),
        (["election_id"], "e-2099\n", "election_id: 'e-2099\\n' is not an identifier"),
        (["trust", "eid_ca_certificates", 0], "!!", "trust.eid_ca_certificates[0]: expected"),
        (["trust", "eid_ca_certificates", 0], b64url(b"junk"), "not an X.509 certificate"),
        (["voter_list", "hash"], b64url(b"short"), "voter_list.hash: not a SHA-256 hash"),
        (["threshold"], 4, "threshold: threshold 4 is more than the 3 trustees"),
        (["test_key"], True, "test_key: a manifest without a key cannot have a test key"),
        (["public_key"], {"n": "5"}, "public_key"),
        (["policy", "max_checks"], -1, "policy.max_checks: must not be negative"),
    ],
)
def test_errors_name_the_field(path: list[Any], value: Any, expected: str) -> None:
    with pytest.raises(ManifestError) as caught:
        Manifest.from_dict(mutate(path, value))
    assert expected in str(caught.value)


def test_non_canonical_bytes_are_refused() -> None:
    data = canonical_bytes(sample().to_dict())
    with pytest.raises(ManifestError, match="not in canonical encoding"):
        Manifest.from_bytes(data.replace(b",", b", ", 1))


def test_semantic_rules_are_shared() -> None:
    # One list of rules for the TOML definition and the manifest: paths in manifest terms.
    bad = sample(max_voters=0, trustees=0, threshold=0)
    paths = {path for path, _ in semantic_problems(bad)}
    assert {("max_voters",), ("trustees",), ("threshold",)} <= paths
