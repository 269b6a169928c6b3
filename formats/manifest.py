"""The election manifest: the one home of its format, its hash and the helpers every role needs.

The manifest says what the election is (id, name, voting period, districts, contests,
candidates), how big it may get (max_voters, which sizes the ballot encoding), the threshold
key (public key and trustees' verification keys), whom it trusts (e-ID CA certificates), the
collector's policy knobs and the hash of voter list version 1. The organiser signs it
(formats.signed, domain "ivote/v1/manifest"); voters' apps check its fingerprint, the hex
SHA-256 of its canonical bytes. Format: docs/spec.md, "Manifest".

Every proof's Fiat-Shamir context comes from `Manifest.proof_context`: the one place that
builds it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from canonical.encoding import (
    DOMAINS,
    FormatError,
    b64url,
    canonical_bytes,
    check_version,
    object_hash,
    parse_b64url,
    parse_canonical,
)
from crypto.paillier import PRODUCTION_KEY_BITS
from formats.names import Name, name_problems
from formats.personal_codes import OPAQUE, SCHEMES
from i18n import N_, _, ngettext

if TYPE_CHECKING:  # imported lazily: the manifest format must load without the crypto stack
    from cryptography import x509

    from crypto.encoding import ContestEncoding
    from crypto.threshold import ThresholdKey

MANIFEST_VERSION = 1
# \Z, not $: "$" also matches before a final newline, which an identifier must not end with
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
MIN_KEY_BITS = 512  # test keys; production is PRODUCTION_KEY_BITS
MAX_KEY_BITS = 8192
MAX_TRUSTEES = 64
MAX_TEXT = 200
# What trustee share files are sealed for (crypto.sealing purpose): keygen writes them,
# `ivote ceremony decrypt` opens them with open_trustee_share.
TRUSTEE_SHARE_PURPOSE = "ivote-trustee-key-share"

# A path into the manifest object, e.g. ("districts", 0, "contests", 1, "candidates").
FieldPath = tuple[str | int, ...]


def render_path(path: FieldPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "manifest"


class ManifestError(FormatError):
    """A manifest problem; `path` is the field's path in the manifest object."""

    def __init__(self, path: FieldPath, problem: str) -> None:
        self.path = path
        super().__init__(render_path(path), problem)


def format_time(moment: datetime) -> str:
    """RFC 3339 with the official's UTC offset, whole seconds: one string per instant+offset."""
    return moment.isoformat(timespec="seconds")


def parse_time(text: Any, path: FieldPath) -> datetime:
    if not isinstance(text, str):
        raise ManifestError(path, "expected an RFC 3339 date-time string")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ManifestError(path, f"not an RFC 3339 date-time ({text!r})") from exc
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ManifestError(path, "needs a time zone offset (e.g. +02:00 or Z)")
    if moment.microsecond:
        raise ManifestError(path, "fractional seconds are not supported")
    if format_time(moment) != text:
        raise ManifestError(path, f"not in canonical form (expected {format_time(moment)!r})")
    return moment


# The choice number of a contest's "vote no" box (ไม่ประสงค์ลงคะแนน, no preference): never a
# candidate's number (those are 1..999999); it is the last option of the contest's encoding.
VOTE_NO = 0
VOTE_NO_NAME = Name.catalog(N_("Vote no"))
NO_PARTY = Name.plain("")


def choose_rule(low: int, high: int, candidates: int) -> str:
    """A choose-several contest's rule as people read it ("Mark up to 3 candidates, or
    none"), in the current language: the one wording for the results and the ceremony."""
    if low == 0 and high == candidates:
        return _("Mark any number of the candidates, or none")
    if low == high:
        return ngettext(
            "Mark exactly {count} candidate", "Mark exactly {count} candidates", high
        ).format(count=high)
    if low == 0:
        return ngettext(
            "Mark up to {count} candidate, or none", "Mark up to {count} candidates, or none", high
        ).format(count=high)
    return _("Mark between {low} and {high} candidates").format(low=low, high=high)


@dataclass(frozen=True)
class Candidate:
    """A candidate (number, name, party), a party of a party list, or a referendum's answer."""

    number: int
    name: Name
    party: Name = NO_PARTY  # the list or party; empty for an independent

    def __post_init__(self) -> None:  # plain strings are names in every language
        object.__setattr__(self, "name", Name.of(self.name))
        object.__setattr__(self, "party", Name.of(self.party))

    @property
    def is_vote_no(self) -> bool:
        return self.number == VOTE_NO

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "name": self.name.to_json(), "party": self.party.to_json()}


