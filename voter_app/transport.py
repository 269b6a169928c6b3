"""Talking to the collector over HTTP: JSON in and out, retries with backoff on transient failures.

Only failures that say nothing about the request are retried (connection refused or reset,
timeouts, 502/503/504, 429). A resend carries the same bytes: for a cast that is the same signed
ballot, which the collector recognises and answers with the same receipt, so a retry never makes
a second log entry. Every refusal is a `CollectorRefused` that keeps the collector's error code
and message for the voter.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from canonical.encoding import FormatError, canonical_bytes, parse_canonical
from i18n import _

RETRY_STATUSES = {429, 502, 503, 504}
# A collector that asks (Retry-After) to wait longer than this is not waited for: the voter is
# told to try again later.
MAX_RETRY_AFTER_S = 30
# Responses larger than this are not a collector's answer (the largest is a stored ballot).
MAX_RESPONSE_BYTES = 8 * 1024 * 1024


class VoterAppError(Exception):
    """An error the voter app reports to the voter as one clear message."""


class CollectorUnreachable(VoterAppError):
    """The collector did not answer after every retry."""


class CollectorRefused(VoterAppError):
    """The collector answered with an error: `status`, its error `code` and `message`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(
            _("the collector refused: {message} ({code}, HTTP {status})").format(
                message=message, code=code, status=status
            )
        )
        self.status = status
        self.code = code
        self.message = message


class CollectorMisbehaved(VoterAppError):
    """The collector answered something that is not what the protocol allows."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: retry k waits between half and all of
    min(cap, base * 2^k) seconds."""

    attempts: int = 6
    base_s: float = 0.25
    cap_s: float = 8.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap_s, self.base_s * (2**attempt))
        # secrets, not random: the project draws every random value from one source
        return ceiling * (0.5 + secrets.randbelow(1000) / 2000)


def _error_fields(response: httpx.Response) -> tuple[str, str]:
    """The collector's error code and message, from its JSON error body when there is one."""
    try:
        body = response.json()
    except ValueError:
        return f"http_{response.status_code}", response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        detail = body.get("detail", body)
        if isinstance(detail, dict):
            code = detail.get("code") or detail.get("error") or f"http_{response.status_code}"
            message = detail.get("message") or detail.get("detail") or str(detail)
            return str(code), str(message)
        if isinstance(detail, str):
            code = body.get("code") or body.get("error") or f"http_{response.status_code}"
            return str(code), detail
        if isinstance(detail, list):  # FastAPI's request validation errors
            return "invalid_request", "; ".join(str(item.get("msg", item)) for item in detail)
    return f"http_{response.status_code}", str(body)[:200]


def _retry_after(response: httpx.Response) -> float:
    """Retry-After in seconds (0 when absent or not a number of seconds)."""
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else 0.0


class CollectorClient:
    """A client of one collector's /v1 API. `sleep` is injectable so tests need not wait."""

    def __init__(
        self,
        base_url: str,
        retry: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[int, str], None] | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise VoterAppError(
                _("collector URL {url!r} must start with http:// or https://").format(url=base_url)
            )
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.on_retry = on_retry
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CollectorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Send one request (retrying transient failures with the same bytes); the parsed JSON."""
        content = None if body is None else canonical_bytes(body)
        headers = {"content-type": "application/json"} if content is not None else {}
        problem = ""
        asked_wait = 0.0  # the collector's Retry-After
        for attempt in range(self.retry.attempts):
            if attempt:
                if self.on_retry:
                    self.on_retry(attempt, problem)
                self.sleep(max(self.retry.delay(attempt - 1), asked_wait))
            try:
                response = self._http.request(method, path, content=content, headers=headers)
            except httpx.TransportError as exc:
                problem = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
                continue
            if response.status_code in RETRY_STATUSES:
                problem = f"HTTP {response.status_code}"
                asked_wait = _retry_after(response)
                if asked_wait > MAX_RETRY_AFTER_S:
                    code, message = _error_fields(response)
                    raise CollectorRefused(response.status_code, code, message)
                continue
            if len(response.content) > MAX_RESPONSE_BYTES:
                raise CollectorMisbehaved(
                    _("the collector's answer to {path} is too large").format(path=path)
                )
            if response.status_code >= 400:
                code, message = _error_fields(response)
                raise CollectorRefused(response.status_code, code, message)
            try:
                return parse_canonical(response.content, f"collector answer to {path}")
            except FormatError as exc:
                raise CollectorMisbehaved(str(exc)) from exc
        raise CollectorUnreachable(
            _(
                "the collector at {url} could not be reached after {attempts} attempts "
                "({problem}); try again later"
            ).format(url=self.base_url, attempts=self.retry.attempts, problem=problem)
        )

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        if params:
            path = str(httpx.URL(path, params=params))
        return self.request("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, body)
