"""The collector's HTTP API (FastAPI): /v1, JSON in and out, OpenAPI at /docs and
/openapi.json. docs/spec.md, "Collector API", is the normative description.

Every response body is canonical JSON; every refusal is {"detail": {"code", "message"}} with
the HTTP status of collector.errors.CODES. Requests are logged (method, path, status, time,
and for casts the ballot hash and outcome), never ballot contents, identities or keys.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from canonical.encoding import (
    FORMAT_VERSION,
    MAX_SAFE_INT,
    b64url,
    canonical_bytes,
    parse_b64url,
)
from collector.db import Database
from collector.errors import Refusal
from collector.limits import Limiter, RateStore, client_subject
from collector.log import BallotLog, now_ms
from collector.openapi import install as install_openapi
from collector.service import Election, ProofBatcher, answer_eligibility, precheck
from formats.ballot import verification_code
from formats.eligibility import MAX_REQUEST_BYTES as MAX_ELIGIBILITY_BYTES

log = logging.getLogger("ivote.collector")
access = logging.getLogger("ivote.collector.access")

MAX_LEAVES_PER_REQUEST = 10_000
MIN_CHECK_PREFIX = 7  # bytes of a ballot hash a vote check names (docs/spec.md, "Check code")


class CanonicalJSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else canonical_bytes(content)


class AccessLog:
    """One line per request (method, path, status, time and the handler's note), as plain ASGI
    middleware: Starlette's BaseHTTPMiddleware would cost a task and a stream per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        request_state = scope.setdefault("state", {})

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            access.info(
                "%s %s %d %.1fms %s",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - start) * 1000,
                request_state.get("note", ""),
            )


def _refusal_response(refusal: Refusal, headers: dict[str, str] | None = None) -> Response:
    return CanonicalJSON(
        {"detail": refusal.to_dict()},
        status_code=refusal.status,
        headers={**refusal.headers, **(headers or {})},
    )


# The refusal codes of the HTTP errors Starlette raises itself (no route, a wrong method).
_STARLETTE_CODES = {404: "not_found", 405: "method_not_allowed"}


def _client_of(request: Request) -> str:
    """Whom the per-address rate limits count for this request (collector.limits)."""
    return client_subject(request.client.host if request.client else None)


def is_json_media_type(content_type: str | None) -> bool:
    """application/json, with at most a charset parameter that says UTF-8."""
    if content_type is None:
        return False
    media, *parameters = (part.strip().lower() for part in content_type.split(";"))
    if media != "application/json":
        return False
    return all(p.replace(" ", "") in {"charset=utf-8", 'charset="utf-8"'} for p in parameters)


def _hash_param(value: str, name: str) -> bytes:
    try:
        digest = parse_b64url(value, name)
    except ValueError as exc:
        raise Refusal("bad_request", str(exc)) from exc
    if len(digest) != 32:
        raise Refusal("bad_request", f"{name}: expected a 32-byte hash in base64url")
    return digest


def _prefix_param(value: str) -> bytes:
    """A vote check's ballot hash prefix: base64url of MIN_CHECK_PREFIX to 32 bytes (a shorter
    one would let anyone walk through the ballots)."""
    try:
        prefix = parse_b64url(value, "prefix")
    except ValueError as exc:
        raise Refusal("bad_request", str(exc)) from exc
    if not MIN_CHECK_PREFIX <= len(prefix) <= 32:
        raise Refusal("bad_request", f"prefix: expected {MIN_CHECK_PREFIX} to 32 bytes")
    return prefix