@dataclass(frozen=True)
class Contest:
    """One contest of a ballot: candidates (or parties) to choose one of, or a referendum
    question with its answers; either may add a "vote no" box. A choose-several contest
    (`min_marks`..`max_marks` marks, not (1, 1)) has candidates only."""

    id: str
    name: Name
    candidates: tuple[Candidate, ...]  # the candidates, or a referendum's answers
    vote_no: bool = False
    question: Name | None = None  # a referendum's question: `candidates` are its answers
    national: bool = False  # declared once (national_contests): on every district's ballot
    min_marks: int = 1  # how many candidates a ballot marks: exactly one by default
    max_marks: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", Name.of(self.name))
        if self.question is not None:
            object.__setattr__(self, "question", Name.of(self.question))

    @property
    def is_referendum(self) -> bool:
        return self.question is not None

    @property
    def choose_several(self) -> bool:
        """A ballot marks between min_marks and max_marks candidates (not exactly one)."""
        return (self.min_marks, self.max_marks) != (1, 1)

    @property
    def blank_allowed(self) -> bool:
        """A choose-several contest that a ballot may leave without a mark."""
        return self.choose_several and self.min_marks == 0

    @cached_property
    def options(self) -> tuple[Candidate, ...]:
        """What a voter may choose, in the encoding's order: the candidates (or answers),
        then the "vote no" box where the contest has one."""
        if not self.vote_no:
            return self.candidates
        return (*self.candidates, Candidate(VOTE_NO, VOTE_NO_NAME))

    @property
    def rule(self) -> str | None:
        """How many candidates a ballot marks, as people read it; None for exactly one."""
        if not self.choose_several:
            return None
        return choose_rule(self.min_marks, self.max_marks, len(self.candidates))

    @property
    def counts_size(self) -> int:
        """How many counts the contest's results hold: one per option, then (a choose-several
        contest that allows it) the number of blank ballots."""
        return len(self.options) + self.blank_allowed

    def candidate(self, number: int) -> Candidate:
        for candidate in self.options:
            if candidate.number == number:
                return candidate
        raise KeyError(number)

    def index_of(self, number: int) -> int:
        """Position of an option in the encoding (the manifest's order, "vote no" last)."""
        for index, candidate in enumerate(self.options):
            if candidate.number == number:
                return index
        raise KeyError(number)

    def to_dict(self) -> dict[str, Any]:
        head: dict[str, Any] = {"id": self.id, "name": self.name.to_json()}
        if self.question is not None:
            head |= {
                "question": self.question.to_json(),
                "answers": [
                    {"number": answer.number, "name": answer.name.to_json()}
                    for answer in self.candidates
                ],
            }
        else:
            head["candidates"] = [candidate.to_dict() for candidate in self.candidates]
        # written only when used: manifests made before the fields keep their bytes and hash
        if self.choose_several:
            head["choose"] = {"min": self.min_marks, "max": self.max_marks}
        return head | ({"vote_no": True} if self.vote_no else {})


