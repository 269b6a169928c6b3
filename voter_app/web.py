"""`ivote vote app`: the voting page, served on 127.0.0.1 only.

The page (voter_app/templates/index.html) is HTML with a little JavaScript that posts JSON to
/api/*; every cryptographic step (manifest and receipt checks, encryption, proofs, signing,
re-encryption for the audit) runs here, in Python, through voter_app.voting. Other web sites in
the same browser cannot drive the API: every /api request needs the per-launch token that only
the page served from this address can read, and a Host header naming 127.0.0.1 or localhost
(against DNS rebinding).

The voter's order (docs/spec.md, "Local page"): the election (its fingerprint confirmed on
first contact) and its key's proofs (checked once per election), the e-ID (opened, then the
collector says whether this voter may vote now and in which district), the choice in that
district's contests only, a summary, the encrypted ballot's hash with Cast or Audit, the
receipt. Every text the page shows is in the request's
language (the page sends X-Ivote-Lang); the collector's refusal codes become plain texts here.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import secrets
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from canonical.encoding import FormatError, canonical_bytes, decode_utf8, parse_canonical
from crypto import eid as eid_errors
from crypto.eid import Signer, VoterIdentity, WrongPin, load_pkcs12_signer
from crypto.errors import CryptoError
from formats.ballot import Choice, verification_code
from formats.manifest import VOTE_NO, Candidate, Contest, District, Manifest
from i18n import N_, _, current_language, format_datetime, language, ngettext
from voter_app.check_page import install_check_page
from voter_app.marks import choice_view, marks_problem
from voter_app.pages import render, request_language
from voter_app.qr import qr_svg
from voter_app.store import VoterStore
from voter_app.transport import CollectorClient, CollectorRefused, RetryPolicy, VoterAppError
from voter_app.voting import (
    RECEIPT_EVIDENCE_TEXT,
    Election,
    KeyNotProven,
    NotEligible,
    PreparedBallot,
    audit_document,
    cast_ballot,
    check_eligibility,
    check_key_proofs,
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

# What the voter reads when the collector (or the app's own check of the e-ID) says no: what
# happened, and what to do. The collector's own texts are for developers and logs.
REFUSALS: dict[str, tuple[str, str]] = {
    "not_eligible": (
        N_("You are not on the voter list of this election"),
        N_(
            "The voter list does not include the person this e-ID names, so this e-ID cannot "
            "vote here. If you think you should be on the list, contact the election "
            "officials. If you opened someone else's e-ID, open your own."
        ),
    ),
    "certificate_revoked": (
        N_("Your e-ID has been revoked"),
        N_(
            "The certificate in your e-ID is revoked and cannot sign a ballot. Contact the "
            "office that issued your e-ID for a new one, or vote at a polling station."
        ),
    ),
    "certificate_expired": (
        N_("Your e-ID is not valid now"),
        N_(
            "The certificate in your e-ID has expired or is not valid yet. Renew your e-ID at "
            "the office that issued it, or vote at a polling station."
        ),
    ),
    "certificate_untrusted": (
        N_("This e-ID cannot be used in this election"),
        N_(
            "Your e-ID was not issued by an authority this election accepts. Open the e-ID "
            "issued to you by your national authority, or vote at a polling station."
        ),
    ),
    "certificate_invalid": (
        N_("This e-ID cannot sign a ballot"),
        N_(
            "The certificate in this e-ID is not one that can sign ballots. Open your own "
            "e-ID, or contact the office that issued it."
        ),
    ),
    "wrong_district": (
        N_("This ballot is not for your district"),
        N_("Start again: the page shows only the candidates of your own district."),
    ),
    "election_closed": (
        N_("Voting is closed"),
        N_(
            "The election officials have closed the ballot box: no more ballots are accepted. "
            "If you have not voted, ask the election officials where you can still vote."
        ),
    ),
    "rate_limited": (
        N_("Too many attempts"),
        N_(
            "The collector is receiving too many requests from your network or for your "
            "e-ID. Wait a few minutes, then try again."
        ),
    ),
}
# The refusals that concern the e-ID: the voter may open another one.
EID_REFUSALS = frozenset(
    {
        "not_eligible",
        "certificate_revoked",
        "certificate_expired",
        "certificate_untrusted",
        "certificate_invalid",
    }
)


class PageError(Exception):
    """A problem to show on the page (HTTP 400 with a message; `contest`: the id of the
    contest it is about, whose choices the page then focuses)."""

    def __init__(self, message: str, contest: str | None = None) -> None:
        super().__init__(message)
        self.contest = contest


@dataclass
class VoterSession:
    """The voter's state between steps; the signer and PIN never leave this process."""

    election: Election | None = None
    signer: Signer | None = None
    pin: str | None = field(default=None, repr=False)
    voter: VoterIdentity | None = None
    district: str | None = None
    has_ballot: bool = False
    prepared: PreparedBallot | None = None

    def forget_eid(self) -> None:
        if self.signer is not None and hasattr(self.signer, "close"):
            self.signer.close()  # a token session of an earlier e-ID
        self.signer = self.pin = self.voter = self.district = self.prepared = None
        self.has_ballot = False


