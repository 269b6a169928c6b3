"""The collector's OpenAPI document, exact: every request body, response body and status code.

The handlers answer raw canonical JSON, so FastAPI cannot infer their schemas; they are
written here as plain JSON Schema (as OpenAPI 3.1 uses it) and put into the generated
document by `install`. Each operation names the refusal codes it can answer, and their HTTP
statuses come from collector.errors.CODES, so that a status and its codes cannot disagree.
FastAPI's 422 "HTTPValidationError" answers are removed: a parameter that does not validate is
refused `bad_request` (400), like every other refusal. tests/collector/test_collector_openapi.py
checks the document, and runs schemathesis against a real collector to hold the server to it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from canonical.encoding import DOMAINS, FORMAT_VERSION, MAX_SAFE_INT, b64url
from collector.errors import CODES
from collector.log import MAX_CHECK_MATCHES
from crypto.eid import ALGORITHM
from crypto.keyproofs import MODULUS_PROOF_ROUNDS, RING_PEDERSEN_ROUNDS
from formats.ballot import CHALLENGE_BYTES
from formats.eligibility import STATUSES
from formats.manifest import Manifest
from formats.personal_codes import OPAQUE, SCHEMES
from formats.signed import MAX_CERTIFICATE_BYTES, MAX_SIGNATURE_BYTES

Schema = dict[str, Any]

# Codes collector.transport answers for any request, before a route runs: a request its HTTP
# parser cannot read (400), one that does not arrive in time (408), a request head too large
# (431), a connection over the cap or a server stopping (503).
EVERY_OPERATION = ("bad_request", "timeout", "headers_too_large", "unavailable")

# canonical.encoding.parse_b64url: no padding, no length of 1 mod 4, and unused low bits of
# the last character zero (the one spelling b64url writes)
_B64URL = "^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"
# 32 bytes: 43 characters, the last one carrying 2 unused bits
_B64URL_32 = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$"
# a vote check's ballot hash prefix: 7 to 32 bytes (10 to 43 characters)
CHECK_PREFIX: Schema = {
    "type": "string",
    "pattern": _B64URL,
    "minLength": 10,
    "maxLength": 43,
    "description": "the first 7 to 32 bytes of a ballot hash, base64url",
}
_HEX = "^(?:0|[1-9a-f][0-9a-f]*)$"  # canonical.encoding.hex_int
_IDENTIFIER = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # formats.manifest.ID_RE
_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}(?::\d{2})?$"


def _b64url_of(max_bytes: int) -> Schema:
    return {
        "type": "string",
        "pattern": _B64URL,
        "minLength": 2,  # at least one byte
        "maxLength": -(-max_bytes * 4 // 3),
    }


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: Mapping[str, Schema], description: str | None = None) -> Schema:
    """An object with exactly these fields, all present (how every format parses)."""
    schema: Schema = {
        "type": "object",
        "properties": dict(properties),
        "required": list(properties),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def _list_of(item: Schema, **bounds: int) -> Schema:
    return {"type": "array", "items": item, **bounds}


def _count(minimum: int = 0, maximum: int = MAX_SAFE_INT) -> Schema:
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


VERSION: Schema = {"const": FORMAT_VERSION}
HASH: Schema = {"type": "string", "pattern": _B64URL_32, "description": "32 bytes, base64url"}
HEX: Schema = {"type": "string", "pattern": _HEX, "description": "an integer, lower-case hex"}
IDENTIFIER: Schema = {"type": "string", "pattern": _IDENTIFIER}
TEXT: Schema = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\x00-\\x1f]*$"}
TIME: Schema = {"type": "string", "pattern": _TIME, "description": "RFC 3339, whole seconds"}
TIME_MS: Schema = {**_count(), "description": "milliseconds since the Unix epoch (UTC)"}


def _signed(domain: str, payload: Schema, description: str) -> Schema:
    """formats.signed's envelope under `domain` (ECDSA P-384 over the payload's bytes)."""
    signature = _object(
        {
            "algorithm": {"const": ALGORITHM},
            "domain": {"const": domain},
            "certificate": {
                **_b64url_of(MAX_CERTIFICATE_BYTES),
                "description": "the signer's X.509 certificate, DER",
            },
            "value": {**_b64url_of(MAX_SIGNATURE_BYTES), "description": "DER ECDSA signature"},
        }
    )
    return _object({"version": VERSION, "payload": payload, "signature": signature}, description)


def _proof() -> Schema:
    return _object(
        {name: _list_of(HEX, minItems=1) for name in ("commitments", "challenges", "responses")},
        "a membership proof (one branch per allowed plaintext)",
    )


# A name: one text for every language, or a text per language (docs/spec.md, Names)
NAME: Schema = {
    "oneOf": [
        TEXT,
        {
            "type": "object",
            "properties": {"en": TEXT, "th": TEXT},
            "minProperties": 1,
            "additionalProperties": False,
        },
    ]
}
_VOTE_NO: Schema = {"const": True, "description": "the contest has a 'vote no' box"}


def _contests() -> Schema:
    """A contest: candidates, or a referendum's question and answers; optional vote_no and
    (candidates) choose."""
    candidates = _object(
        {
            "id": IDENTIFIER,
            "name": NAME,
            "candidates": _list_of(
                _object(
                    {
                        "number": _count(1, 999_999),
                        "name": NAME,
                        "party": {"oneOf": [{"const": ""}, NAME]},
                    }
                ),
                minItems=1,
            ),
        }
    )
    referendum = _object(
        {
            "id": IDENTIFIER,
            "name": NAME,
            "question": NAME,
            "answers": _list_of(
                _object({"number": _count(1, 999_999), "name": NAME}), minItems=2
            ),
        }
    )
    for contest in (candidates, referendum):  # optional: written only when true
        contest["properties"]["vote_no"] = _VOTE_NO
    # optional, candidates only: how many a ballot marks (absent: exactly one)
    candidates["properties"]["choose"] = _object(
        {
            "min": {"type": "integer", "minimum": 0},
            "max": {"type": "integer", "minimum": 1},
        },
        description="a choose-several contest: between min and max marks (docs/spec.md)",
    )
    return _list_of({"oneOf": [candidates, referendum]}, minItems=1)


_MANIFEST = _object(
    {
        "version": VERSION,
        "election_id": IDENTIFIER,
        "name": NAME,
        "period": _object({"start": TIME, "end": TIME}),
        "districts": _list_of(
            _object({"id": IDENTIFIER, "name": NAME, "contests": _contests()}),
            minItems=1,
        ),
        "max_voters": _count(1),
        "key_bits": {**_count(512, 8192), "multipleOf": 2},
        "trustees": _count(1, 64),
        "threshold": _count(1, 64),
        "trust": _object(
            {
                "eid_ca_certificates": _list_of({"type": "string", "pattern": _B64URL}, minItems=1),
                "collector_certificates": _list_of({"type": "string", "pattern": _B64URL}),
            }
        ),
        "voter_list": _object({"list_version": {"const": 1}, "hash": HASH, "voters": _count(1)}),
        "policy": _object(
            {
                "vote_check_window_minutes": _count(1),
                "max_checks": _count(0),
                "publish_observer_bundle": {"type": "boolean"},
            }
        ),
        "public_key": _object(
            {
                "n": HEX,
                "trustees": _count(1, 255),
                "threshold": _count(1, 255),
                "v": HEX,
                "verification_keys": _list_of(HEX, minItems=1),
            },
            "the threshold Paillier public key",
        ),
        "test_key": {"type": "boolean"},
    },
    "docs/spec.md, Manifest",
)
# optional: written only when set (formats.manifest), so in the properties but not required
_MANIFEST["properties"]["key_proofs"] = {
    **HASH,
    "description": "H(key-proofs document), base64url (docs/spec.md, Key proofs)",
}
_MANIFEST["properties"]["personal_code_scheme"] = {
    "enum": [scheme for scheme in SCHEMES if scheme != OPAQUE]
}
_MANIFEST["properties"]["national_contests"] = {
    **_contests(),
    "description": "contests on every district's ballot",
}

# The key-proofs document (formats.keyproofs): its known fields; later versions add the
# trustees' parameters and proofs, so further fields are allowed (a reader refuses a version
# it does not know).
def _rounds(item: Schema, rounds: int) -> Schema:
    return _list_of(item, minItems=rounds, maxItems=rounds)


_SIGNED_HEX: Schema = {
    "type": "string",
    "pattern": "^(0|-?[1-9a-f][0-9a-f]*)$",
    "description": "an integer, lower-case hex, '-' before a negative one",
}
_TRUSTEE_PARAMETERS = _object(
    {
        "version": {"const": 1},
        "election_id": IDENTIFIER,
        "trustee": _count(1),
        "ring_pedersen": _object({"n": HEX, "s": HEX, "t": HEX}),
        "proof": _object(
            {
                "commitments": _rounds(HEX, RING_PEDERSEN_ROUNDS),
                "responses": _rounds(HEX, RING_PEDERSEN_ROUNDS),
            }
        ),
    },
    "a trustee's ring-Pedersen parameters and their proof, as the trustee made them",
)
_KEY_PROOFS = _object(
    {
        "version": {"const": 2},
        "election_id": IDENTIFIER,
        "modulus_proof": _object(
            {
                "w": HEX,
                "x": _rounds(HEX, MODULUS_PROOF_ROUNDS),
                "a": {"type": "string", "pattern": f"^[01]{{{MODULUS_PROOF_ROUNDS}}}$"},
                "b": {"type": "string", "pattern": f"^[01]{{{MODULUS_PROOF_ROUNDS}}}$"},
                "z": _rounds(HEX, MODULUS_PROOF_ROUNDS),
            },
            "the dealer's Paillier-Blum modulus proof of public_key.n",
        ),
        "trustees": _list_of(
            _object(
                {
                    "trustee": _count(1),
                    "parameters": _TRUSTEE_PARAMETERS,
                    "no_small_factor_proof": _object(
                        {
                            **dict.fromkeys(("P", "Q", "A", "B", "T"), HEX),
                            **dict.fromkeys(("sigma", "z1", "z2", "w1", "w2", "v"), _SIGNED_HEX),
                        },
                        "the dealer's proof that n has no small factor, under these parameters",
                    ),
                }
            ),
            minItems=1,
        ),
    },
    "docs/spec.md, Key proofs: the key-proofs document as published; its hash is the "
    "manifest's key_proofs",
)


def _ballot(manifest: Manifest) -> Schema:
    """The ballot payload this collector takes: its election, manifest, districts, contests."""
    contest_ids = sorted({c.id for d in manifest.districts for c in d.contests})
    return _object(
        {
            "version": VERSION,
            "election_id": {"const": manifest.election_id},
            "manifest_hash": {"const": b64url(manifest.hash)},
            "district": {"enum": [d.id for d in manifest.districts]},
            "challenge": {
                "type": "string",
                "pattern": _B64URL_32,
                "description": f"{CHALLENGE_BYTES} bytes from POST /v1/challenges, base64url",
            },
            "contests": {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {"enum": contest_ids},
                "additionalProperties": _ref("EncryptedContest"),
                "description": "exactly the contests of the district",
            },
        },
        "docs/spec.md, Ballot",
    )


def _log_head(election_id: Schema) -> Schema:
    return _object(
        {
            "version": VERSION,
            "election_id": election_id,
            "size": _count(),
            "root_hash": HASH,
            "timestamp": TIME_MS,
        },
        "the log's size and RFC 9162 root hash at `timestamp`",
    )


def _receipt(election_id: Schema) -> Schema:
    return _object(
        {
            "version": VERSION,
            "election_id": election_id,
            "ballot_hash": HASH,
            "log_index": _count(),
            "received": TIME_MS,
            "log_head": _ref("SignedLogHead"),
        },
        "docs/spec.md, Receipt and ballot log",
    )


def _eligibility_request(manifest: Manifest) -> Schema:
    return _object(
        {
            "version": VERSION,
            "election_id": {"const": manifest.election_id},
            "manifest_hash": {"const": b64url(manifest.hash)},
            "challenge": {
                "type": "string",
                "pattern": _B64URL_32,
                "description": f"{CHALLENGE_BYTES} bytes from POST /v1/challenges, base64url",
            },
        },
        "docs/spec.md, Eligibility",
    )


def _eligibility(manifest: Manifest) -> Schema:
    return _object(
        {
            "version": VERSION,
            "election_id": {"const": manifest.election_id},
            "manifest_hash": {"const": b64url(manifest.hash)},
            "challenge": HASH,
            "personal_code": {"type": "string", "pattern": "^[0-9A-Za-z][0-9A-Za-z-]{0,63}$"},
            "district": {"enum": [d.id for d in manifest.districts]},
            "status": {"enum": list(STATUSES)},
            "has_ballot": {"type": "boolean"},
            "at": TIME_MS,
        },
        "docs/spec.md, Eligibility: the voter's district, the election's status at `at`",
    )


def components(manifest: Manifest) -> dict[str, Schema]:
    """The document's named schemas, of this election."""
    election_id = {"const": manifest.election_id}
    return {
        "Error": _object(
            {
                "detail": _object(
                    {
                        "code": {"enum": list(CODES)},
                        "message": {"type": "string", "minLength": 1},
                    }
                )
            },
            "every refusal: a code of docs/spec.md and a message for people",
        ),
        "SignedManifest": _signed(DOMAINS["manifest"], _MANIFEST, "the organiser-signed manifest"),
        "KeyProofs": _KEY_PROOFS,
        "Challenge": _object(
            {
                "version": VERSION,
                "challenge": {**HASH, "description": f"{CHALLENGE_BYTES} random bytes, base64url"},
                "expires": TIME_MS,
            }
        ),
        "EncryptedContest": _object(
            {
                "ciphertexts": _list_of(HEX, minItems=1),
                "proofs": _list_of(_proof(), minItems=1),
                "sum_proof": {"anyOf": [_proof(), {"type": "null"}]},
            },
            "a contest's Paillier ciphertexts and their validity proofs",
        ),
        "SignedBallot": _signed(
            DOMAINS["ballot"], _ballot(manifest), "a ballot signed with the voter's e-ID"
        ),
        "SignedEligibilityRequest": _signed(
            DOMAINS["eligibility_request"],
            _eligibility_request(manifest),
            "an eligibility request signed with the voter's e-ID",
        ),
        "SignedEligibility": _signed(
            DOMAINS["eligibility"], _eligibility(manifest), "the collector's signed answer"
        ),
        "SignedLogHead": _signed(
            DOMAINS["log_head"], _log_head(election_id), "a log head the collector signed"
        ),
        "SignedReceipt": _signed(
            DOMAINS["receipt"], _receipt(election_id), "the collector's signed receipt"
        ),
        "SignedLatestBallot": _signed(
            DOMAINS["latest_ballot"],
            _object(
                {
                    "version": VERSION,
                    "election_id": election_id,
                    "ballot_hash": HASH,
                    "log_index": _count(),
                    "latest_index": _count(),
                    "log_size": _count(1),
                    "timestamp": TIME_MS,
                },
                "which ballot of the checked ballot's voter was the latest at `log_size`",
            ),
            "the collector's signed statement of the voter's latest ballot",
        ),
        "VoteCheck": _object(
            {
                "version": VERSION,
                "ballots": _list_of(
                    _object(
                        {
                            "ballot": _ref("SignedBallot"),
                            "receipt": _ref("SignedReceipt"),
                            "verification_code": {
                                "type": "string",
                                "pattern": "^[A-Z2-7]{4}(?:-[A-Z2-7]{4}){3}$",
                            },
                            "latest": _ref("SignedLatestBallot"),
                            "newer": {
                                "anyOf": [
                                    _object(
                                        {
                                            "ballot": _ref("SignedBallot"),
                                            "receipt": _ref("SignedReceipt"),
                                        },
                                        "the voter's latest ballot, newer than this one",
                                    ),
                                    {"type": "null"},
                                ]
                            },
                        }
                    ),
                    minItems=1,
                    maxItems=MAX_CHECK_MATCHES,
                ),
            },
            "the ballots whose hash begins with the prefix (docs/spec.md, Vote check)",
        ),
        "Inclusion": _object(
            {
                "version": VERSION,
                "index": _count(),
                "size": _count(1),
                "leaf_hash": HASH,
                "proof": _list_of(HASH),
            },
            "an RFC 9162 inclusion proof",
        ),
        "Consistency": _object(
            {
                "version": VERSION,
                "old_size": _count(),
                "new_size": _count(),
                "proof": _list_of(HASH),
            },
            "an RFC 9162 consistency proof",
        ),
        "Health": _object({"version": VERSION, "size": _count(), "closed": {"type": "boolean"}}),
    }