@dataclass(frozen=True)
class District:
    id: str
    name: Name
    # The contests on this district's ballot: its own, then the national ones (`national`)
    contests: tuple[Contest, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", Name.of(self.name))

    def contest(self, contest_id: str) -> Contest:
        for contest in self.contests:
            if contest.id == contest_id:
                return contest
        raise KeyError(contest_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name.to_json(),
            "contests": [contest.to_dict() for contest in self.contests if not contest.national],
        }


def _on_every_ballot(
    districts: Sequence[District], marked: tuple[Contest, ...]
) -> tuple[District, ...]:
    """The districts with the (marked) national contests on each one's ballot, after its own;
    idempotent, so that a Manifest made by `replace` keeps one copy of each."""
    return tuple(
        replace(
            district,
            contests=tuple(c for c in district.contests if not c.national) + marked,
        )
        for district in districts
    )


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        """Voting is open in [start, end)."""
        return self.start <= moment < self.end

    def to_dict(self) -> dict[str, str]:
        return {"start": format_time(self.start), "end": format_time(self.end)}


@dataclass(frozen=True)
class Policy:
    """The collector's knobs (Estonia's defaults: 3 checks within 30 minutes)."""

    vote_check_window_minutes: int = 30
    max_checks: int = 3
    publish_observer_bundle: bool = False

    @property
    def vote_check_window(self) -> timedelta:
        return timedelta(minutes=self.vote_check_window_minutes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "vote_check_window_minutes": self.vote_check_window_minutes,
            "max_checks": self.max_checks,
            "publish_observer_bundle": self.publish_observer_bundle,
        }


@dataclass(frozen=True)
class Trust:
    """DER certificates: the e-ID CAs voters' certificates chain to, and the collector's."""

    eid_ca_certificates: tuple[bytes, ...]
    collector_certificates: tuple[bytes, ...] = ()

    def eid_cas(self) -> list[x509.Certificate]:
        from cryptography import x509

        return [x509.load_der_x509_certificate(der) for der in self.eid_ca_certificates]

    def eid_trust_store(self, crls: Any = (), require_crl: bool = True) -> Any:
        """A crypto.eid.TrustStore: the self-signed CAs are roots, the others intermediates."""
        from crypto.eid import TrustStore, load_trust_store

        cas = self.eid_cas()
        roots = [ca for ca in cas if ca.issuer == ca.subject]
        intermediates = [ca for ca in cas if ca.issuer != ca.subject]
        store = load_trust_store(
            [_certificate_der(ca) for ca in roots],
            [_certificate_der(ca) for ca in intermediates],
            crls,
            require_crl,
        )
        assert isinstance(store, TrustStore)
        return store

    def collectors(self) -> list[x509.Certificate]:
        from cryptography import x509

        return [x509.load_der_x509_certificate(der) for der in self.collector_certificates]

    def to_dict(self) -> dict[str, Any]:
        return {
            "eid_ca_certificates": [b64url(der) for der in self.eid_ca_certificates],
            "collector_certificates": [b64url(der) for der in self.collector_certificates],
        }


@dataclass(frozen=True)
class VoterListRef:
    """Version 1 of the voter list, by hash; later versions chain to it (formats.voters)."""

    list_version: int
    hash: bytes
    voters: int  # how many voters version 1 has (published; no names or codes)

    def to_dict(self) -> dict[str, Any]:
        return {"list_version": self.list_version, "hash": b64url(self.hash), "voters": self.voters}


@dataclass(frozen=True, eq=False)
class Manifest:
    election_id: str
    name: Name
    period: Period
    districts: tuple[District, ...]
    max_voters: int
    key_bits: int
    trustees: int
    threshold: int
    trust: Trust
    voter_list: VoterListRef
    policy: Policy = field(default_factory=Policy)
    # The threshold public key (crypto.threshold.ThresholdKey.to_dict()); None in a draft.
    public_key: Mapping[str, Any] | None = None
    # True when the key was dealt from fixed, public test primes (`keygen --test-primes`).
    test_key: bool = False
    # What voters' personal codes look like (formats.personal_codes). The opaque default is
    # written by leaving the field out: manifests made before it keep their bytes and hash.
    personal_code_scheme: str = OPAQUE
    # The contests on every district's ballot (the party list, a referendum), declared once;
    # each district's `contests` ends with them. Written only when there are some.
    national_contests: tuple[Contest, ...] = ()
    # H(key-proofs document) (formats.keyproofs), set by keygen with the key. Written only
    # when set: manifests made before it keep their bytes and hash.
    key_proofs: bytes | None = None

    def __post_init__(self) -> None:
        # `districts` may be given with their own contests only: the national ones are added
        # to every district's ballot here, the one place that does it
        object.__setattr__(self, "name", Name.of(self.name))
        marked = tuple(replace(contest, national=True) for contest in self.national_contests)
        object.__setattr__(self, "national_contests", marked)
        object.__setattr__(self, "districts", _on_every_ballot(self.districts, marked))

    # -- encoding -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return (
            {
                "version": MANIFEST_VERSION,
                "election_id": self.election_id,
                "name": self.name.to_json(),
                "period": self.period.to_dict(),
                "districts": [district.to_dict() for district in self.districts],
                "max_voters": self.max_voters,
                "key_bits": self.key_bits,
                "trustees": self.trustees,
                "threshold": self.threshold,
                "trust": self.trust.to_dict(),
                "voter_list": self.voter_list.to_dict(),
                "policy": self.policy.to_dict(),
                "public_key": None if self.public_key is None else dict(self.public_key),
                "test_key": self.test_key,
            }
            | (
                {}
                if self.personal_code_scheme == OPAQUE
                else {"personal_code_scheme": self.personal_code_scheme}
            )
            | (
                {"national_contests": [contest.to_dict() for contest in self.national_contests]}
                if self.national_contests
                else {}
            )
            | ({} if self.key_proofs is None else {"key_proofs": b64url(self.key_proofs)})
        )

    def canonical(self) -> bytes:
        return canonical_bytes(self.to_dict())

    @cached_property
    def hash(self) -> bytes:
        """The manifest hash: SHA-256 of its canonical bytes (spec section 1, H(x))."""
        return object_hash(self.to_dict())

    @property
    def fingerprint(self) -> str:
        """Hex of the manifest hash, the string voters' apps compare."""
        return self.hash.hex()

    @property
    def fingerprint_groups(self) -> str:
        """The fingerprint in groups of four hex digits, for reading aloud and printing."""
        return grouped_fingerprint(self.hash)

    @classmethod
    def from_dict(cls, obj: Any, check_key: bool = True) -> Manifest:
        """Parse and fully validate a manifest from outside; errors name the field."""
        manifest = _parse(obj)
        problems = list(semantic_problems(manifest, check_key=check_key))
        if problems:
            path, message = problems[0]
            raise ManifestError(path, message)
        return manifest

    @classmethod
    def from_bytes(cls, data: bytes, check_key: bool = True) -> Manifest:
        manifest = cls.from_dict(parse_canonical(data, "manifest"), check_key)
        if manifest.canonical() != data.rstrip(b"\n"):
            raise ManifestError((), "not in canonical encoding")
        return manifest

    # -- lookups every role needs ---------------------------------------------------------

    @property
    def is_draft(self) -> bool:
        return self.public_key is None

    @property
    def test_election(self) -> str | None:
        """Why this is a test election, or None for a real one: a key dealt from the public
        fixture primes (`test_key`), or one under 3072 bits. Such an election has no secret
        worth the name: the roles refuse it unless told it is a test (`--allow-test-key`)."""
        if self.test_key:
            return "its key was dealt from fixed public test primes (test_key)"
        if self.key_bits < PRODUCTION_KEY_BITS:
            return (
                f"its key has {self.key_bits} bits, under the {PRODUCTION_KEY_BITS} of a real "
                "election"
            )
        return None

    def refuse_test_key(self, allow_test_key: bool) -> None:
        """FormatError naming why, for a test election, unless `allow_test_key`."""
        reason = self.test_election
        if reason is not None and not allow_test_key:
            raise FormatError(
                "manifest.test_key" if self.test_key else "manifest.key_bits",
                f"a TEST election: {reason}; refused unless --allow-test-key is given",
            )

    def district(self, district_id: str) -> District:
        for district in self.districts:
            if district.id == district_id:
                return district
        raise ManifestError(("districts",), f"unknown district {district_id!r}")

    def contest(self, district_id: str, contest_id: str) -> Contest:
        try:
            return self.district(district_id).contest(contest_id)
        except KeyError:
            raise ManifestError(
                ("districts",), f"district {district_id!r} has no contest {contest_id!r}"
            ) from None

    def contests(self) -> Iterator[tuple[District, Contest]]:
        for district in self.districts:
            for contest in district.contests:
                yield district, contest

    def contest_encoding(self, district_id: str, contest_id: str) -> ContestEncoding:
        """The packed encoding of one contest (crypto.encoding), sized by max_voters/key_bits."""
        return self._encodings[(district_id, contest_id)]

    @cached_property
    def _encodings(self) -> dict[tuple[str, str], ContestEncoding]:
        from crypto.encoding import contest_encoding

        return {
            (district.id, contest.id): contest_encoding(
                len(contest.options),
                self.max_voters,
                self.key_bits,
                contest.min_marks,
                contest.max_marks,
            )
            for district, contest in self.contests()
        }

    @cached_property
    def threshold_key(self) -> ThresholdKey:
        """The election's threshold public key; a draft manifest has none."""
        if self.public_key is None:
            raise ManifestError(("public_key",), "the manifest has no key yet (run keygen)")
        return _load_key(self.public_key, self.key_bits)

    def proof_context(self, district_id: str, contest_id: str, part: int) -> dict[str, Any]:
        """The context every ballot and tally proof binds: the one place it is built."""
        self.contest(district_id, contest_id)
        if isinstance(part, bool) or not isinstance(part, int) or part < 0:
            raise ManifestError(("districts",), f"part {part!r} is not a ciphertext index")
        return {
            "election_id": self.election_id,
            "manifest_hash": b64url(self.hash),
            "district": district_id,
            "contest": contest_id,
            "part": part,
        }

    def with_key(
        self, public_key: Mapping[str, Any], test_key: bool, key_proofs: bytes | None = None
    ) -> Manifest:
        """The manifest with its key and the hash of the key-proofs document proving it."""
        if self.public_key is not None:
            raise ManifestError(("public_key",), "the manifest already has a key")
        keyed = replace(
            self, public_key=dict(public_key), test_key=test_key, key_proofs=key_proofs
        )
        problems = list(semantic_problems(keyed))
        if problems:
            raise ManifestError(*problems[0])
        return keyed


