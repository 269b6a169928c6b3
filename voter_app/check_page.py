"""The check page of `ivote vote app`: /check, where the voter types or pastes the check code
from the voting device, and its API route POST /api/check.

The page (templates/check.html) checks the code's form and checksum itself, so a typing
mistake is refused before any request; the API parses it again and runs the vote check
(voter_app.check) against the collector and the election this app trusts (its --fingerprint,
or the one pinned for the collector). web.py's guard applies: /api/check needs the page's
token and a local Host, and every request is answered in the language it asks for.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from canonical.encoding import FormatError
from crypto.errors import CryptoError
from i18n import N_, _, format_datetime
from voter_app import code as code_texts
from voter_app.check import CheckRefused, check_vote
from voter_app.code import GROUP, TEXT_LENGTH, CheckCode, CodeError
from voter_app.marks import choice_view
from voter_app.pages import render
from voter_app.store import VoterStore
from voter_app.transport import CollectorClient, CollectorUnreachable, VoterAppError
from voter_app.voting import Election, fetch_election

NOT_TRUSTED = N_(
    "This app does not trust an election at this collector yet. Open the voting page once and "
    "confirm the election's fingerprint, or start the app with --fingerprint."
)
UNREACHABLE = N_(
    "The collector cannot be reached. Check your internet connection and try again in a few "
    "minutes."
)
FAILED = N_(
    "The check failed: {problem}. Nothing is wrong with your code; tell the election "
    "officials what this page says."
)


def page_texts() -> dict[str, str]:
    """The texts the page's script shows, in the request's language."""
    return {
        "empty": _(code_texts.EMPTY),
        "characters": _(code_texts.CHARACTERS),
        "too_short": _(code_texts.TOO_SHORT).format(count=TEXT_LENGTH),
        "too_long": _(code_texts.TOO_LONG).format(count=TEXT_LENGTH),
        "checksum": _(code_texts.TYPO),
        "version": _(code_texts.UNSUPPORTED),
        "checking": _("Checking your vote with the collector…"),
        "checked": _("Checked: the result is below."),
        "latest": _("This is your latest ballot: it is the one that counts now."),
        "not_latest": _(
            "This is NOT your latest ballot: a newer ballot signed with your e-ID was received "
            "{time} and counts instead. If you did not cast it, tell the election officials."
        ),
        "network": _(UNREACHABLE),
    }


def install_check_page(
    app: FastAPI,
    client: CollectorClient,
    store: VoterStore,
    fingerprint: str | None,
    allow_test_key: bool,
    token: str,
    nonce: str,
) -> None:
    """Add /check and POST /api/check to the voter app."""
    lock = threading.Lock()  # one check at a time: the collector counts each one
    trusted: list[Election] = []

    def election() -> Election:
        if not trusted:
            pinned = store.pin_for(client.base_url)
            if fingerprint is None and pinned is None:
                raise VoterAppError(_(NOT_TRUSTED))
            trusted.append(
                fetch_election(client, store, fingerprint, allow_test_key=allow_test_key)
            )
        return trusted[0]

    @app.get("/check", response_class=HTMLResponse)
    def check_page() -> HTMLResponse:
        return HTMLResponse(
            render(
                "check.html",
                token=token,
                nonce=nonce,
                texts=page_texts(),
                code_length=TEXT_LENGTH,
                group=GROUP,
            )
        )

    @app.post("/api/check")
    def check_api(body: dict[str, Any]) -> JSONResponse:
        text = body.get("code")
        try:
            code = CheckCode.parse(text if isinstance(text, str) else "")
        except CodeError as exc:
            return _refused(exc.reason, str(exc))
        with lock:
            try:
                result = check_vote(client, election(), code)
            except CheckRefused as exc:
                return _refused(exc.reason, str(exc))
            except CollectorUnreachable:
                return _refused("unreachable", _(UNREACHABLE))
            except (VoterAppError, FormatError, CryptoError) as exc:
                return _refused("failed", _(FAILED).format(problem=exc))
        manifest = result.election.manifest
        voter = result.voter
        newer = result.newer
        return JSONResponse(
            {
                "election": str(manifest.name),
                "district": str(result.district.name),
                "voter": f"{voter.given_name} {voter.surname} ({voter.personal_code})",
                "choices": [
                    choice_view(contest, result.choices[contest.id])
                    for contest in result.district.contests
                ],
                "received": format_datetime(result.received),
                "log_index": result.receipt.log_index,
                "verification_code": result.verification_code,
                "latest": newer is None,
                "newer_received": None
                if newer is None
                else format_datetime(_moment(newer.received)),
            }
        )


def _moment(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def _refused(reason: str, message: str) -> JSONResponse:
    return JSONResponse({"reason": reason, "message": message}, status_code=400)
