"""The collector's HTTP/1.1 connections: uvicorn's httptools protocol with a deadline for each
thing the collector waits for from a client, and a cap on the open connections of a worker.

uvicorn alone closes only a connection idle after a response (timeout_keep_alive, cancelled by
the first byte of anything), so a client that trickles its headers or stalls in its body keeps
its connection as long as it likes. Here one clock runs while the collector waits for the
client, and none while the client waits for the collector:

- idle: no request begun (a fresh connection, or one kept alive after a response): closed;
- headers: from a request's first byte to the end of its headers: 408, closed;
- body: from the end of the headers (for a pipelined request, from its turn: uvicorn reads
  nothing more until then) to the end of the body: 408, closed.

Once a request is complete no clock runs, however long its proof checks take, and no 408 is
ever written over a response. The 408 is the collector's JSON refusal with Connection: close;
the connection is then half-closed and drained for a moment, so that bytes the client is still
sending do not make the kernel reset the connection before the client has read the answer.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import resource
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from canonical.encoding import canonical_bytes
from collector.connections import ConnectionLimits
from collector.errors import Refusal

log = logging.getLogger("ivote.collector.connections")

LINGER_S = 2.0  # how long a timed-out connection is drained before it is closed
REFUSALS_LOG_EVERY_S = 10.0  # at most one line this often about connections over the cap
# File descriptors a worker needs besides its connections: the listening sockets it inherits
# (one per worker), the database pool, logs.
RESERVED_FILES = 256


class _Phase(enum.Enum):
    """Where the parser is in the client's bytes."""

    BETWEEN = "between requests"
    HEADERS = "in a request's headers"
    BODY = "in a request's body"


class _Clock(enum.Enum):
    IDLE = "idle"
    HEADERS = "headers"
    BODY = "body"


@dataclass
class _Refusals:
    """Connections refused at the cap since the last line about them (one line per while: a
    flood must not flood the log too)."""

    count: int = 0
    logged_at: float = float("-inf")


_refusals = _Refusals()