def grouped_fingerprint(digest: bytes, group: int = 4) -> str:
    text = digest.hex()
    return " ".join(text[i : i + group] for i in range(0, len(text), group))


# -- parsing ------------------------------------------------------------------------------


def _only(obj: Mapping[str, Any], allowed: set[str], path: FieldPath) -> None:
    for key in obj:
        if key not in allowed:
            raise ManifestError((*path, key), "unknown field")


def _get(obj: Any, key: str, kind: type | tuple[type, ...], path: FieldPath) -> Any:
    if not isinstance(obj, Mapping):
        raise ManifestError(path, "expected an object")
    if key not in obj:
        raise ManifestError((*path, key), "missing")
    value = obj[key]
    if kind is int and isinstance(value, bool):
        raise ManifestError((*path, key), "expected an integer")
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ManifestError((*path, key), f"expected {names}")
    return value


def _list(obj: Any, key: str, path: FieldPath) -> list[Any]:
    return _get(obj, key, list, path)


def _parse(obj: Any) -> Manifest:
    if not isinstance(obj, Mapping):
        raise ManifestError((), "expected an object")
    try:
        check_version(obj, "manifest")
    except FormatError as exc:
        raise ManifestError(("version",), exc.problem) from exc
    top = {
        "version", "election_id", "name", "period", "districts", "max_voters", "key_bits",
        "trustees", "threshold", "trust", "voter_list", "policy", "public_key", "test_key",
        "personal_code_scheme", "national_contests", "key_proofs",
    }  # fmt: skip
    _only(obj, top, ())
    period_obj = _get(obj, "period", dict, ())
    _only(period_obj, {"start", "end"}, ("period",))
    period = Period(
        parse_time(_get(period_obj, "start", str, ("period",)), ("period", "start")),
        parse_time(_get(period_obj, "end", str, ("period",)), ("period", "end")),
    )
    national: tuple[Contest, ...] = ()
    if "national_contests" in obj:
        national = tuple(
            _parse_contest(c_obj, ("national_contests", index))
            for index, c_obj in enumerate(_list(obj, "national_contests", ()))
        )
        if not national:  # one byte form per manifest: none is written by omission
            raise ManifestError(("national_contests",), "empty (leave the field out)")
    districts = []
    for d_index, d_obj in enumerate(_list(obj, "districts", ())):
        d_path: FieldPath = ("districts", d_index)
        _only(_as_object(d_obj, d_path), {"id", "name", "contests"}, d_path)
        contests = [
            _parse_contest(c_obj, (*d_path, "contests", c_index))
            for c_index, c_obj in enumerate(_list(d_obj, "contests", d_path))
        ]
        districts.append(
            District(_get(d_obj, "id", str, d_path), _name(d_obj, "name", d_path), tuple(contests))
        )
    trust_obj = _get(obj, "trust", dict, ())
    _only(trust_obj, {"eid_ca_certificates", "collector_certificates"}, ("trust",))
    trust = Trust(
        tuple(
            _der(item, ("trust", "eid_ca_certificates", i))
            for i, item in enumerate(_list(trust_obj, "eid_ca_certificates", ("trust",)))
        ),
        tuple(
            _der(item, ("trust", "collector_certificates", i))
            for i, item in enumerate(_list(trust_obj, "collector_certificates", ("trust",)))
        ),
    )
    voters_obj = _get(obj, "voter_list", dict, ())
    _only(voters_obj, {"list_version", "hash", "voters"}, ("voter_list",))
    list_hash = _bytes(_get(voters_obj, "hash", str, ("voter_list",)), ("voter_list", "hash"))
    if len(list_hash) != 32:
        raise ManifestError(("voter_list", "hash"), "not a SHA-256 hash")
    voter_list = VoterListRef(
        _get(voters_obj, "list_version", int, ("voter_list",)),
        list_hash,
        _get(voters_obj, "voters", int, ("voter_list",)),
    )
    policy_obj = _get(obj, "policy", dict, ())
    _only(
        policy_obj,
        {"vote_check_window_minutes", "max_checks", "publish_observer_bundle"},
        ("policy",),
    )
    policy = Policy(
        _get(policy_obj, "vote_check_window_minutes", int, ("policy",)),
        _get(policy_obj, "max_checks", int, ("policy",)),
        _get(policy_obj, "publish_observer_bundle", bool, ("policy",)),
    )
    if "public_key" not in obj:
        raise ManifestError(("public_key",), "missing")
    public_key = obj["public_key"]
    if public_key is not None and not isinstance(public_key, Mapping):
        raise ManifestError(("public_key",), "expected an object or null")
    scheme = OPAQUE
    if "personal_code_scheme" in obj:
        # One byte form per manifest: the opaque default is only ever written by omission.
        scheme = _get(obj, "personal_code_scheme", str, ())
        if scheme not in SCHEMES or scheme == OPAQUE:
            raise ManifestError(
                ("personal_code_scheme",),
                f"{scheme!r} is not a personal-code scheme (expected "
                f"{' or '.join(s for s in SCHEMES if s != OPAQUE)}; leave the field out for "
                "opaque codes)",
            )
    key_proofs = None
    if "key_proofs" in obj:
        key_proofs = _bytes(_get(obj, "key_proofs", str, ()), ("key_proofs",))
        if len(key_proofs) != 32:
            raise ManifestError(("key_proofs",), "not a SHA-256 hash")
    return Manifest(
        election_id=_get(obj, "election_id", str, ()),
        name=_name(obj, "name", ()),
        period=period,
        districts=tuple(districts),
        max_voters=_get(obj, "max_voters", int, ()),
        key_bits=_get(obj, "key_bits", int, ()),
        trustees=_get(obj, "trustees", int, ()),
        threshold=_get(obj, "threshold", int, ()),
        trust=trust,
        voter_list=voter_list,
        policy=policy,
        public_key=None if public_key is None else dict(public_key),
        test_key=_get(obj, "test_key", bool, ()),
        personal_code_scheme=scheme,
        national_contests=national,
        key_proofs=key_proofs,
    )


