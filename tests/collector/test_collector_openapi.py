"""The collector's /openapi.json describes its API exactly (collector.openapi): every request
body, response body and status code, each refusal in the error form with the codes of its
status. Checked three ways: the document against docs/spec.md and collector.errors.CODES;
the answers a real voter's requests get (which no generator can make: signed ballots) against
the document; and schemathesis against a real `ivote collector serve` (SQLite and PostgreSQL),
whose answers to everything it generates must conform."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
import schemathesis
from collector_helpers import (
    NORTH,
    PASSPHRASE,
    STRANGER,
    Client,
    CollectorElection,
    Server,
    random_challenge,
)
from schemathesis.specs.openapi.definitions import OPENAPI_31
from support.collector_process import CollectorProcess
from test_collector_hostile import assert_no_traceback

from canonical.encoding import DOMAINS, b64url, canonical_bytes, parse_b64url
from collector.app import create_app
from collector.errors import CODES
from collector.openapi import EVERY_OPERATION
from collector.service import Election, Settings
from formats.ballot import ballot_hash, max_ballot_bytes
from formats.eligibility import EligibilityRequest
from formats.signed import sign_object

SPEC = Path(__file__).parents[2] / "docs" / "spec.md"
ST = str(Path(sys.executable).parent / "st")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "unsupported_method",  # a method a path does not take: 405 with Allow
)
MAX_EXAMPLES = 40  # per operation and phase: about 15 s against one server
# What each operation answers besides 200 and what the transport may answer to any request
# (400 for what its HTTP parser cannot read, 408, 431, 503): 404 where a thing is looked up.
EXPECTED_STATUSES = {
    ("get", "/v1/manifest"): set(),
    ("get", "/v1/key-proofs"): {404},
    ("post", "/v1/challenges"): {403, 429},
    ("post", "/v1/ballots"): {403, 409, 413, 415, 422, 429},
    ("post", "/v1/eligibility"): {403, 409, 413, 415, 429},
    ("get", "/v1/ballots/{prefix}"): {403, 404},
    ("get", "/v1/log/head"): {404},
    ("get", "/v1/log/heads/{size}"): {404},
    ("get", "/v1/log/inclusion"): {404},
    ("get", "/v1/log/consistency"): set(),
    ("get", "/v1/log/leaves"): set(),
    ("get", "/v1/health"): set(),
}
# Declared on no operation: a method a path does not take is no operation of it, and a 500 is
# a bug, left undeclared so that schemathesis reports any.
UNDECLARED = {"method_not_allowed", "internal"}
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def document(election: CollectorElection, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The document of an app that is never started (no database is opened)."""
    database = tmp_path_factory.mktemp("openapi") / "unused.sqlite"
    settings = Settings(
        election.directory,
        f"sqlite:///{database}",
        election.directory / "collector.p12",
        PASSPHRASE,
        allow_test_key=True,
    )
    return create_app(Election(settings), settings.db_url).openapi()


def operations(document: dict) -> dict[tuple[str, str], dict]:
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def error_codes(response: dict) -> list[str]:
    """The codes a declared refusal response admits."""
    schema = response["content"]["application/json"]["schema"]
    assert schema["allOf"] == [{"$ref": "#/components/schemas/Error"}], schema
    return schema["properties"]["detail"]["properties"]["code"]["enum"]


def spec_section() -> str:
    text = SPEC.read_text(encoding="utf-8")
    start = text.index("## Collector API")
    return text[start : text.index("\n## ", start + 1)]


def test_every_operation_declares_its_answer_and_its_refusals(document: dict) -> None:
    found = operations(document)
    assert set(found) == set(EXPECTED_STATUSES)
    for key, operation in found.items():
        responses = operation["responses"]
        declared = {int(status) for status in responses}
        assert declared == {200, 400, 408, 431, 503} | EXPECTED_STATUSES[key], key
        assert responses["200"]["content"]["application/json"]["schema"], key
        for status, response in responses.items():
            if status == "200":
                continue
            codes = error_codes(response)
            assert codes and all(CODES[code][0] == int(status) for code in codes), (key, status)
            headers = response.get("headers", {})
            assert ("Retry-After" in headers) == (status == "429"), (key, status)
            if headers:
                assert headers["Retry-After"]["required"] is True
    # FastAPI's own 422 form is gone; the only 422 left is the cast's proof_invalid
    assert "ValidationError" not in json.dumps(document)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert error_codes(found["post", "/v1/ballots"]["responses"]["422"]) == ["proof_invalid"]
    assert document["openapi"].startswith("3.1.")