def refusal_bytes(refusal: Refusal, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A whole HTTP/1.1 response with the refusal as the app writes it (collector.app), for
    answers the protocol gives without the app: Connection: close, the connection ends."""
    body = canonical_bytes({"detail": refusal.to_dict()})
    head = [STATUS_LINE[refusal.status]]
    for name, value in default_headers:  # Date and Server, as on the app's responses
        head.extend([name, b": ", value, b"\r\n"])
    head.extend(
        [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
    )
    return b"".join(head) + body


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's HttpToolsProtocol with the deadlines and the cap of `limits` (the subclass
    that `http_protocol` makes)."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.app = self._quiet_after_timeout(self.app)
        self._phase = _Phase.BETWEEN
        self._clock: _Clock | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._finished = False  # answered without the app (408, 431, 503): no more requests here
        self._header_bytes = 0  # of the request head being parsed

    # the connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse()
            return
        self._run_clock(restart=True)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_clock()
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._finished:
            return  # drained, not parsed: this connection's answer is written
        super().data_received(data)
        # A head still unfinished may not grow past the limit (so a head is at most the limit
        # and one read).
        limit = self.limits.max_header_bytes
        if self._phase is _Phase.HEADERS and not self._finished and self._header_bytes > limit:
            log.info("request head over %d bytes: answered 431, closing", limit)
            self._answer(Refusal("headers_too_large", f"more than {limit} bytes"))
            self.transport.close()

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown closes idle connections and waits for responses; a
        request whose body is still arriving would hold it until uvicorn cancels the app, with
        a traceback. It is answered 503 at once instead."""
        cycle = self.cycle
        if (
            self._phase is _Phase.BODY
            and not self._finished
            and not self.transport.is_closing()
            and not cycle.response_started
            and not any(queued is cycle for queued, _ in self.pipeline)
        ):
            self._stop_clock()
            cycle.disconnected = True
            cycle.message_event.set()
            self._answer(Refusal("unavailable", "the collector is shutting down"))
            self.transport.close()
            return
        super().shutdown()

    # the parser's and the response's steps, each of which may start or stop a clock

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = _Phase.HEADERS
        self._header_bytes = 0
        self._run_clock(restart=True)

    def on_url(self, url: bytes) -> None:
        self._header_bytes += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._phase = _Phase.BODY
        self._run_clock(restart=True)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._phase = _Phase.BETWEEN
        self._run_clock(restart=True)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._unset_keepalive_if_required()  # the idle clock replaces uvicorn's keep-alive timer
        self._run_clock(restart=False)

    # the clocks

    def _wanted_clock(self) -> _Clock | None:
        """The clock that should run now: none while the collector owes a response."""
        if self._finished or self.transport.is_closing():
            return None
        cycle = self.cycle
        if self._phase is _Phase.BODY:
            if any(queued is cycle for queued, _ in self.pipeline):
                return None  # uvicorn reads no more of a pipelined request until its turn
            if cycle.response_started and not cycle.response_complete:
                return None  # the app answers early, without the whole body: let it finish
            return _Clock.BODY
        if cycle is not None and not cycle.response_complete:
            return None  # the app works on a complete request (the last one parsed)
        return _Clock.HEADERS if self._phase is _Phase.HEADERS else _Clock.IDLE

    def _run_clock(self, restart: bool) -> None:
        wanted = self._wanted_clock()
        if not restart and wanted is self._clock and self._timer is not None:
            return  # e.g. a body still arriving after an early answer: the same deadline
        self._stop_clock()
        if wanted is None:
            return
        self._clock = wanted
        self._timer = self.loop.call_later(self._seconds(wanted), self._expired, wanted)

    def _stop_clock(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._clock = None

    def _seconds(self, clock: _Clock) -> float:
        if clock is _Clock.IDLE:
            return self.limits.idle_timeout_s
        if clock is _Clock.HEADERS:
            return self.limits.header_timeout_s
        return self.limits.body_timeout_s

    def _expired(self, clock: _Clock) -> None:
        self._timer = None
        self._clock = None
        if self._finished or self.transport.is_closing():
            return
        seconds = self._seconds(clock)
        if clock is _Clock.IDLE:
            log.debug("connection idle for %gs: closed", seconds)
            self.transport.close()
            return
        cycle = self.cycle
        if clock is _Clock.BODY and cycle.response_started:
            # The app answered without reading the whole body; its answer stands, and the
            # connection ends with it rather than wait for the rest.
            if cycle.response_complete:
                self.transport.close()
            else:
                cycle.keep_alive = False
            return
        what = clock.value
        # One line per timed-out connection: for a body, the app's (collector.app logs the
        # client it hears gone as one warning), else this one.
        level = logging.INFO
        if clock is _Clock.BODY:
            # The app, if it waits for the body, hears that the client is gone; whatever it
            # sends now is dropped (uvicorn writes nothing for a disconnected cycle).
            cycle.disconnected = True
            cycle.message_event.set()
            # for the app's one line: a timeout, not a client that left
            cycle.scope.setdefault("state", {})["timed_out"] = seconds
            level = logging.DEBUG
        log.log(level, "request %s not complete within %gs: answered 408, closing", what, seconds)
        self._answer(Refusal("timeout", f"the request's {what} did not arrive within {seconds:g}s"))
        self.flow.resume_reading()  # to drain what the client still sends
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self._linger = self.loop.call_later(LINGER_S, self.transport.close)
        else:
            self.transport.close()

    # answers without the app

    def send_400_response(self, msg: str) -> None:
        # What httptools cannot parse: uvicorn (which has logged it) would answer in text/plain.
        self._answer(Refusal("bad_request", "not an HTTP/1.1 request"))
        self.transport.close()

    def _answer(self, refusal: Refusal) -> None:
        self._finished = True
        self._stop_clock()
        self.transport.write(refusal_bytes(refusal, self.server_state.default_headers))

    def _refuse(self) -> None:
        """A connection over the cap: 503 (read by the client if it reads before it writes, a
        reset otherwise) and closed at once, for the cap to shed load."""
        self._answer(Refusal("unavailable", "too many open connections; try again"))
        self.transport.close()
        _refusals.count += 1
        now = self.loop.time()
        if now - _refusals.logged_at >= REFUSALS_LOG_EVERY_S:
            log.warning(
                "refusing connections: this worker has the most it takes open, %d "
                "(--max-connections); %d refused since this was last said",
                self.limits.max_connections,
                _refusals.count,
            )
            _refusals.count = 0
            _refusals.logged_at = now

    def _quiet_after_timeout(self, app: Callable[..., Any]) -> ASGIApp:
        """The app as this connection runs it. A request this protocol answered itself (408,
        or 503 when stopping) while the app waited for its body ends in the app as starlette's
        ClientDisconnect. collector.app logs that as one warning; an app that let it through
        would have uvicorn log it as an error with a traceback, for a request already answered."""

        async def app_of_this_connection(scope: Scope, receive: Receive, send: Send) -> None:
            try:
                await app(scope, receive, send)
            except ClientDisconnect:
                if not self._finished:
                    raise

        return app_of_this_connection


def http_protocol(limits: ConnectionLimits) -> type[LimitedHttpProtocol]:
    """The protocol class to give uvicorn.Config(http=...), with `limits`."""
    return type("CollectorHttpProtocol", (LimitedHttpProtocol,), {"limits": limits})


def fit_open_files(limits: ConnectionLimits) -> ConnectionLimits:
    """`limits` within this process's limit on open files, raised first (up to the hard limit)
    if it is too low. Past it, accept() fails, and the event loop logs an error and stops
    accepting anything for a second: the cap must come first."""
    needed = limits.max_connections + RESERVED_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return limits
    raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if raised > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
        soft = raised
    if soft >= needed:
        return limits
    fitting = max(1, soft - RESERVED_FILES)
    log.warning(
        "open files are limited to %d (ulimit -n): at most %d connections per worker, not %d",
        soft,
        fitting,
        limits.max_connections,
    )
    return replace(limits, max_connections=fitting)