def _parse_contest(obj: Any, path: FieldPath) -> Contest:
    """A contest object (docs/spec.md, "Manifest"): candidates, or a referendum's question
    and answers; "vote_no": true where it has a "vote no" box."""
    _as_object(obj, path)
    referendum = "question" in obj
    list_key, option_keys = (
        ("answers", {"number", "name"})
        if referendum
        else ("candidates", {"number", "name", "party"})
    )
    _only(
        obj,
        {"id", "name", "vote_no", "choose", list_key} | ({"question"} if referendum else set()),
        path,
    )
    if "vote_no" in obj and _get(obj, "vote_no", bool, path) is not True:
        # one byte form per manifest: no "vote no" box is written by omission
        raise ManifestError((*path, "vote_no"), "false (leave the field out)")
    min_marks, max_marks = _parse_choose(obj, path)
    options = []
    for index, k_obj in enumerate(_list(obj, list_key, path)):
        k_path: FieldPath = (*path, list_key, index)
        _only(_as_object(k_obj, k_path), option_keys, k_path)
        options.append(
            Candidate(
                _get(k_obj, "number", int, k_path),
                _name(k_obj, "name", k_path),
                NO_PARTY if referendum else _name(k_obj, "party", k_path),
            )
        )
    return Contest(
        _get(obj, "id", str, path),
        _name(obj, "name", path),
        tuple(options),
        vote_no="vote_no" in obj,
        question=_name(obj, "question", path) if referendum else None,
        min_marks=min_marks,
        max_marks=max_marks,
    )


def _parse_choose(obj: Mapping[str, Any], path: FieldPath) -> tuple[int, int]:
    """A contest's `choose` object {"min", "max"}: absent for exactly one."""
    if "choose" not in obj:
        return 1, 1
    choose_path: FieldPath = (*path, "choose")
    choose = _as_object(obj["choose"], choose_path)
    _only(choose, {"min", "max"}, choose_path)
    bounds = (_get(choose, "min", int, choose_path), _get(choose, "max", int, choose_path))
    if bounds == (1, 1):
        # one byte form per manifest: exactly one is written by omission
        raise ManifestError(choose_path, "exactly one (leave the field out)")
    return bounds


def _name(obj: Mapping[str, Any], key: str, path: FieldPath) -> Name:
    """A name: a string, or an object with a text per language (formats.names)."""
    if key not in obj:
        raise ManifestError((*path, key), "missing")
    value = obj[key]
    for sub_path, problem in name_problems(value):
        raise ManifestError((*path, key, *sub_path), problem)
    return Name.of(value)


def _as_object(value: Any, path: FieldPath) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ManifestError(path, "expected an object")
    return value


def _bytes(text: str, path: FieldPath) -> bytes:
    try:
        return parse_b64url(text, render_path(path))
    except FormatError as exc:
        raise ManifestError(path, exc.problem) from exc


def _der(text: Any, path: FieldPath) -> bytes:
    if not isinstance(text, str):
        raise ManifestError(path, "expected a base64url DER certificate")
    return _bytes(text, path)


def _load_key(public_key: Mapping[str, Any], key_bits: int) -> ThresholdKey:
    from crypto.errors import InvalidInput
    from crypto.threshold import ThresholdKey

    try:
        return ThresholdKey.from_dict(dict(public_key), "public_key", key_bits)
    except (InvalidInput, FormatError) as exc:
        raise ManifestError(("public_key",), str(exc)) from exc


# -- semantic checks: shared by the manifest and the election definition -------------------


def _text_problem(value: str) -> str | None:
    if not value.strip():
        return "empty"
    if len(value) > MAX_TEXT:
        return f"longer than {MAX_TEXT} characters"
    if any(ord(ch) < 32 for ch in value):
        return "contains control characters"
    return None


def _name_problem(name: Name, may_be_empty: bool = False) -> str | None:
    """What is wrong with a name's texts (each checked like any text), or None."""
    if may_be_empty and name.texts == (("", ""),):  # no party: only ever the empty string
        return None
    for code, text in name.texts:
        if problem := _text_problem(text):
            return f"{problem} ({code})" if code else problem
    if not name.texts:
        return "empty"
    return None