@dataclass(frozen=True)
class Operation:
    """What one route answers: its 200 body (a schema), the refusal codes it can give besides
    EVERY_OPERATION's, its request body and its parameters' exact schemas."""

    answer: Schema
    codes: tuple[str, ...] = ()
    body: Schema | None = None
    parameters: Mapping[str, Schema] = field(default_factory=dict)


CAST_CODES = (
    "unsupported_media_type",
    "rate_limited",
    "too_large",
    "malformed",
    "wrong_election",
    "election_not_open",
    "election_over",
    "election_closed",
    "challenge_unknown",
    "challenge_expired",
    "challenge_used",
    "signature_invalid",
    "certificate_invalid",
    "certificate_untrusted",
    "certificate_expired",
    "certificate_revoked",
    "not_eligible",
    "wrong_district",
    "proof_invalid",
    "ballot_copied",
)
ELIGIBILITY_CODES = (
    "unsupported_media_type",
    "rate_limited",
    "too_large",
    "malformed",
    "wrong_election",
    "challenge_unknown",
    "challenge_expired",
    "challenge_used",
    "signature_invalid",
    "certificate_invalid",
    "certificate_untrusted",
    "certificate_expired",
    "certificate_revoked",
    "not_eligible",
)
_INDEX = _count()


def operations(max_leaves: int) -> dict[tuple[str, str], Operation]:
    """Every route of collector.app, by (method, path)."""
    return {
        ("get", "/v1/manifest"): Operation(_ref("SignedManifest")),
        ("get", "/v1/key-proofs"): Operation(_ref("KeyProofs"), ("not_found",)),
        ("post", "/v1/challenges"): Operation(
            _ref("Challenge"), ("election_closed", "rate_limited")
        ),
        ("post", "/v1/ballots"): Operation(
            _ref("SignedReceipt"), CAST_CODES, body=_ref("SignedBallot")
        ),
        ("post", "/v1/eligibility"): Operation(
            _ref("SignedEligibility"),
            ELIGIBILITY_CODES,
            body=_ref("SignedEligibilityRequest"),
        ),
        ("get", "/v1/ballots/{prefix}"): Operation(
            _ref("VoteCheck"),
            ("bad_request", "not_found", "check_window_over", "check_limit_reached"),
            parameters={"prefix": CHECK_PREFIX},
        ),
        ("get", "/v1/log/head"): Operation(_ref("SignedLogHead"), ("not_found",)),
        ("get", "/v1/log/heads/{size}"): Operation(
            _ref("SignedLogHead"), ("bad_request", "not_found"), parameters={"size": _INDEX}
        ),
        ("get", "/v1/log/inclusion"): Operation(
            _ref("Inclusion"),
            ("bad_request", "not_found"),
            parameters={"size": _count(1), "index": _INDEX, "ballot_hash": HASH},
        ),
        ("get", "/v1/log/consistency"): Operation(
            _ref("Consistency"), ("bad_request",), parameters={"old": _INDEX, "new": _INDEX}
        ),
        ("get", "/v1/log/leaves"): Operation(
            _object(
                {
                    "version": VERSION,
                    "start": _count(),
                    "leaf_hashes": _list_of(HASH, maxItems=max_leaves),
                }
            ),
            ("bad_request",),
            parameters={"start": _INDEX, "end": _INDEX},
        ),
        ("get", "/v1/health"): Operation(_ref("Health")),
    }