def create_app(election: Election, database_url: str) -> FastAPI:
    settings = election.settings
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        database = Database(database_url)
        ballot_log = BallotLog(
            database,
            election.manifest.election_id,
            election.sign,
            casts_per_voter=settings.limits.casts_per_voter,
        )
        batcher = ProofBatcher(ballot_log, settings.batch_wait_ms, settings.max_batch)
        batcher.start()
        counters = RateStore(database_url)
        limiter = Limiter(counters, settings.limits)
        state.update(db=database, log=ballot_log, batcher=batcher, limiter=limiter)
        try:
            yield
        finally:
            await batcher.stop()
            database.dispose()
            counters.dispose()

    app = FastAPI(
        title="ivote collector",
        version="1",
        summary="Takes signed encrypted ballots, keeps them in a Merkle log, signs receipts.",
        lifespan=lifespan,
        redirect_slashes=False,  # a 404 says the path is wrong; an API answers no redirects
    )
    app.add_middleware(AccessLog)
    # bodies and statuses the raw responses do not tell FastAPI (collector.openapi)
    install_openapi(app, election.manifest, MAX_LEAVES_PER_REQUEST)

    def ballot_log() -> BallotLog:
        return state["log"]

    def limiter() -> Limiter:
        return state["limiter"]

    async def signed_body(request: Request, limit: int) -> bytes:
        """The body of a cast or an eligibility request: JSON, counted in the client address's
        cast limit before anything is read, at most `limit` bytes (declared or sent)."""
        content_type = request.headers.get("content-type")
        if not is_json_media_type(content_type):
            raise Refusal("unsupported_media_type", f"not {content_type or 'given'}")
        limiter().cast_from(_client_of(request), now_ms())
        declared = request.headers.get("content-length", "")
        # (a number of thousands of digits is too large without being read as one)
        if declared.isdigit() and (len(declared) > 12 or int(declared) > limit):
            raise Refusal("too_large", f"{declared} bytes, at most {limit}")
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                raise Refusal("too_large", f"more than {limit} bytes")
        return bytes(body)

    def issue_challenge(address: str) -> tuple[bytes, int]:
        limiter().challenge(address, now_ms())
        return ballot_log().issue_challenge(settings.challenge_ttl_s * 1000)

    @app.exception_handler(Refusal)
    async def refused(_: Request, exc: Refusal) -> Response:
        return _refusal_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        return _refusal_response(Refusal("bad_request", problems))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        # Starlette's own refusals (no such route, a method the route does not take) in the
        # same JSON form as ours
        detail = f"{request.method} {request.url.path}"
        code = _STARLETTE_CODES.get(exc.status_code, "bad_request")
        return _refusal_response(Refusal(code, detail), exc.headers)

    @app.exception_handler(sqlalchemy.exc.OperationalError)
    async def database_down(request: Request, exc: sqlalchemy.exc.OperationalError) -> Response:
        # The database cannot be reached (or is locked up): retry later, as a voter app does.
        log.error("%s %s: the database failed: %s", request.method, request.url.path, exc.orig)
        return _refusal_response(Refusal("unavailable", "the database cannot be reached"))

    @app.exception_handler(ClientDisconnect)
    async def gone(request: Request, _: ClientDisconnect) -> Response:
        # Nobody is left to answer; one line, not a traceback.
        state = request.scope["state"]
        timed_out = state.get("timed_out")  # collector.transport answered 408 already
        if timed_out is not None:
            log.warning(
                "%s %s: the body did not arrive within %gs: answered 408",
                request.method,
                request.url.path,
                timed_out,
            )
        else:
            log.warning(
                "%s %s: the client left before its request was complete",
                request.method,
                request.url.path,
            )
        state["note"] = "timed out" if timed_out is not None else "client gone"
        # never sent; 408 as the client got it, or nginx's 499 "client closed request"
        return Response(status_code=408 if timed_out is not None else 499)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> Response:
        # A bug: the request still gets the JSON error form (the traceback goes to the log).
        return _refusal_response(Refusal("internal"))

    @app.get("/v1/manifest", summary="The organiser-signed manifest of this election.")
    async def manifest() -> Response:
        return CanonicalJSON(election.signed_manifest_bytes.rstrip(b"\n"))

    @app.get(
        "/v1/key-proofs",
        summary="The key-proofs document the manifest names: the proofs that the election "
        "key is well formed, as published.",
    )
    async def key_proofs() -> Response:
        if election.key_proofs_bytes is None:  # `serve` does not start without it
            raise Refusal("not_found", "this collector has no key-proofs document")
        return CanonicalJSON(election.key_proofs_bytes)

    @app.post(
        "/v1/challenges",
        summary="A one-time challenge to put in the next ballot (expires, single use).",
    )
    async def challenge(request: Request) -> Response:
        value, expires = await asyncio.to_thread(issue_challenge, _client_of(request))
        return CanonicalJSON(
            {"version": FORMAT_VERSION, "challenge": b64url(value), "expires": expires}
        )

    @app.post(
        "/v1/ballots",
        summary="Cast a signed ballot; answers with the collector's signed receipt.",
    )
    async def cast(request: Request) -> Response:
        body = await signed_body(request, election.max_ballot_bytes)
        state_of_request = request.scope["state"]
        state_of_request["note"] = ""
        try:
            # On the event loop itself: no thread hop, and nothing else for this process to do
            # meanwhile but the proof check, which runs in its own thread.
            checked = precheck(election, ballot_log(), body)
            if isinstance(checked, bytes):
                state_of_request["note"] = "resent"
                return CanonicalJSON(checked)
            digest = checked.candidate.ballot_hash
            state_of_request["note"] = f"ballot {b64url(digest)[:12]}"
            appended = await state["batcher"].submit(checked)
        except Refusal as refusal:
            state_of_request["note"] += f" refused {refusal.code}"
            raise
        state_of_request["note"] += f" index {appended.log_index}"
        return CanonicalJSON(appended.receipt)

    @app.post(
        "/v1/eligibility",
        summary="Whether the signing e-ID may vote here, its district and the election's "
        "status; answered signed.",
    )
    async def eligibility(request: Request) -> Response:
        # counted as a cast: it costs the collector a signature check and a signature
        body = await signed_body(request, MAX_ELIGIBILITY_BYTES)
        state_of_request = request.scope["state"]
        try:
            answer = await asyncio.to_thread(
                answer_eligibility, election, ballot_log(), body
            )
        except Refusal as refusal:
            state_of_request["note"] = f"eligibility refused {refusal.code}"
            raise
        state_of_request["note"] = f"eligibility {answer['payload']['status']}"
        return CanonicalJSON(answer)

    @app.get(
        "/v1/ballots/{prefix}",
        summary="The stored ballots whose hash begins with `prefix`, with their receipts and "
        "the voter's latest ballot, for the voter's check (limited).",
    )
    async def fetch(prefix: str) -> Response:
        start = _prefix_param(prefix)
        policy = election.manifest.policy
        answers = await asyncio.to_thread(
            ballot_log().fetch_for_check,
            start,
            policy.vote_check_window_minutes * 60_000,
            policy.max_checks,
        )
        # canonical by construction: the keys in code point order, the documents as stored
        items = [
            b'{"ballot":'
            + answer.ballot
            + b',"latest":'
            + answer.latest
            + b',"newer":'
            + (
                b"null"
                if answer.newer is None
                else b'{"ballot":' + answer.newer[0] + b',"receipt":' + answer.newer[1] + b"}"
            )
            + b',"receipt":'
            + answer.receipt
            + b',"verification_code":'
            + canonical_bytes(verification_code(answer.ballot_hash))
            + b"}"
            for answer in answers
        ]
        return CanonicalJSON(b'{"ballots":[' + b",".join(items) + b'],"version":1}')

    @app.get("/v1/log/head", summary="The newest signed log head (the final one once closed).")
    async def head() -> Response:
        document = await asyncio.to_thread(ballot_log().head)
        if document is None:
            raise Refusal("not_found", "no log head signed yet")
        return CanonicalJSON(document)

    @app.get("/v1/log/heads/{size}", summary="The signed log head of a given size.")
    async def head_of_size(size: int = Path(ge=0, le=MAX_SAFE_INT)) -> Response:
        document = await asyncio.to_thread(ballot_log().head, size)
        if document is None:
            raise Refusal("not_found", f"no head of size {size} was signed")
        return CanonicalJSON(document)

    @app.get("/v1/log/inclusion", summary="Inclusion proof of a leaf in the tree of `size`.")
    async def inclusion(
        size: int = Query(ge=1, le=MAX_SAFE_INT),
        index: int | None = Query(default=None, ge=0, le=MAX_SAFE_INT),
        ballot_hash: str | None = None,
    ) -> Response:
        if (index is None) == (ballot_hash is None):
            raise Refusal("bad_request", "give exactly one of index and ballot_hash")
        the_log = ballot_log()
        if ballot_hash is not None:
            found = await asyncio.to_thread(
                the_log.index_of, _hash_param(ballot_hash, "ballot_hash")
            )
            if found is None:
                raise Refusal("not_found", "no such ballot")
            index = found
        assert index is not None
        proof = await asyncio.to_thread(the_log.inclusion_proof, index, size)
        leaf = (await asyncio.to_thread(the_log.leaf_hashes, index, index + 1))[0]
        return CanonicalJSON(
            {
                "version": FORMAT_VERSION,
                "index": index,
                "size": size,
                "leaf_hash": b64url(leaf),
                "proof": [b64url(p) for p in proof],
            }
        )

    @app.get("/v1/log/consistency", summary="Consistency proof between two log sizes.")
    async def consistency(
        old: int = Query(ge=0, le=MAX_SAFE_INT), new: int = Query(ge=0, le=MAX_SAFE_INT)
    ) -> Response:
        proof = await asyncio.to_thread(ballot_log().consistency_proof, old, new)
        return CanonicalJSON(
            {
                "version": FORMAT_VERSION,
                "old_size": old,
                "new_size": new,
                "proof": [b64url(p) for p in proof],
            }
        )

    @app.get("/v1/log/leaves", summary="Leaf hashes [start, end) of the log, for auditors.")
    async def leaves(
        start: int = Query(ge=0, le=MAX_SAFE_INT), end: int = Query(ge=0, le=MAX_SAFE_INT)
    ) -> Response:
        if not start <= end <= start + MAX_LEAVES_PER_REQUEST:
            raise Refusal("bad_request", f"need start <= end <= start + {MAX_LEAVES_PER_REQUEST}")
        the_log = ballot_log()
        size, _ = await asyncio.to_thread(the_log.state)
        if end > size:
            raise Refusal("bad_request", f"the log has {size} leaves")
        hashes = await asyncio.to_thread(the_log.leaf_hashes, start, end)
        return CanonicalJSON(
            {"version": FORMAT_VERSION, "start": start, "leaf_hashes": [b64url(h) for h in hashes]}
        )

    @app.get("/v1/health", summary="Whether this collector process can reach its database.")
    async def health() -> Response:
        size, closed_at = await asyncio.to_thread(ballot_log().state)
        return CanonicalJSON(
            {"version": FORMAT_VERSION, "size": size, "closed": closed_at is not None}
        )

    return app
