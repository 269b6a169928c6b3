"""The ballot: what the voter signs, how it is checked, its hash and verification code.

docs/spec.md, "Ballot". The payload

    {"version": 1, "election_id", "manifest_hash": b64url, "district", "challenge": b64url,
     "contests": {contest_id: EncryptedContest dict}}

is signed by the voter's e-ID in the formats.signed envelope under DOMAINS["ballot"]. The
contests are exactly the district's contests; each is encrypted and proved against the
manifest's key and the proof context of its contest. `ballot_statements` is the one home of
"which statements check a ballot": the collector, the tallier and the verifier all call it.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from canonical.encoding import (
    DOMAINS,
    FORMAT_VERSION,
    FormatError,
    b64url,
    check_version,
    domain_hash,
    hex_int,
    object_hash,
    parse_b64url,
    require,
    sha256,
)
from crypto import paillier
from crypto.encoding import allowed_plaintexts, encode_choice, encode_marks
from crypto.errors import InvalidInput
from crypto.membership import (
    EncryptedContest,
    MembershipStatement,
    contest_statements,
    encrypt_contest,
    sum_statement_allowed,
)

if TYPE_CHECKING:
    from formats.manifest import Manifest

CHALLENGE_BYTES = 32
SEED_BYTES = 16  # the ballot's randomness seed: 128 bits
# extra bits of the expanded hash beyond bitlen(n): the reduction mod n is 2^-128-close to uniform
RANDOMNESS_MARGIN_BITS = 128
_MAX_ATTEMPTS = 1000  # a modulus with this many non-units in a row is no RSA modulus
PAYLOAD_FIELDS = frozenset(
    {"version", "election_id", "manifest_hash", "district", "challenge", "contests"}
)
# Envelope, certificate (formats.signed allows 16 KiB of DER) and JSON framing.
_FIXED_OVERHEAD = 48 * 1024


# A voter's choice in one contest: a candidate number, or for a choose-several contest the set
# of marked candidate numbers (empty for a blank ballot where blank is allowed).
Choice = int | frozenset[int]


class BallotError(FormatError):
    """A ballot that does not follow the format or does not fit the manifest; names the field."""


@dataclass(frozen=True)
class Ballot:
    """A parsed, structurally checked ballot payload (the proofs are not checked here)."""

    election_id: str
    manifest_hash: bytes
    district: str
    challenge: bytes
    contests: Mapping[str, EncryptedContest]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "election_id": self.election_id,
            "manifest_hash": b64url(self.manifest_hash),
            "district": self.district,
            "challenge": b64url(self.challenge),
            "contests": {cid: contest.to_dict() for cid, contest in self.contests.items()},
        }

    def ciphertexts(self) -> list[int]:
        return [c for contest in self.contests.values() for c in contest.ciphertexts]


def contest_context(manifest: Manifest, district: str, contest: str) -> dict[str, Any]:
    """The proof context of a whole contest; crypto.membership adds the part ("part": i or
    "sum") itself. Built from Manifest.proof_context, the one place that builds contexts."""
    context = manifest.proof_context(district, contest, 0)
    context.pop("part")
    return context


def derive_randomness(
    n: int, seed: bytes, manifest_hash: bytes, district: str, contest: str, part: int
) -> int:
    """The encryption randomness of one ciphertext (part `part` of `contest`), from the
    ballot's 128-bit seed: a unit of Z_n within 2^-128 of uniform (docs/spec.md, "Ballot
    randomness from a seed"). Blocks of H_d("ivote/v1/ballot-randomness", {attempt, block,
    contest, district, manifest_hash, part, seed}) are concatenated to at least
    bitlen(n) + 128 bits, read big-endian and reduced mod n; a value that is not a unit (0, or
    sharing a factor with n: it would factor n) is derived again with the next attempt."""
    if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
        raise BallotError("seed", f"expected {SEED_BYTES} bytes")
    if not isinstance(part, int) or isinstance(part, bool) or part < 0:
        raise BallotError("part", "expected an integer >= 0")
    n = int(n)
    blocks = -(-(n.bit_length() + RANDOMNESS_MARGIN_BITS) // 256)
    fields = {
        "contest": contest,
        "district": district,
        "manifest_hash": b64url(manifest_hash),
        "part": part,
        "seed": b64url(seed),
    }
    for attempt in range(_MAX_ATTEMPTS):
        stream = b"".join(
            domain_hash(
                DOMAINS["ballot_randomness"], {**fields, "attempt": attempt, "block": block}
            )
            for block in range(blocks)
        )
        r = int.from_bytes(stream, "big") % n
        if r > 0 and math.gcd(r, n) == 1:
            return r
    raise BallotError("public_key.n", "no unit derived: not an RSA modulus")


def ballot_randomness(
    manifest: Manifest, district: str, seed: bytes
) -> dict[str, tuple[int, ...]]:
    """The encryption randomness of every ciphertext of a ballot of `district`, derived from
    `seed` (contest id -> one value per part, in part order). Only the encryption randomness
    comes from the seed: the proofs draw their own nonces, so revealing the seed (the check
    code) reveals the vote and nothing else."""
    n = manifest.threshold_key.public_key.n
    return {
        contest.id: tuple(
            derive_randomness(n, seed, manifest.hash, district, contest.id, part)
            for part in range(manifest.contest_encoding(district, contest.id).ciphertexts)
        )
        for contest in manifest.district(district).contests
    }


def build_ballot(
    manifest: Manifest,
    district: str,
    choices: Mapping[str, Choice],
    challenge: bytes,
    randomness: Mapping[str, Sequence[int]] | None = None,
) -> tuple[dict[str, Any], dict[str, tuple[int, ...]]]:
    """Encrypt the voter's choices (contest id -> candidate number, as on the paper ballot;
    for a choose-several contest the collection of marked numbers) into a ballot payload to
    sign; returns (payload, randomness per contest). `randomness`
    (contest id -> one unit per part, e.g. `ballot_randomness` of a seed) is the encryption
    randomness to use; without it, it is drawn from `secrets`. The randomness lets the voter
    check the stored ballot later (`choices_in`) and is secret otherwise."""
    where = "choices"
    the_district = manifest.district(district)
    expected = [contest.id for contest in the_district.contests]
    if set(choices) != set(expected):
        missing = sorted(set(expected) - set(choices))
        extra = sorted(set(choices) - set(expected))
        problem = f"missing contest {missing[0]!r}" if missing else f"no contest {extra[0]!r}"
        raise BallotError(where, f"{problem} in district {district!r}")
    if not isinstance(challenge, bytes) or len(challenge) != CHALLENGE_BYTES:
        raise BallotError("challenge", f"expected {CHALLENGE_BYTES} bytes from the collector")
    key = manifest.threshold_key.public_key
    contests: dict[str, Any] = {}
    used: dict[str, tuple[int, ...]] = {}
    for contest in the_district.contests:
        index = _choice_indices(contest, choices[contest.id], f"{where}.{contest.id}")
        given = None if randomness is None else randomness.get(contest.id)
        if randomness is not None and given is None:
            raise BallotError(f"randomness.{contest.id}", "missing")
        try:
            encrypted, r = encrypt_contest(
                key,
                manifest.contest_encoding(district, contest.id),
                index,
                contest_context(manifest, district, contest.id),
                given,
            )
        except InvalidInput as exc:
            if exc.field == "choice":
                raise BallotError(f"{where}.{contest.id}", exc.problem) from exc
            if given is None or not exc.field.startswith("randomness"):
                raise
            where = exc.field.replace("randomness", f"randomness.{contest.id}", 1)
            raise BallotError(where, exc.problem) from exc
        contests[contest.id] = encrypted.to_dict()
        used[contest.id] = r
    payload = {
        "version": FORMAT_VERSION,
        "election_id": manifest.election_id,
        "manifest_hash": b64url(manifest.hash),
        "district": district,
        "challenge": b64url(challenge),
        "contests": contests,
    }
    return payload, used


def _choice_indices(contest: Any, choice: Any, where: str) -> int | frozenset[int]:
    """The encoding's index of a 1-of-L choice, or the indices of a choose-several one's
    marked numbers (how many it may mark is the encoding's check)."""
    if not contest.choose_several:
        if isinstance(choice, bool) or not isinstance(choice, int):
            raise BallotError(where, f"{choice!r} is not a candidate number")
        try:
            return int(contest.index_of(choice))
        except KeyError:
            raise BallotError(where, f"{choice!r} is not a candidate number") from None
    if isinstance(choice, str | bytes | Mapping) or not isinstance(choice, Collection):
        raise BallotError(where, f"{choice!r} is not a collection of candidate numbers")
    numbers = list(choice)
    if len(set(numbers)) != len(numbers):
        raise BallotError(where, "a candidate is marked twice")
    indices = []
    for number in numbers:
        try:
            if isinstance(number, bool) or not isinstance(number, int):
                raise KeyError(number)
            indices.append(contest.index_of(number))
        except KeyError:
            raise BallotError(where, f"{number!r} is not a candidate number") from None
    return frozenset(indices)


def parse_ballot(manifest: Manifest, payload: Any, where: str = "ballot") -> Ballot:
    """Check a ballot payload's structure against the manifest: fields, election, manifest
    hash, district, exactly the district's contests, ciphertexts and proofs of the right
    shapes and ranges. Raises BallotError naming the field; the proofs are checked by
    `ballot_statements` + crypto.membership."""
    check_version(payload, where)
    extra = set(payload) - PAYLOAD_FIELDS
    if extra:
        raise BallotError(f"{where}.{sorted(extra)[0]}", "unexpected field")
    election_id = require(payload, "election_id", str, where)
    if election_id != manifest.election_id:
        raise BallotError(f"{where}.election_id", f"{election_id!r} is not this election")
    manifest_hash = parse_b64url(
        require(payload, "manifest_hash", str, where), f"{where}.manifest_hash"
    )
    if manifest_hash != manifest.hash:
        raise BallotError(f"{where}.manifest_hash", "not this election's manifest")
    district = require(payload, "district", str, where)
    if district not in {d.id for d in manifest.districts}:
        raise BallotError(f"{where}.district", f"no district {district!r} in the manifest")
    challenge = parse_b64url(require(payload, "challenge", str, where), f"{where}.challenge")
    if len(challenge) != CHALLENGE_BYTES:
        raise BallotError(f"{where}.challenge", f"expected {CHALLENGE_BYTES} bytes")
    raw = require(payload, "contests", dict, where)
    expected = [c.id for c in manifest.district(district).contests]
    for contest_id in raw:
        if contest_id not in expected:
            raise BallotError(f"{where}.contests.{contest_id}", "not a contest of the district")
    key = manifest.threshold_key.public_key
    contests: dict[str, EncryptedContest] = {}
    for contest_id in expected:
        field = f"{where}.contests.{contest_id}"
        if contest_id not in raw:
            raise BallotError(field, "missing")
        try:
            contests[contest_id] = EncryptedContest.from_dict(
                raw[contest_id], key, manifest.contest_encoding(district, contest_id), field
            )
        except InvalidInput as exc:
            raise BallotError(exc.field, exc.problem) from exc
    return Ballot(election_id, manifest_hash, district, challenge, contests)


def ballot_statements(manifest: Manifest, ballot: Ballot) -> list[MembershipStatement]:
    """Every membership statement whose proof must hold for the ballot to be valid, in
    contest order (batch them with crypto.membership.batch_verify)."""
    key = manifest.threshold_key.public_key
    statements: list[MembershipStatement] = []
    for contest_id, contest in ballot.contests.items():
        try:
            statements.extend(
                contest_statements(
                    key,
                    manifest.contest_encoding(ballot.district, contest_id),
                    contest,
                    contest_context(manifest, ballot.district, contest_id),
                )
            )
        except InvalidInput as exc:
            raise BallotError(f"ballot.contests.{contest_id}", exc.problem) from exc
    return statements


def ballot_hash(signed_ballot: Mapping[str, Any]) -> bytes:
    """H(signed ballot): SHA-256 of the canonical signed envelope. Names the ballot in the
    log, in receipts and in the vote check."""
    return object_hash(dict(signed_ballot))


def ballot_hash_of(canonical_signed_ballot: bytes) -> bytes:
    """ballot_hash from the envelope's canonical bytes, for a caller that has them already."""
    return sha256(canonical_signed_ballot)


def verification_code(ballot_hash_value: bytes) -> str:
    """The short code the voter's app shows after casting and the checking device shows for
    the fetched ballot: 80 bits of H_d(verification-code, ballot hash), base32 in groups of 4."""
    digest = domain_hash(DOMAINS["verification_code"], {"ballot_hash": b64url(ballot_hash_value)})
    text = base64.b32encode(digest[:10]).decode("ascii")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def choices_in(
    manifest: Manifest, ballot: Ballot, randomness: Mapping[str, tuple[int, ...]]
) -> dict[str, Choice]:
    """The vote check: re-encrypt every possible choice of every contest with the voter's
    randomness and return what each stored contest holds: a candidate number, or for a
    choose-several contest the set of marked numbers; BallotError when nothing matches (the
    stored ballot is not the one this randomness made)."""
    key = manifest.threshold_key.public_key
    found: dict[str, Choice] = {}
    for contest in manifest.district(ballot.district).contests:
        stored = ballot.contests[contest.id].ciphertexts
        enc = manifest.contest_encoding(ballot.district, contest.id)
        r = randomness.get(contest.id)
        if r is None or len(r) != len(stored):
            raise BallotError(f"randomness.{contest.id}", "missing or of the wrong length")
        holds = f"ballot.contests.{contest.id}"
        if enc.marks:
            # each ciphertext holds 0 or 1 (Enc(1; r) = g Enc(0; r)); the encoding says
            # whether that marking is allowed
            plaintexts = []
            for j, (rj, c) in enumerate(zip(r, stored, strict=True)):
                zero = paillier.encrypt(key, 0, rj)  # the one exponentiation per ciphertext
                if c not in (zero, zero * paillier.g_power(key, 1) % key.n_squared):
                    raise BallotError(holds, f"ciphertext {j} holds no mark for this randomness")
                plaintexts.append(int(c != zero))
            marked = frozenset(j for j in range(enc.candidates) if plaintexts[j])
            try:
                if encode_marks(enc, marked) != tuple(plaintexts):
                    raise InvalidInput("choice", "the blank box does not match the marks")
            except InvalidInput as exc:
                raise BallotError(holds, f"holds no valid marking: {exc.problem}") from exc
            found[contest.id] = frozenset(contest.options[j].number for j in marked)
            continue
        for index, candidate in enumerate(contest.options):
            plaintexts_of = encode_choice(enc, index)
            if all(
                paillier.encrypt(key, m, rj) == c
                for m, rj, c in zip(plaintexts_of, r, stored, strict=True)
            ):
                found[contest.id] = candidate.number
                break
        else:
            raise BallotError(holds, "holds none of the candidates for this randomness")
    return found


def max_ballot_bytes(manifest: Manifest) -> int:
    """An upper bound on the size of a signed ballot for this manifest (the collector refuses
    larger requests before parsing them)."""
    n_hex = len(hex_int((1 << manifest.key_bits) - 1))
    n2_hex = 2 * n_hex
    per_branch = n2_hex + n_hex + 32 + 16  # commitment, response, challenge, JSON framing
    largest = 0
    for district in manifest.districts:
        size = 0
        for contest in district.contests:
            enc = manifest.contest_encoding(district.id, contest.id)
            branches = sum(len(allowed_plaintexts(enc, j)) for j in range(enc.ciphertexts))
            branches += len(sum_statement_allowed(enc) or ())
            size += enc.ciphertexts * (n2_hex + 8) + branches * per_branch + 256 + len(contest.id)
        largest = max(largest, size)
    return _FIXED_OVERHEAD + largest + largest // 4