def _json(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _refusals(codes: tuple[str, ...]) -> dict[str, Any]:
    """One response per HTTP status of `codes`: the Error form, its code one of them."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(CODES[code][0], []).append(code)
    responses: dict[str, Any] = {}
    for status, named in sorted(by_status.items()):
        schema = {
            "allOf": [_ref("Error")],
            "properties": {"detail": {"properties": {"code": {"enum": named}}}},
        }
        response: dict[str, Any] = {
            "description": "; ".join(f"`{code}`: {CODES[code][1]}" for code in named),
            "content": _json(schema),
        }
        if "rate_limited" in named:
            response["headers"] = {
                "Retry-After": {
                    "description": "whole seconds until the limit's window ends",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
        responses[str(status)] = response
    return responses


def describe(document: dict[str, Any], manifest: Manifest, max_leaves: int) -> dict[str, Any]:
    """FastAPI's generated `document` with every operation's bodies and statuses declared."""
    declared = operations(max_leaves)
    found = {(method, path) for path, item in document["paths"].items() for method in item}
    if found != set(declared):
        # a route added or renamed without its declaration here
        raise RuntimeError(f"OpenAPI declarations do not match the routes: {found ^ set(declared)}")
    for path, item in document["paths"].items():
        for method, operation in item.items():
            declaration = declared[(method, path)]
            codes = (*declaration.codes, *EVERY_OPERATION)
            operation["responses"] = {
                "200": {"description": "OK", "content": _json(declaration.answer)},
                **_refusals(tuple(dict.fromkeys(codes))),
            }
            if declaration.body is not None:
                operation["requestBody"] = {"required": True, "content": _json(declaration.body)}
            for parameter in operation.get("parameters", []):
                parameter["schema"] = declaration.parameters[parameter["name"]]
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for generated in ("HTTPValidationError", "ValidationError"):
        schemas.pop(generated, None)
    schemas.update(components(manifest))
    document["info"]["description"] = (
        "docs/spec.md, Collector API. Every body is canonical JSON. Every refusal is "
        '`{"detail": {"code", "message"}}` with the HTTP status of its code; an unknown path '
        "is `not_found` (404), a method a path does not take `method_not_allowed` (405, with "
        "`Allow`)."
    )
    return document


def install(app: FastAPI, manifest: Manifest, max_leaves: int) -> None:
    """Serve `describe`'s document at /openapi.json (and /docs), made once."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            try:
                app.openapi_schema = describe(generate(), manifest, max_leaves)
            except Exception:
                app.openapi_schema = None  # generate() kept its undescribed document
                raise
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