def organiser_name(certificate: x509.Certificate) -> str:
    """Who signed the manifest, for people: the certificate subject's common name and
    organisation ("ivote organiser, ivote election officials"), else the whole subject."""
    parts: list[str] = []
    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME):
        for attribute in certificate.subject.get_attributes_for_oid(oid):
            value = str(attribute.value)
            if value and value not in parts:
                parts.append(value)
    return ", ".join(parts) or certificate.subject.rfc4514_string()


def election_name(election: Election | Manifest) -> str:
    manifest = election.manifest if isinstance(election, Election) else election
    # a test election (only opened with --allow-test-key) says so wherever it is named
    if manifest.test_election:
        return _("{name} (TEST election)").format(name=manifest.name)
    return str(manifest.name)


def _election_view(election: Election) -> dict[str, Any]:
    period = election.manifest.period
    return {
        "election_id": election.manifest.election_id,
        "name": election_name(election),
        "organiser": organiser_name(election.organiser),
        "fingerprint": election.fingerprint,
        "opens": format_datetime(period.start),
        "closes": format_datetime(period.end),
    }


def _status_refusal(election: Election, status: str) -> dict[str, Any] | None:
    """The plain words for an election that does not take ballots now (None when open)."""
    period, name = election.manifest.period, election_name(election)
    if status == "not_open":
        return {
            "title": _("Voting has not started yet"),
            "message": _("Voting in {election} opens on {opens}.").format(
                election=name, opens=format_datetime(period.start)
            ),
            "advice": _("Nothing was sent. Come back when voting is open."),
            "retry": False,
        }
    if status == "over":
        return {
            "title": _("Voting is over"),
            "message": _("Voting in {election} closed on {closes}.").format(
                election=name, closes=format_datetime(period.end)
            ),
            "advice": _(
                "No more ballots are accepted. If you have not voted, ask the election "
                "officials where you can still vote."
            ),
            "retry": False,
        }
    if status == "closed":
        return _refusal("election_closed")
    return None


def _refusal(code: str) -> dict[str, Any]:
    title, advice = REFUSALS.get(
        code,
        (
            N_("The collector did not accept this"),
            N_("Try again later. If this happens again, contact the election officials."),
        ),
    )
    return {"title": _(title), "message": _(advice), "advice": "", "retry": code in EID_REFUSALS}


def _key_refusal(exc: KeyNotProven) -> dict[str, Any]:
    """The plain words for an election whose key's proofs fail: what failed, and that the
    voter should not vote here (no other e-ID helps)."""
    return {
        "title": _("This election's key is not proven well formed"),
        "message": "; ".join(exc.problems),
        "advice": _(
            "This app does not encrypt a ballot under this key: nothing was encrypted or sent. "
            "Do not vote here, and tell the election officials."
        ),
        "retry": False,
    }


def _certificate_code(exc: BaseException) -> str:
    """The refusal code for the app's own check of the e-ID (voting.check_own_certificate)."""
    cause = exc.__cause__
    if isinstance(cause, eid_errors.CertificateExpired | eid_errors.CertificateNotYetValid):
        return "certificate_expired"
    if isinstance(cause, eid_errors.UntrustedIssuer):
        return "certificate_untrusted"
    if isinstance(cause, eid_errors.CertificateRevoked):
        return "certificate_revoked"
    return "certificate_invalid"