def _id_problem(value: str) -> str | None:
    if not ID_RE.match(value):
        return (
            f"{value!r} is not an identifier (letters, digits, '_', '.', '-', "
            "starting with a letter or digit, at most 64)"
        )
    return None


def certificate_problem(der: bytes, must_be_ca: bool) -> str | None:
    """Why a DER certificate cannot be trusted as configured, or None."""
    from cryptography import x509

    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        return f"not an X.509 certificate ({exc})"
    if must_be_ca:
        try:
            constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        except x509.ExtensionNotFound:
            return "not a CA certificate (no basicConstraints extension)"
        if not constraints.value.ca:
            return "not a CA certificate (basicConstraints cA is false)"
    return None


def semantic_problems(
    manifest: Manifest, check_key: bool = True
) -> Iterator[tuple[FieldPath, str]]:
    """Every problem with the election's content, as (field path, message).

    The one list of rules: `Manifest.from_dict` reports the first, the election definition
    (ceremonies.definition) reports all of them with the TOML file's line numbers.
    """
    if problem := _id_problem(manifest.election_id):
        yield ("election_id",), problem
    if problem := _name_problem(manifest.name):
        yield ("name",), problem
    if manifest.period.end <= manifest.period.start:
        yield (
            ("period", "end"),
            (
                f"the voting period ends ({format_time(manifest.period.end)}) before it starts "
                f"({format_time(manifest.period.start)})"
            ),
        )
    if manifest.max_voters < 1:
        yield ("max_voters",), "must be at least 1"
    if manifest.key_proofs is not None and manifest.public_key is None:
        yield ("key_proofs",), "a draft manifest has no key to prove (keygen sets both)"
    if manifest.personal_code_scheme not in SCHEMES:
        yield (
            ("personal_code_scheme",),
            f"{manifest.personal_code_scheme!r} is not one of {', '.join(SCHEMES)}",
        )
    key_bits_ok = MIN_KEY_BITS <= manifest.key_bits <= MAX_KEY_BITS and manifest.key_bits % 2 == 0
    if not key_bits_ok:
        yield (
            ("key_bits",),
            (
                f"{manifest.key_bits} is not an even key size in [{MIN_KEY_BITS}, {MAX_KEY_BITS}] "
                "(3072 for a real election)"
            ),
        )
    if not 1 <= manifest.trustees <= MAX_TRUSTEES:
        yield ("trustees",), f"must be between 1 and {MAX_TRUSTEES}"
    if manifest.threshold < 1:
        yield ("threshold",), "must be at least 1"
    elif manifest.threshold > manifest.trustees:
        yield (
            ("threshold",),
            (f"threshold {manifest.threshold} is more than the {manifest.trustees} trustees"),
        )
    yield from _district_problems(manifest, key_bits_ok)
    if not manifest.trust.eid_ca_certificates:
        yield ("trust", "eid_ca_certificates"), "the election must trust at least one e-ID CA"
    for index, der in enumerate(manifest.trust.eid_ca_certificates):
        if problem := certificate_problem(der, must_be_ca=True):
            yield ("trust", "eid_ca_certificates", index), problem
    for index, der in enumerate(manifest.trust.collector_certificates):
        if problem := certificate_problem(der, must_be_ca=False):
            yield ("trust", "collector_certificates", index), problem
    if manifest.voter_list.list_version != 1:
        yield ("voter_list", "list_version"), "the manifest anchors list version 1"
    if manifest.voter_list.voters < 1:
        yield ("voter_list", "voters"), "the voter list is empty"
    elif manifest.voter_list.voters > manifest.max_voters:
        yield (
            ("voter_list", "voters"),
            (
                f"{manifest.voter_list.voters} voters, more than max_voters {manifest.max_voters} "
                "(the ballot encoding is sized for max_voters)"
            ),
        )
    if manifest.policy.vote_check_window_minutes < 1:
        yield ("policy", "vote_check_window_minutes"), "must be at least 1"
    if manifest.policy.max_checks < 0:
        yield ("policy", "max_checks"), "must not be negative"
    if manifest.public_key is None:
        if manifest.test_key:
            yield ("test_key",), "a manifest without a key cannot have a test key"
    elif check_key and key_bits_ok:
        yield from _key_problems(manifest)


def _district_problems(manifest: Manifest, key_bits_ok: bool) -> Iterator[tuple[FieldPath, str]]:
    if not manifest.districts:
        yield ("districts",), "the election has no districts"
    encodable = key_bits_ok and manifest.max_voters >= 1
    national: dict[str, int] = {}
    for n_index, contest in enumerate(manifest.national_contests):
        n_path: FieldPath = ("national_contests", n_index)
        if contest.id in national:
            yield (
                (*n_path, "id"),
                f"duplicate national contest {contest.id!r} (also national_contests"
                f"[{national[contest.id]}])",
            )
        national.setdefault(contest.id, n_index)
        yield from _contest_problems(contest, n_path, manifest, encodable)
    seen_districts: dict[str, int] = {}
    for d_index, district in enumerate(manifest.districts):
        d_path: FieldPath = ("districts", d_index)
        if problem := _id_problem(district.id):
            yield (*d_path, "id"), problem
        elif district.id in seen_districts:
            first = seen_districts[district.id]
            yield (*d_path, "id"), f"duplicate district {district.id!r} (also districts[{first}])"
        else:
            seen_districts[district.id] = d_index
        if problem := _name_problem(district.name):
            yield (*d_path, "name"), problem
        if not district.contests:
            yield (*d_path, "contests"), f"district {district.id!r} has no contests"
        seen_contests: dict[str, int] = {}
        own = [contest for contest in district.contests if not contest.national]
        for c_index, contest in enumerate(own):
            c_path: FieldPath = (*d_path, "contests", c_index)
            if contest.id in national:
                yield (
                    (*c_path, "id"),
                    (
                        f"contest {contest.id!r} of district {district.id!r} has the id of "
                        f"national_contests[{national[contest.id]}], which is on every ballot"
                    ),
                )
            elif contest.id in seen_contests:
                yield (
                    (*c_path, "id"),
                    (
                        f"duplicate contest {contest.id!r} in district {district.id!r} "
                        f"(also contests[{seen_contests[contest.id]}])"
                    ),
                )
            else:
                seen_contests[contest.id] = c_index
            yield from _contest_problems(contest, c_path, manifest, encodable)


