"""Why the collector refuses a request: one code, HTTP status and message per reason.

The codes are part of the API (docs/spec.md, "Collector API"): the voter app shows the message
and may act on the code (fetch a new challenge, tell the voter their certificate is revoked).
"""

from __future__ import annotations

from canonical.encoding import printable

# code -> (HTTP status, what it means); the order of the cast checks is in collector.cast.
CODES: dict[str, tuple[int, str]] = {
    "too_large": (413, "the request is larger than a ballot of this election can be"),
    "malformed": (400, "the ballot does not follow the ballot format"),
    "wrong_election": (400, "the ballot is for another election or manifest"),
    "election_not_open": (403, "voting has not started yet"),
    "election_over": (403, "the voting period is over"),
    "election_closed": (403, "the collector has been closed by the officials"),
    "challenge_unknown": (409, "the challenge was not issued by this collector"),
    "challenge_expired": (409, "the challenge has expired; fetch a new one"),
    "challenge_used": (409, "the challenge was already used by another ballot"),
    "signature_invalid": (403, "the ballot's signature does not verify"),
    "certificate_invalid": (403, "the signing certificate is not valid"),
    "certificate_untrusted": (403, "the signing certificate is not issued by a trusted CA"),
    "certificate_expired": (403, "the signing certificate is expired or not yet valid"),
    "certificate_revoked": (403, "the signing certificate is revoked"),
    "not_eligible": (403, "the voter is not on the voter list"),
    "wrong_district": (403, "the ballot is not for the voter's district"),
    "proof_invalid": (422, "a ciphertext's validity proof does not verify"),
    "ballot_copied": (409, "a ciphertext of this ballot was already cast by another voter"),
    "not_found": (404, "not found"),
    "check_window_over": (403, "the time to check this vote is over"),
    "check_limit_reached": (403, "this vote has been checked as many times as allowed"),
    "bad_request": (400, "the request is not valid"),
    "method_not_allowed": (405, "this method is not allowed on this path"),
    "timeout": (408, "the request did not arrive in time"),
    "unsupported_media_type": (415, "the body must be sent as application/json"),
    "headers_too_large": (431, "the request line and headers are too large"),
    "rate_limited": (429, "too many requests; retry after the time given in Retry-After"),
    "internal": (500, "the collector failed on this request"),
    "unavailable": (503, "the collector cannot take ballots right now"),
}


class Refusal(Exception):
    """A refused request: `code` from CODES, a message for people, the HTTP status."""

    def __init__(
        self, code: str, detail: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        if code not in CODES:
            raise ValueError(f"unknown refusal code {code!r}")
        self.code = code
        self.status, default = CODES[code]
        # the detail may quote the request: short and encodable, whatever was sent
        self.message = f"{default}: {printable(detail, 500)}" if detail else default
        self.headers = headers or {}  # e.g. Retry-After
        super().__init__(f"{code}: {self.message}")

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}