def _district_view(election: Election, district_id: str) -> dict[str, Any]:
    """The voter's ballot for the page, in the request's language (every name is a Name:
    str() gives the current language's text, else the other's): every contest of the
    district in ballot order, its own then the national ones; each choice with the text the
    summary, the audit and the check name it by (voting.describe, one home); a contest's
    "vote no" box apart from its candidates, as the paper ballot sets it apart."""
    district = election.district(district_id)

    def choice(contest: Contest, option: Candidate) -> dict[str, Any]:
        return {
            "number": option.number,
            "name": str(option.name),
            "party": str(option.party),
            "text": describe(contest, option.number),
        }

    return {
        "id": district.id,
        "name": str(district.name),
        "contests": [
            {
                "id": contest.id,
                "name": str(contest.name),
                "question": None if contest.question is None else str(contest.question),
                "national": contest.national,
                "candidates": [choice(contest, c) for c in contest.candidates],
                "vote_no": choice(contest, contest.options[-1]) if contest.vote_no else None,
                # a choose-several contest: how many may be marked, and the rule in words
                "choose": {"min": contest.min_marks, "max": contest.max_marks}
                if contest.choose_several
                else None,
                "rule": contest.rule,
            }
            for contest in district.contests
        ],
    }


def _grouped(text: str, size: int) -> list[str]:
    """A code in groups of `size` for people (the page wraps lines only between groups)."""
    cleaned = "".join(text.split())
    return [cleaned[i : i + size] for i in range(0, len(cleaned), size)]


