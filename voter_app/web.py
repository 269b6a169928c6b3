"""`ivote vote app`: the voting page, served on 127.0.0.1 only.

The page (voter_app/static/index.html) is plain HTML with a little JavaScript that posts JSON to
/api/*; every cryptographic step (manifest and receipt checks, encryption, proofs, signing,
re-encryption for the audit) runs here, in Python, through voter_app.voting. Other web sites in
the same browser cannot drive the API: every /api request needs the per-launch token that only
the page served from this address can read, and a Host header naming 127.0.0.1 or localhost
(against DNS rebinding).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import secrets
import socket
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from canonical.encoding import FormatError, canonical_bytes, decode_utf8, parse_canonical
from crypto.eid import Signer, WrongPin, load_pkcs12_signer
from crypto.errors import CryptoError
from formats.ballot import verification_code
from i18n import current_language, language
from voter_app.check_page import install_check_page
from voter_app.pages import request_language
from voter_app.qr import qr_svg
from voter_app.store import VoterStore
from voter_app.transport import CollectorClient, RetryPolicy, VoterAppError
from voter_app.voting import (
    LATEST_COUNTS_TEXT,
    RECEIPT_EVIDENCE_TEXT,
    Election,
    PreparedBallot,
    audit_document,
    cast_ballot,
    check_own_certificate,
    describe,
    fetch_election,
    open_published_log,
    prepare_ballot,
    stored_receipts,
    verify_receipt,
)

MAX_EID_BYTES = 64 * 1024
MAX_RECORD_BYTES = 512 * 1024 * 1024  # a national record: ~50 bytes of leaf hash per ballot
TOKEN_HEADER = "x-ivote-token"  # noqa: S105  (a header name, not a secret)


class PageError(Exception):
    """A problem to show on the page (HTTP 400 with a message)."""


@dataclass
class VoterSession:
    """The voter's state between steps; the signer and PIN never leave this process."""

    election: Election | None = None
    signer: Signer | None = None
    pin: str | None = field(default=None, repr=False)
    district: str | None = None
    prepared: PreparedBallot | None = None


def _election_view(election: Election) -> dict[str, Any]:
    manifest = election.manifest
    return {
        "election_id": manifest.election_id,
        # a test election (only opened with --allow-test-key) says so wherever it is named
        "name": manifest.name + (" (TEST election)" if manifest.test_election else ""),
        "fingerprint": election.fingerprint,
        "status": election.status(),
        "start": manifest.period.start.isoformat(),
        "end": manifest.period.end.isoformat(),
        "districts": [{"id": d.id, "name": d.name} for d in manifest.districts],
    }


def _district_view(election: Election, district_id: str) -> dict[str, Any]:
    district = election.district(district_id)
    return {
        "id": district.id,
        "name": district.name,
        "contests": [
            {
                "id": contest.id,
                "name": contest.name,
                "candidates": [
                    {"number": c.number, "name": c.name, "party": c.party}
                    for c in contest.candidates
                ],
            }
            for contest in district.contests
        ],
    }