def _contest_problems(
    contest: Contest, c_path: FieldPath, manifest: Manifest, encodable: bool
) -> Iterator[tuple[FieldPath, str]]:
    if problem := _id_problem(contest.id):
        yield (*c_path, "id"), problem
    if problem := _name_problem(contest.name):
        yield (*c_path, "name"), problem
    if contest.question is not None and (problem := _name_problem(contest.question)):
        yield (*c_path, "question"), problem
    list_key, what = ("answers", "answer") if contest.is_referendum else ("candidates", "candidate")
    if not contest.candidates:
        yield (*c_path, list_key), f"contest {contest.id!r} has an empty {what} list"
        return
    if contest.is_referendum and len(contest.candidates) < 2:
        yield (*c_path, list_key), f"referendum {contest.id!r} needs at least two answers"
    seen_numbers: dict[int, int] = {}
    for k_index, candidate in enumerate(contest.candidates):
        k_path: FieldPath = (*c_path, list_key, k_index)
        if not 1 <= candidate.number <= 999_999:
            yield (*k_path, "number"), "must be between 1 and 999999"
        elif candidate.number in seen_numbers:
            yield (
                (*k_path, "number"),
                (
                    f"duplicate {what} number {candidate.number} in contest "
                    f"{contest.id!r} (also {list_key}[{seen_numbers[candidate.number]}])"
                ),
            )
        else:
            seen_numbers[candidate.number] = k_index
        if problem := _name_problem(candidate.name):
            yield (*k_path, "name"), problem
        if problem := _name_problem(candidate.party, may_be_empty=True):
            yield (*k_path, "party"), problem
    if contest.choose_several:
        problem = _choose_problem(contest)
        if problem:
            yield (*c_path, "choose"), problem
            return
    if encodable and (problem := encoding_problem(len(contest.options), manifest, contest)):
        yield (*c_path, list_key), problem


def _choose_problem(contest: Contest) -> str | None:
    """Why a contest's choose-several bounds cannot be, or None."""
    low, high, count = contest.min_marks, contest.max_marks, len(contest.candidates)
    if contest.is_referendum:
        return f"referendum {contest.id!r} takes one answer: leave choose out"
    if contest.vote_no:
        return f"contest {contest.id!r} has a \"vote no\" box, which takes exactly one choice"
    if not 0 <= low <= high or not 1 <= high <= count:
        return (
            f"contest {contest.id!r}: between {low} and {high} of {count} candidates; need "
            "0 <= min <= max, 1 <= max <= the number of candidates"
        )
    return None


def encoding_problem(
    candidates: int, manifest: Manifest, contest: Contest | None = None
) -> str | None:
    """Why a contest cannot be encoded under this key size and max_voters, or None."""
    from crypto.encoding import contest_encoding
    from crypto.errors import InvalidInput

    bounds = (1, 1) if contest is None else (contest.min_marks, contest.max_marks)
    try:
        contest_encoding(candidates, manifest.max_voters, manifest.key_bits, *bounds)
    except InvalidInput as exc:
        return (
            f"{candidates} candidates with max_voters {manifest.max_voters} cannot be encoded "
            f"under a {manifest.key_bits}-bit key: {exc.problem}"
        )
    return None


def _key_problems(manifest: Manifest) -> Iterator[tuple[FieldPath, str]]:
    assert manifest.public_key is not None
    try:
        key = _load_key(manifest.public_key, manifest.key_bits)
    except ManifestError as exc:
        yield exc.path, exc.problem
        return
    # Byte-exact round trip: the hash must not depend on how the key was written.
    if canonical_bytes(key.to_dict()) != canonical_bytes(dict(manifest.public_key)):
        yield ("public_key",), "not in canonical form"
    threshold = getattr(key, "threshold", manifest.threshold)
    trustees = getattr(key, "trustees", manifest.trustees)
    if threshold != manifest.threshold:
        yield ("public_key",), f"key threshold {threshold}, manifest says {manifest.threshold}"
    if trustees != manifest.trustees:
        yield ("public_key",), f"key has {trustees} trustees, manifest says {manifest.trustees}"


# -- the election directory ---------------------------------------------------------------