def schemas_in(value: Any) -> list[dict]:
    """Every schema object an OpenAPI document's paths hold (bodies, parameters, headers)."""
    if isinstance(value, dict):
        found = [value["schema"]] if isinstance(value.get("schema"), dict) else []
        return found + [s for item in value.values() for s in schemas_in(item)]
    if isinstance(value, list):
        return [s for item in value for s in schemas_in(item)]
    return []


def test_the_document_is_valid_openapi_3_1(document: dict) -> None:
    # the OpenAPI Initiative's 3.1 schema, as schemathesis bundles it
    problems = [
        error.message for error in jsonschema_rs.validator_for(OPENAPI_31).iter_errors(document)
    ]
    assert not problems, problems
    inline = schemas_in(document["paths"])
    assert len(inline) > 30
    for schema in [*document["components"]["schemas"].values(), *inline]:
        jsonschema_rs.meta.validate(schema)  # JSON Schema 2020-12, OpenAPI 3.1's dialect


def test_every_code_of_the_spec_is_declared_where_it_can_be_answered(document: dict) -> None:
    declared = {
        key: {code for status, r in op["responses"].items() if status != "200" for code in
              error_codes(r)}
        for key, op in operations(document).items()
    }  # fmt: skip
    section = spec_section()
    table = section[section.index("Cast checks, in this order") : section.index("Checks 4 and 8")]
    cast_codes = set(re.findall(r"`([a-z_]+)`", table)) & set(CODES)
    # the spec's cast checks are exactly a cast's refusals, besides the transport's
    assert cast_codes == declared["post", "/v1/ballots"] - set(EVERY_OPERATION)
    assert set(re.findall(r"`([a-z_]+)`", section)) >= set(CODES)  # the spec names every code
    # and every code a route can answer is declared for some route
    assert set.union(*declared.values()) == set(CODES) - UNDECLARED
    assert {"check_window_over", "check_limit_reached", "not_found"} <= declared[
        "get", "/v1/ballots/{prefix}"
    ]
    assert "rate_limited" in declared["post", "/v1/challenges"]


def test_bodies_and_parameters_are_exact(document: dict, election: CollectorElection) -> None:
    cast = operations(document)["post", "/v1/ballots"]
    body = cast["requestBody"]
    assert body["required"] is True
    assert body["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/SignedBallot"}}
    }
    schemas = document["components"]["schemas"]
    envelope = schemas["SignedBallot"]
    payload = envelope["properties"]["payload"]
    for schema in (envelope, envelope["properties"]["signature"], payload):
        assert schema["additionalProperties"] is False  # the parsers refuse unknown fields
    assert payload["properties"]["election_id"] == {"const": election.manifest.election_id}
    assert payload["properties"]["manifest_hash"] == {"const": b64url(election.manifest.hash)}
    # no parameter left as FastAPI's "string or null" or a bare string
    for key, operation in operations(document).items():
        for parameter in operation.get("parameters", []):
            schema = parameter["schema"]
            assert "anyOf" not in schema, (key, parameter)
            assert schema.get("type") == "integer" or "pattern" in schema, (key, parameter)


def eligibility_request(election: CollectorElection, voter: str, challenge: bytes) -> bytes:
    """A voter's signed eligibility request over `challenge`, encoded."""
    payload = EligibilityRequest.for_manifest(election.manifest, challenge).to_dict()
    signed = sign_object(election.eids[voter], DOMAINS["eligibility_request"], payload)
    return canonical_bytes(signed)


class Documented:
    """Checks real answers against the document a real collector serves."""

    def __init__(self, url: str) -> None:
        self.document = httpx.get(f"{url}/openapi.json", timeout=10).json()
        # the server runs this checkout's collector (PYTHONPATH), not another installed copy
        assert "Error" in self.document["components"]["schemas"], "not collector.openapi's"
        self.api = schemathesis.openapi.from_dict(self.document)

    def check(self, method: str, path: str, response: httpx.Response, status: int) -> None:
        assert response.status_code == status, response.text
        declared = self.document["paths"][path][method]["responses"]
        assert str(status) in declared, (method, path, status)
        for name, header in declared[str(status)].get("headers", {}).items():
            assert not header["required"] or name in response.headers, name
        # raises naming the field when the body does not match the schema of its status
        self.api[path][method.upper()].validate_response(response)