def create_app(
    collector: str,
    fingerprint: str | None = None,
    data_dir: str | Path | None = None,
    retries: int = 6,
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
    allow_test_key: bool = False,
) -> FastAPI:
    token = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(16)  # the page's inline script and style, nothing else
    store = VoterStore(data_dir)
    client = CollectorClient(collector, RetryPolicy(attempts=retries))
    session = VoterSession()
    lock = threading.Lock()  # one voter, one step at a time
    page = resources.files("voter_app").joinpath("static/index.html").read_text("utf-8")
    app = FastAPI(title="ivote voting page", docs_url=None, redoc_url=None, openapi_url=None)
    default_language = current_language()  # ivote --lang, or the environment's

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        host = (request.headers.get("host") or "").rsplit(":", 1)[0].strip("[]")
        if host not in allowed_hosts:
            return JSONResponse({"message": "wrong host"}, status_code=403)
        if request.url.path.startswith("/api/") and not secrets.compare_digest(
            request.headers.get(TOKEN_HEADER, ""), token
        ):
            return JSONResponse({"message": "missing or wrong page token"}, status_code=403)
        # each request in the language the voter chose on the page (i18n)
        with language(request_language(request.query_params, request.headers, default_language)):
            response: Response = await call_next(request)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            "img-src data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'"
        )
        return response

    @app.exception_handler(PageError)
    async def page_error(_: Request, exc: PageError) -> Response:
        return JSONResponse({"message": str(exc)}, status_code=400)

    def run(step: Any) -> Any:
        """One step under the lock; the project's errors become a message for the page."""
        with lock:
            try:
                return step()
            except WrongPin as exc:
                raise PageError("Wrong PIN. Nothing was sent; try again.") from exc
            except (VoterAppError, FormatError, CryptoError) as exc:
                raise PageError(str(exc)) from exc

    def election_or_fetch(confirmed: bool = False) -> Election:
        if session.election is None:
            session.election = fetch_election(
                client,
                store,
                fingerprint=fingerprint,
                confirm=lambda _: confirmed,
                allow_test_key=allow_test_key,
            )
        return session.election

    def unconfirmed_manifest() -> Any:
        """The manifest whose fingerprint the voter must compare (first contact, no pin)."""
        shown: list[Any] = []

        def remember(manifest: Any) -> bool:
            shown.append(manifest)
            return False

        try:
            session.election = fetch_election(
                client, store, fingerprint, confirm=remember, allow_test_key=allow_test_key
            )
        except VoterAppError:
            if not shown:
                raise
            return shown[0]
        return None

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse(page.replace("{{TOKEN}}", token).replace("{{NONCE}}", nonce))

    @app.post("/api/election")
    def election_info(body: dict[str, Any]) -> dict[str, Any]:
        """The election, checked; `confirm` is the voter's yes to an unpinned fingerprint."""

        def step() -> dict[str, Any]:
            if session.election is None and not body.get("confirm"):
                manifest = unconfirmed_manifest()
                if manifest is not None:
                    return {
                        "needs_confirmation": True,
                        "name": manifest.name,
                        "fingerprint": manifest.fingerprint_groups,
                    }
            election = election_or_fetch(bool(body.get("confirm")))
            return {"needs_confirmation": False, **_election_view(election)}

        return run(step)

    @app.post("/api/eid")
    def open_eid_step(body: dict[str, Any]) -> dict[str, Any]:
        def step() -> dict[str, Any]:
            election = election_or_fetch()
            election.require_open()
            pin = body.get("pin")
            if not isinstance(pin, str) or not pin:
                raise PageError("Enter your PIN.")
            signer = _open_uploaded_eid(body, pin)
            identity = check_own_certificate(election, signer.certificate)
            district_id = body.get("district") or (
                election.manifest.districts[0].id if len(election.manifest.districts) == 1 else None
            )
            if not isinstance(district_id, str):
                raise PageError("Choose your district.")
            view = _district_view(election, district_id)
            previous = session.signer
            if previous is not None and hasattr(previous, "close"):
                previous.close()  # a token session of an earlier e-ID
            session.signer, session.pin, session.district = signer, pin, district_id
            session.prepared = None
            return {
                "voter": f"{identity.given_name} {identity.surname} ({identity.personal_code})",
                "district": view,
            }

        return run(step)

    @app.post("/api/prepare")
    def prepare(body: dict[str, Any]) -> dict[str, Any]:
        def step() -> dict[str, Any]:
            election = election_or_fetch()
            if session.signer is None or session.district is None:
                raise PageError("Open your e-ID first.")
            raw = body.get("choices")
            district = election.district(session.district)
            if not isinstance(raw, dict):
                raise PageError("Choose a candidate.")
            choices: dict[str, int] = {}
            for contest in district.contests:
                number = raw.get(contest.id)
                if number is None:
                    raise PageError(f"Choose a candidate in {contest.name}.")
                if not isinstance(number, int) or not any(
                    c.number == number for c in contest.candidates
                ):
                    raise PageError(f"{contest.name} has no candidate {number!r}.")
                choices[contest.id] = number
            session.prepared = prepare_ballot(client, election, session.district, choices)
            return {
                "payload_hash": session.prepared.payload_hash.hex(),
                "choices": [
                    {"contest": c.name, "candidate": describe(c, choices[c.id])}
                    for c in district.contests
                ],
            }

        return run(step)

    @app.post("/api/cast")
    def cast(_: dict[str, Any]) -> dict[str, Any]:
        def step() -> dict[str, Any]:
            prepared = session.prepared
            if prepared is None or session.signer is None or session.pin is None:
                raise PageError("Prepare a ballot first.")
            result = cast_ballot(client, prepared, session.signer, store, session.pin)
            session.prepared = None  # a ballot is cast or audited once
            received = dt.datetime.fromtimestamp(result.receipt.received / 1000, dt.UTC)
            return {
                "ballot_hash": result.ballot_hash.hex(),
                "log_index": result.receipt.log_index,
                "log_size": result.receipt.head.size,
                "received": received.isoformat(timespec="seconds"),
                "verification_code": result.verification_code,
                "check_code": result.check_code.grouped,
                "qr_svg": qr_svg(result.check_code.text, "QR code of your check code"),
                "latest_counts": LATEST_COUNTS_TEXT,
            }

        return run(step)

    @app.post("/api/audit")
    def audit(_: dict[str, Any]) -> dict[str, Any]:
        def step() -> dict[str, Any]:
            prepared = session.prepared
            if prepared is None:
                raise PageError("Prepare a ballot first.")
            session.prepared = None  # an audited ballot can never be cast
            document = audit_document(prepared)
            district = prepared.election.district(prepared.district)
            data = base64.b64encode(canonical_bytes(document)).decode("ascii")
            return {
                "payload_hash": prepared.payload_hash.hex(),
                "choices": [
                    {"contest": c.name, "candidate": describe(c, prepared.choices[c.id])}
                    for c in district.contests
                ],
                "randomness": document["randomness"],
                "download": f"data:application/json;base64,{data}",
            }

        return run(step)

    @app.post("/api/verify-receipts")
    def verify_receipts(body: dict[str, Any]) -> dict[str, Any]:
        """The receipts this computer stored against a published record the voter uploads."""

        def step() -> dict[str, Any]:
            pin = body.get("pin")
            if not isinstance(pin, str) or not pin:
                raise PageError("Type your PIN: it opens the receipts this computer stored.")
            published = open_published_log(
                _uploaded_record(body), fingerprint, allow_test_key=allow_test_key
            )
            receipts, _ = stored_receipts(store, pin, published.manifest)
            if not receipts:
                raise PageError(
                    "No receipt of this election opens with that PIN on this computer."
                )
            results = []
            for name, document in receipts:
                verdict = verify_receipt(published, name, document)
                results.append(
                    {
                        "verification_code": verification_code(verdict.ballot_hash)
                        if verdict.ballot_hash
                        else name,
                        "ok": verdict.problem is None,
                        "log_index": verdict.log_index,
                        "problem": verdict.problem,
                        "evidence": RECEIPT_EVIDENCE_TEXT if verdict.evidence else None,
                    }
                )
            return {"log_size": published.head.size, "receipts": results}

        return run(step)

    install_check_page(app, client, store, fingerprint, allow_test_key, token, nonce)
    return app