def _download(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


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
    async def page_error(_request: Request, exc: PageError) -> Response:
        about = {"contest": exc.contest} if exc.contest is not None else {}
        return JSONResponse({"message": str(exc), **about}, status_code=400)

    def run(step: Any) -> Any:
        """One step under the lock; the project's errors become a message for the page."""
        with lock:
            try:
                return step()
            except WrongPin as exc:
                raise PageError(_("Wrong PIN. Nothing was sent; try again.")) from exc
            except CollectorRefused as exc:
                raise PageError(_refusal_text(exc)) from exc
            except (VoterAppError, FormatError, CryptoError) as exc:
                cause = exc.__cause__
                if isinstance(cause, CollectorRefused):
                    raise PageError(_refusal_text(cause)) from exc
                raise PageError(str(exc)) from exc

    def election_or_fetch(confirmed: bool = False) -> Election:
        if session.election is None:
            session.election = fetch_election(
                client,
                store,
                fingerprint=fingerprint,
                confirm=lambda _manifest: confirmed,
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

    def eid_view() -> dict[str, Any] | None:
        """The e-ID this session holds open, and where its voter votes, in the language of
        this request (a change of language shows the same ballot in the other one)."""
        election, district, voter = session.election, session.district, session.voter
        if session.signer is None or election is None or district is None or voter is None:
            return None
        return {
            "voter": _("{given_name} {surname} (personal code {code})").format(
                given_name=voter.given_name, surname=voter.surname, code=voter.personal_code
            ),
            "district": _district_view(election, district),
            "has_ballot": session.has_ballot,
        }

    def has_check_page() -> bool:
        """A second-device check page is installed (voter_app.check_page): link to it."""
        return any(getattr(route, "path", None) == "/check" for route in app.routes)

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        election = session.election
        return HTMLResponse(
            render(
                "index.html",
                token=token,
                nonce=nonce,
                election_name=election_name(election) if election else None,
                organiser=organiser_name(election.organiser) if election else None,
                check_page=has_check_page(),
            )
        )

    @app.post("/api/election")
    def election_info(body: dict[str, Any]) -> dict[str, Any]:
        """The election, checked; `confirm` is the voter's yes to an unpinned fingerprint.
        An election whose period (by this computer's clock) is not now is refused at once."""

        def step() -> dict[str, Any]:
            if session.election is None and not body.get("confirm"):
                manifest = unconfirmed_manifest()
                if manifest is not None:
                    return {
                        "needs_confirmation": True,
                        "name": election_name(manifest),
                        "fingerprint": manifest.fingerprint_groups,
                    }
            election = election_or_fetch(bool(body.get("confirm")))
            return {
                "needs_confirmation": False,
                **_election_view(election),
                "refusal": _status_refusal(election, election.status()),
                "eid": eid_view(),
            }

        return run(step)

    @app.post("/api/key-proofs")
    def key_proofs_step(_body: dict[str, Any]) -> dict[str, Any]:
        """Before the first ballot: the election key's proofs (voting.check_key_proofs, once
        per election: the store remembers a check that passed). `{"ok": true}`, or
        `{"refusal": {...}}` naming what failed."""

        def step() -> dict[str, Any]:
            election = election_or_fetch()
            try:
                session.election = check_key_proofs(client, election, store)
            except KeyNotProven as exc:
                return {"refusal": _key_refusal(exc)}
            return {"ok": True}

        return run(step)

    @app.post("/api/eid")
    def open_eid_step(body: dict[str, Any]) -> dict[str, Any]:
        """Open the e-ID, then ask the collector whether this voter may vote now and where:
        `{"refusal": {...}}` in plain words, or the voter and their district's contests."""

        def step() -> dict[str, Any]:
            election = election_or_fetch()
            refusal = _status_refusal(election, election.status())
            if refusal is not None:
                return {"refusal": refusal}
            pin = body.get("pin")
            if not isinstance(pin, str) or not pin:
                raise PageError(_("Type the PIN of your e-ID."))
            signer = _open_uploaded_eid(body, pin)
            try:
                eligibility = check_eligibility(client, election, signer)
            except NotEligible as exc:
                _close(signer)
                return {"refusal": _refusal(exc.code)}
            except VoterAppError as exc:
                _close(signer)
                if isinstance(exc.__cause__, CollectorRefused):
                    return {"refusal": _refusal(exc.__cause__.code)}
                if isinstance(exc.__cause__, CryptoError):  # the app's own check of the e-ID
                    return {"refusal": _refusal(_certificate_code(exc))}
                raise
            refusal = _status_refusal(election, eligibility.status)
            if refusal is not None:
                _close(signer)
                return {"refusal": refusal}
            session.forget_eid()
            session.signer, session.pin = signer, pin
            session.voter = eligibility.voter
            session.district = eligibility.district.id
            session.has_ballot = eligibility.has_ballot
            return {"eid": eid_view()}

        return run(step)

    @app.post("/api/forget-eid")
    def forget_eid(_body: dict[str, Any]) -> dict[str, Any]:
        """Close the e-ID this session holds (the voter opens another one)."""
        return run(lambda: session.forget_eid() or {"ok": True})

    def chosen(body: dict[str, Any]) -> tuple[Election, dict[str, Choice]]:
        """The page's choices, checked against the voter's own district."""
        election = election_or_fetch()
        if session.signer is None or session.district is None:
            raise PageError(_("Open your e-ID first."))
        return election, _page_choices(election.district(session.district), body.get("choices"))

    @app.post("/api/review")
    def review(body: dict[str, Any]) -> dict[str, Any]:
        """Check the choices before the summary (nothing is encrypted or sent): a contest
        whose choice does not fit is named, else the summary's texts."""

        def step() -> dict[str, Any]:
            election, choices = chosen(body)
            district = election.district(session.district or "")
            return {"choices": [choice_view(c, choices[c.id]) for c in district.contests]}

        return run(step)

    @app.post("/api/prepare")
    def prepare(body: dict[str, Any]) -> dict[str, Any]:
        """Encrypt the choices (one candidate per contest of the voter's own district, the
        marks of a choose-several contest)."""

        def step() -> dict[str, Any]:
            election, choices = chosen(body)
            assert session.district is not None
            session.prepared = prepare_ballot(
                client, election, session.district, choices, store
            )
            return {
                "payload_hash": _grouped(session.prepared.payload_hash.hex(), 8),
                "choices": _choices_view(session.prepared),
            }

        return run(step)

    @app.post("/api/discard")
    def discard(_body: dict[str, Any]) -> dict[str, Any]:
        """Back from the encrypted ballot: it is dropped, never cast."""

        def step() -> dict[str, Any]:
            session.prepared = None
            return {"ok": True}

        return run(step)

    @app.post("/api/cast")
    def cast(_body: dict[str, Any]) -> dict[str, Any]:
        def step() -> dict[str, Any]:
            prepared = session.prepared
            if prepared is None or session.signer is None or session.pin is None:
                raise PageError(_("Encrypt a ballot first."))
            session.prepared = None  # a ballot is cast or audited once
            result = cast_ballot(client, prepared, session.signer, store, session.pin)
            session.has_ballot = True
            receipt = result.receipt
            received = dt.datetime.fromtimestamp(receipt.received / 1000, dt.UTC)
            code = verification_code(result.ballot_hash)
            saved = canonical_bytes(result.receipt_document) + b"\n"
            return {
                "verification_code": code,
                "ballot_hash": result.ballot_hash.hex(),
                "received": format_datetime(received),
                "log_index": receipt.log_index,
                "log_size": receipt.head.size,
                # people count from 1; the log index (from 0) is in the saved receipt
                "position": ngettext(
                    "No. {number} (the log then held {count} ballot)",
                    "No. {number} (the log then held {count} ballots)",
                    receipt.head.size,
                ).format(number=receipt.log_index + 1, count=receipt.head.size),
                "check_code": list(result.check_code.groups),
                "qr_svg": qr_svg(result.check_code.text, _("QR code of your check code")),
                "choices": _choices_view(prepared),
                "download": _download(saved, "application/json"),
                "filename": f"ivote-receipt-{code}.json",
            }

        return run(step)

    @app.post("/api/audit")
    def audit(_body: dict[str, Any]) -> dict[str, Any]:
        def step() -> dict[str, Any]:
            prepared = session.prepared
            if prepared is None:
                raise PageError(_("Encrypt a ballot first."))
            session.prepared = None  # an audited ballot can never be cast
            document = audit_document(prepared)
            return {
                "payload_hash": _grouped(prepared.payload_hash.hex(), 8),
                "choices": _choices_view(prepared),
                "download": _download(canonical_bytes(document), "application/json"),
                "filename": f"ivote-audit-{prepared.payload_hash.hex()[:16]}.json",
            }

        return run(step)

    @app.post("/api/verify-receipts")
    def verify_receipts(body: dict[str, Any]) -> dict[str, Any]:
        """The receipts this computer stored against a published record the voter uploads."""

        def step() -> dict[str, Any]:
            pin = body.get("pin")
            if not isinstance(pin, str) or not pin:
                raise PageError(_("Type your PIN: it opens the receipts this computer stored."))
            published = open_published_log(
                _uploaded_record(body), fingerprint, allow_test_key=allow_test_key
            )
            receipts, _skipped = stored_receipts(store, pin, published.manifest)
            if not receipts:
                raise PageError(
                    _("No receipt of this election opens with that PIN on this computer.")
                )
            results = []
            for name, document in receipts:
                verdict = verify_receipt(published, name, document)
                shown = verification_code(verdict.ballot_hash) if verdict.ballot_hash else name
                if verdict.problem is None:
                    text = _("Ballot {code} is in the final ballot log as no. {number}.").format(
                        code=shown, number=(verdict.log_index or 0) + 1
                    )
                else:
                    text = _("PROBLEM with ballot {code}: {problem}").format(
                        code=shown, problem=verdict.problem
                    )
                    if verdict.evidence:
                        text += " " + _(RECEIPT_EVIDENCE_TEXT)
                results.append(
                    {
                        "verification_code": shown,
                        "ok": verdict.problem is None,
                        "log_index": verdict.log_index,
                        "text": text,
                    }
                )
            bad = sum(1 for r in results if not r["ok"])
            summary = (
                ngettext(
                    "{bad} of your receipts does not match the final record.",
                    "{bad} of your receipts do not match the final record.",
                    bad,
                ).format(bad=bad)
                if bad
                else ngettext(
                    "All your receipts are in the final record ({count} ballot).",
                    "All your receipts are in the final record ({count} ballots).",
                    published.head.size,
                ).format(count=published.head.size)
            )
            return {
                "log_size": published.head.size,
                "receipts": results,
                "ok": not bad,
                "summary": summary,
            }

        return run(step)

    install_check_page(app, client, store, fingerprint, allow_test_key, token, nonce)
    return app


def _choices_view(prepared: PreparedBallot) -> list[dict[str, Any]]:
    district = prepared.election.district(prepared.district)
    return [choice_view(c, prepared.choices[c.id]) for c in district.contests]


def _page_choices(district: District, raw: Any) -> dict[str, Choice]:
    """The choices the page sent, `{contest id: number}` and for a choose-several contest
    `{contest id: [numbers]}`, checked: every contest of the district has a choice, one of
    its options (0 only with a "vote no" box), or marks of distinct candidates as many as the
    contest takes. PageError names the contest otherwise."""
    if not isinstance(raw, dict):
        raise PageError(_("Choose a candidate."))
    choices: dict[str, Choice] = {}
    for contest in district.contests:
        value = raw.get(contest.id)
        if contest.choose_several:
            choices[contest.id] = _page_marks(contest, value)
            continue
        if value is None:
            raise PageError(_choose_in(contest), contest.id)
        if value == VOTE_NO and not contest.vote_no and isinstance(value, int):
            raise PageError(
                _('{contest} has no "vote no" box.').format(contest=contest.name), contest.id
            )
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not any(c.number == value for c in contest.options)
        ):
            raise PageError(
                _("{contest} has no candidate {number}.").format(
                    contest=contest.name, number=value
                ),
                contest.id,
            )
        choices[contest.id] = value
    return choices


def _page_marks(contest: Contest, value: Any) -> frozenset[int]:
    """A choose-several contest's marks from the page: a list of distinct candidate numbers,
    as many as the contest takes (marks.marks_problem, shared with the CLI)."""
    if value is None:
        value = []  # no box ticked
    if not isinstance(value, list):
        raise PageError(_choose_in(contest), contest.id)
    numbers = {c.number for c in contest.candidates}
    for number in value:
        if isinstance(number, bool) or not isinstance(number, int) or number not in numbers:
            raise PageError(
                _("{contest} has no candidate {number}.").format(
                    contest=contest.name, number=number
                ),
                contest.id,
            )
    if len(set(value)) != len(value):
        raise PageError(
            _("{contest}: a candidate is marked twice.").format(contest=contest.name), contest.id
        )
    if problem := marks_problem(contest, len(value)):
        raise PageError(problem, contest.id)
    return frozenset(value)


def _choose_in(contest: Contest) -> str:
    """What the voter is told of a contest left without a choice."""
    if contest.is_referendum:
        return _("Choose an answer in {contest}.").format(contest=contest.name)
    return _("Choose a candidate in {contest}.").format(contest=contest.name)


def _refusal_text(exc: CollectorRefused) -> str:
    """A refusal at a later step (e.g. at Cast), in one line: what happened and what to do."""
    refusal = _refusal(exc.code)
    return f"{refusal['title']}. {refusal['advice']}"


def _close(signer: Signer) -> None:
    if hasattr(signer, "close"):
        signer.close()


def _uploaded_file(body: dict[str, Any], field: str, what: str, limit: int) -> bytes:
    """A file the page sent as base64 in `field`: its bytes, at most `limit`. `what` names
    the file for the voter (already translated)."""
    encoded = body.get(field)
    if not isinstance(encoded, str) or not encoded:
        raise PageError(_("Choose {what}.").format(what=what))
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PageError(_("That file could not be read as {what}.").format(what=what)) from exc
    if len(data) > limit:
        raise PageError(_("That file is too large to be {what}.").format(what=what))
    return data


def _uploaded_record(body: dict[str, Any]) -> Any:
    """The published record the voter chose, parsed."""
    data = _uploaded_file(
        body, "record", _("the published election record (record.json)"), MAX_RECORD_BYTES
    )
    try:
        return parse_canonical(decode_utf8(data, "record"), "record")
    except FormatError as exc:
        raise PageError(
            _("That file is not an election record: {problem}").format(problem=exc)
        ) from exc


def _open_uploaded_eid(body: dict[str, Any], pin: str) -> Signer:
    """The e-ID from the page: a PKCS#12 file's bytes (base64), or a pkcs11: URI."""
    uri = body.get("pkcs11_uri")
    if isinstance(uri, str) and uri.strip():
        from voter_app.eid import open_eid

        if not uri.strip().startswith("pkcs11:"):
            raise PageError(_("A token URI starts with pkcs11:"))
        return open_eid(uri.strip(), pin)
    data = _uploaded_file(body, "eid_file", _("your e-ID file"), MAX_EID_BYTES)
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