def test_a_voters_answers_match_the_document(election: CollectorElection, db_url: str) -> None:
    """The answers only real signed ballots get (receipts, the vote check, the refusals past the
    structure checks) and a 429, from a collector with a tight challenge limit."""
    server = CollectorProcess(
        election.directory,
        db_url,
        PASSPHRASE,
        options=("--challenges-per-address", "6/3600", "--casts-per-address", "off"),
    ).start()
    client = Client(server.url)
    try:
        doc = Documented(server.url)
        http = client.http
        issued = http.post("/v1/challenges")
        doc.check("post", "/v1/challenges", issued, 200)
        challenge = parse_b64url(issued.json()["challenge"], "challenge")
        signed, _ = election.ballot(NORTH[0], challenge)
        digest = b64url(ballot_hash(signed))
        for _ in range(2):  # cast and resent: the same receipt
            doc.check("post", "/v1/ballots", client.cast(signed), 200)
        again, _ = election.ballot(NORTH[1], challenge)
        doc.check("post", "/v1/ballots", client.cast(again), 409)  # challenge_used
        unknown, _ = election.ballot(NORTH[1], random_challenge())
        doc.check("post", "/v1/ballots", client.cast(unknown), 409)  # challenge_unknown
        stranger, _ = election.ballot(NORTH[1], client.challenge(), signer=election.eids[STRANGER])
        doc.check("post", "/v1/ballots", client.cast(stranger), 403)  # not_eligible
        forged = canonical_bytes(signed).replace(b'"district":"north"', b'"district":"south"')
        doc.check("post", "/v1/ballots", client.cast(forged), 400)  # wrong district's contests
        taken, fresh = client.challenge(), client.challenge()
        for voter, status in ((NORTH[3], 200), (STRANGER, 403)):  # 403: not_eligible
            request = eligibility_request(election, voter, taken if status == 200 else fresh)
            asked = http.post("/v1/eligibility", content=request, headers=JSON)
            doc.check("post", "/v1/eligibility", asked, status)
        used = eligibility_request(election, NORTH[4], taken)
        refused = http.post("/v1/eligibility", content=used, headers=JSON)
        doc.check("post", "/v1/eligibility", refused, 409)  # challenge_used
        as_text = http.post("/v1/ballots", content=b"{}", headers={"content-type": "text/plain"})
        doc.check("post", "/v1/ballots", as_text, 415)
        too_large = b" " * (max_ballot_bytes(election.manifest) + 1)
        doc.check(
            "post", "/v1/ballots", http.post("/v1/ballots", content=too_large, headers=JSON), 413
        )
        # the sixth challenge is the last of the window; a window may end meanwhile
        for _ in range(8):
            limited = http.post("/v1/challenges")
            if limited.status_code != 200:
                break
        doc.check("post", "/v1/challenges", limited, 429)
        assert int(limited.headers["retry-after"]) >= 1

        doc.check("get", "/v1/manifest", http.get("/v1/manifest"), 200)
        doc.check("get", "/v1/key-proofs", http.get("/v1/key-proofs"), 200)
        doc.check("get", "/v1/ballots/{prefix}", http.get(f"/v1/ballots/{digest}"), 200)
        doc.check("get", "/v1/ballots/{prefix}", http.get(f"/v1/ballots/{digest}x"), 400)
        short = http.get(f"/v1/ballots/{digest[:8]}")  # 6 bytes: too short a prefix
        doc.check("get", "/v1/ballots/{prefix}", short, 400)
        prefix = http.get(f"/v1/ballots/{b64url(ballot_hash(signed)[:7])}")  # a check code's
        doc.check("get", "/v1/ballots/{prefix}", prefix, 200)
        missing = http.get(f"/v1/ballots/{b64url(bytes(32))}")
        doc.check("get", "/v1/ballots/{prefix}", missing, 404)
        for _ in range(election.manifest.policy.max_checks - 2):
            http.get(f"/v1/ballots/{digest}")
        over = http.get(f"/v1/ballots/{digest}")
        doc.check("get", "/v1/ballots/{prefix}", over, 403)  # check_limit_reached
        doc.check("get", "/v1/log/head", http.get("/v1/log/head"), 200)
        doc.check("get", "/v1/log/heads/{size}", http.get("/v1/log/heads/1"), 200)
        doc.check("get", "/v1/log/heads/{size}", http.get("/v1/log/heads/7"), 404)
        inclusion = http.get("/v1/log/inclusion", params={"size": 1, "ballot_hash": digest})
        doc.check("get", "/v1/log/inclusion", inclusion, 200)
        doc.check("get", "/v1/log/inclusion", http.get("/v1/log/inclusion?size=1"), 400)
        consistency = http.get("/v1/log/consistency", params={"old": 0, "new": 1})
        doc.check("get", "/v1/log/consistency", consistency, 200)
        doc.check("get", "/v1/log/leaves", http.get("/v1/log/leaves?start=0&end=1"), 200)
        doc.check("get", "/v1/log/leaves", http.get("/v1/log/leaves?start=0&end=2"), 400)
        doc.check("get", "/v1/health", http.get("/v1/health"), 200)
        assert_no_traceback(server)
    finally:
        client.close()
        server.stop()