def _uploaded_file(body: dict[str, Any], field: str, what: str, limit: int) -> bytes:
    """A file the page sent as base64 in `field`: its bytes, at most `limit`."""
    encoded = body.get(field)
    if not isinstance(encoded, str) or not encoded:
        raise PageError(f"Choose {what}.")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PageError(f"That file could not be read as {what}.") from exc
    if len(data) > limit:
        raise PageError(f"That file is too large to be {what}.")
    return data


def _uploaded_record(body: dict[str, Any]) -> Any:
    """The published record the voter chose, parsed."""
    data = _uploaded_file(
        body, "record", "the published election record (record.json)", MAX_RECORD_BYTES
    )
    try:
        return parse_canonical(decode_utf8(data, "record"), "record")
    except FormatError as exc:
        raise PageError(f"That file is not an election record: {exc}") from exc


def _open_uploaded_eid(body: dict[str, Any], pin: str) -> Signer:
    """The e-ID from the page: a PKCS#12 file's bytes (base64), or a pkcs11: URI."""
    uri = body.get("pkcs11_uri")
    if isinstance(uri, str) and uri.strip():
        from voter_app.eid import open_eid

        if not uri.strip().startswith("pkcs11:"):
            raise PageError("A token URI starts with pkcs11:")
        return open_eid(uri.strip(), pin)
    data = _uploaded_file(body, "eid_file", "your e-ID file", MAX_EID_BYTES)
    name = body.get("eid_name") if isinstance(body.get("eid_name"), str) else "e-ID file"
    return load_pkcs12_signer(data, pin, name)


def serve(
    collector: str,
    port: int,
    fingerprint: str | None,
    data_dir: str | Path | None,
    retries: int,
    allow_test_key: bool = False,
) -> None:
    """Bind 127.0.0.1 (never another address), print the page's URL, serve until stopped."""
    import uvicorn

    app = create_app(collector, fingerprint, data_dir, retries, allow_test_key=allow_test_key)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", port))
    except OSError as exc:
        raise VoterAppError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror})") from exc
    listener.listen(16)
    actual = listener.getsockname()[1]
    print(f"Voting page: http://127.0.0.1:{actual}/  (Ctrl-C to stop)", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[listener])