class ElectionDirectory:
    """Where the ceremonies put an election's files; the collector and tallier read them."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def manifest(self) -> Path:
        """The unsigned manifest (a draft until keygen adds the key)."""
        return self.root / "manifest.json"

    @property
    def signed_manifest(self) -> Path:
        return self.root / "manifest.signed.json"

    @property
    def key_proofs(self) -> Path:
        """The key-proofs document (formats.keyproofs) the manifest's `key_proofs` names."""
        return self.root / "key-proofs.json"

    @property
    def trustee_parameters(self) -> Path:
        """Where each trustee's ring-Pedersen parameters document goes before keygen."""
        return self.root / "trustee-parameters"

    def trustee_parameters_file(self, trustee: int) -> Path:
        """Trustee `trustee`'s parameters document (formats.keyproofs.TrusteeParameters)."""
        return self.trustee_parameters / f"trustee-{trustee}.json"

    @property
    def organiser_certificate(self) -> Path:
        """A copy of the certificate that signed the manifest (PEM), to pin it."""
        return self.root / "organiser.pem"

    @property
    def voters(self) -> Path:
        return self.root / "voters"

    @property
    def trustees(self) -> Path:
        return self.root / "trustees"

    def share(self, trustee: int) -> Path:
        return self.trustees / f"trustee-{trustee}.share"

    def read_manifest(self, check_key: bool = True) -> Manifest:
        """The unsigned manifest.json (officials' machine)."""
        try:
            data = self.manifest.read_bytes()
        except FileNotFoundError:
            raise FormatError(str(self.manifest), "not found (run `ivote ceremony init`)") from None
        return Manifest.from_bytes(data, check_key)

    def read_signed_manifest(self) -> Manifest:
        """The signed manifest, pinned to the organiser certificate kept beside it."""
        return load_signed_manifest(
            self.signed_manifest, organiser_certificate=self.organiser_certificate
        )

    def voter_lists(self, manifest: Manifest) -> list[Any]:
        """Every voter list version, chain checked against the manifest (formats.voters)."""
        from formats.voters import load_voter_lists

        return load_voter_lists(
            self.voters,
            manifest.voter_list.hash,
            manifest.election_id,
            [district.id for district in manifest.districts],
            manifest.personal_code_scheme,
        )


# -- the signed manifest ------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SignedManifest:
    manifest: Manifest
    certificate: x509.Certificate  # the organiser's, as found in the envelope
    document: dict[str, Any]  # the signed envelope (formats.signed), as published


def open_signed_manifest(
    source: str | os.PathLike[str] | bytes | Mapping[str, Any],
    *,
    organiser_certificate: Any = None,
    expected_fingerprint: str | bytes | None = None,
) -> SignedManifest:
    """Check the organiser-signed manifest (formats.signed envelope, domain ivote/v1/manifest).

    At least one anchor is required: `organiser_certificate` (PEM/DER bytes, a path, or an
    x509 object: the envelope's certificate must be exactly that one) and/or
    `expected_fingerprint` (the manifest hash the voter was told: hex, spaces allowed, or raw
    bytes). The payload must be a complete manifest with its key. Errors name the problem.
    """
    from formats.signed import open_signed

    if organiser_certificate is None and expected_fingerprint is None:
        raise ValueError("a signed manifest needs a pinned organiser certificate or fingerprint")
    if isinstance(source, Mapping):
        document: Any = dict(source)
    else:
        if isinstance(source, bytes):
            data, what = source, "signed manifest"
        else:
            what = str(source)
            try:
                data = Path(source).read_bytes()
            except OSError as exc:
                raise FormatError(what, f"cannot read: {exc.strerror}") from exc
        document = parse_canonical(data, what)
    pinned = None
    if organiser_certificate is not None:
        from cryptography import x509

        if isinstance(organiser_certificate, (str, os.PathLike)):
            organiser_certificate = Path(organiser_certificate).read_bytes()
        pinned = x509.load_der_x509_certificate(_certificate_der(organiser_certificate))
    payload, certificate, _ = open_signed(
        document, DOMAINS["manifest"], expected_cert=pinned, where="manifest"
    )
    manifest = Manifest.from_dict(payload)
    if manifest.is_draft:
        raise ManifestError(("public_key",), "a signed manifest must carry the election key")
    if expected_fingerprint is not None:
        if isinstance(expected_fingerprint, bytes):
            expected = expected_fingerprint
        else:
            try:
                expected = bytes.fromhex("".join(expected_fingerprint.split()))
            except ValueError as exc:
                raise FormatError("fingerprint", "not a hex SHA-256 fingerprint") from exc
        if manifest.hash != expected:
            raise FormatError(
                "manifest",
                f"fingerprint {manifest.fingerprint_groups} is not the expected one "
                f"({grouped_fingerprint(expected)})",
            )
    return SignedManifest(manifest, certificate, document)


def load_signed_manifest(
    source: str | os.PathLike[str] | bytes | Mapping[str, Any],
    *,
    organiser_certificate: Any = None,
    expected_fingerprint: str | bytes | None = None,
) -> Manifest:
    """The manifest inside a signed manifest, checked as open_signed_manifest does."""
    return open_signed_manifest(
        source,
        organiser_certificate=organiser_certificate,
        expected_fingerprint=expected_fingerprint,
    ).manifest


def _certificate_der(certificate: Any) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    if isinstance(certificate, x509.Certificate):
        return certificate.public_bytes(Encoding.DER)
    if isinstance(certificate, str):
        certificate = certificate.encode("ascii")
    if isinstance(certificate, bytes) and certificate.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(certificate).public_bytes(Encoding.DER)
    return bytes(certificate)


def open_trustee_share(
    path: str | os.PathLike[str], passphrase: str, manifest: Manifest | None = None
) -> Any:
    """Open a trustee's sealed share file (crypto.threshold.KeyShare); with `manifest`, the
    share must belong to the manifest's key. Wrong passphrase: crypto.errors.SealError."""
    from crypto.errors import InvalidInput
    from crypto.sealing import read_sealed
    from crypto.threshold import KeyShare

    plaintext = read_sealed(path, passphrase, TRUSTEE_SHARE_PURPOSE)
    where = f"{path}"
    share = KeyShare.from_dict(
        parse_canonical(plaintext, where), where, manifest.key_bits if manifest else None
    )
    if manifest is not None and share.key != manifest.threshold_key:
        raise InvalidInput(where, "this share belongs to another election key")
    return share