def test_schemathesis_finds_no_answer_outside_the_document(
    election: CollectorElection, server: Server, client: Client, tmp_path: Path
) -> None:
    """schemathesis' coverage and fuzzing phases against a real collector: every answer is a
    declared status, of the declared content type, schema and headers, and never a 5xx."""
    Documented(server.url)  # the server serves this checkout's document
    # a ballot in the log, so that the vote check and inclusion by hash reach their answers
    signed, _ = election.ballot(NORTH[2], client.challenge())
    assert client.cast(signed).status_code == 200
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f'[dictionaries.ballots]\nvalues = ["{b64url(ballot_hash(signed))}"]\n'
        "[parameters]\n"
        '"path.ballot_hash" = { dictionary = "ballots", probability = 0.5 }\n'
        '"query.ballot_hash" = { dictionary = "ballots", probability = 0.5 }\n'
    )
    started = time.monotonic()
    run = subprocess.run(
        [
            ST, "--config-file", str(config), "run", f"{server.url}/openapi.json",
            "--checks", ",".join(CHECKS), "--phases", "coverage,fuzzing",
            "--max-examples", str(MAX_EXAMPLES), "--request-timeout", "30",
            "--generation-database", "none", "--no-color",
        ],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    counts = re.search(r"(\d+) generated, (\d+) passed", output)
    assert counts and counts[1] == counts[2] and int(counts[1]) > 200, output
    assert "12 selected / 12 total" in output, output
    print(f"schemathesis: {counts[1]} cases in {time.monotonic() - started:.1f} s")
    assert_no_traceback(server)


def test_the_manifest_schema_takes_every_manifest_form(
    document: dict, election: CollectorElection, tmp_path: Path, safe_primes: dict
) -> None:
    """GET /v1/manifest's schema takes a Thai general election's manifest (names per language,
    national contests, "vote no", a referendum, the personal-code scheme, key proofs) and
    refuses what the manifest's parser refuses."""
    from support.election import build_thai_election

    schema = document["components"]["schemas"]["SignedManifest"]["properties"]["payload"]
    validator = jsonschema_rs.validator_for(schema)
    thai = build_thai_election(tmp_path / "thai", safe_primes[512]).manifest.to_dict()
    assert "national_contests" in thai and "key_proofs" in thai
    for manifest in (election.manifest.to_dict(), thai):
        errors = [
            error.message for error in validator.iter_errors(json.loads(canonical_bytes(manifest)))
        ]
        assert errors == []
    for change in (
        lambda d: d.update(name={"fr": "Élection"}),
        lambda d: d["national_contests"][0].update(vote_no=False),
        lambda d: d["national_contests"][1]["answers"].__delitem__(slice(1, None)),
        lambda d: d.update(personal_code_scheme="opaque"),
    ):
        changed = json.loads(canonical_bytes(thai))
        change(changed)
        assert not validator.is_valid(changed)
